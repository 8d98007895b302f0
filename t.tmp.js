const e=require('./dist/src');
(async()=>{for (const f of ['/tmp/aac.caf','/tmp/alac.caf','/tmp/opus.caf']) { try { const r=await e.decodeAudio(require('fs').readFileSync(f),{samplingRate:16000}); console.log(f, r.samples.length, r.decoder||r.name);} catch(err){console.log(f, err.constructor.name, err.message, '|', err.hint);} }})();
