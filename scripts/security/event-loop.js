#!/usr/bin/env node
// How long the engine holds n8n's event loop, measured where n8n runs it: a
// plain Node process on the built package (not jest, whose module sandbox adds
// pauses of its own), each case in fresh processes (the first file of a
// process runs the decoders' code cold, the worst case). Prints, per case, the
// longest event-loop delay (perf_hooks.monitorEventLoopDelay, 10 ms resolution)
// as the median and the worst of --runs processes, against the target.
//   npm run build && node scripts/security/event-loop.js [--runs 3] [--limit 150] [--only opus,m4a]
// Target: no block over 100 ms (the Audio Event Trigger runs in the process
// that serves the editor and every webhook). Exits 1 when a case's median is
// over --limit (the target plus a margin for a busy CI machine; the hostile
// corpus keeps the 250 ms it had): a bound in a jest test failed on an idle
// machine here (271 and 278 ms against 250).
'use strict';
const { execFileSync } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const path = require('node:path');

const { median } = require('../lib/bench');

const ROOT = path.join(__dirname, '..', '..');
const DIST = path.join(ROOT, 'dist', 'src');
const TARGET_MS = 100;

function option(name, fallback) {
	const i = process.argv.indexOf(`--${name}`);
	return i > 0 ? process.argv[i + 1] : fallback;
}

const FORMATS = [
	['opus', 'Ogg/Opus 24 kb/s, 48 kHz', ['-f', 'lavfi', '-i', 'sine=f=440:r=48000', '-c:a', 'libopus', '-b:a', '24k'], 'long.opus'],
	['webm', 'WebM/Opus 24 kb/s', ['-f', 'lavfi', '-i', 'sine=f=440:r=48000', '-c:a', 'libopus', '-b:a', '24k'], 'long.webm'],
	['m4a', 'M4A/AAC 64 kb/s, 44.1 kHz', ['-f', 'lavfi', '-i', 'sine=f=440:r=44100', '-c:a', 'aac', '-b:a', '64k'], 'long.m4a'],
	['caf', 'CAF/Opus 24 kb/s, 48 kHz (iMessage)', ['-f', 'lavfi', '-i', 'sine=f=440:r=48000', '-c:a', 'libopus', '-b:a', '24k'], 'long.caf'],
	['caf-alac', 'CAF/ALAC 44.1 kHz', ['-f', 'lavfi', '-i', 'sine=f=440:r=44100', '-c:a', 'alac'], 'long-alac.caf'],
	['mp3', 'MP3 128 kb/s, 44.1 kHz', ['-f', 'lavfi', '-i', 'sine=f=440:r=44100', '-c:a', 'libmp3lame'], 'long.mp3'],
	['flac', 'FLAC 44.1 kHz', ['-f', 'lavfi', '-i', 'sine=f=440:r=44100', '-c:a', 'flac'], 'long.flac'],
	['vorbis', 'Ogg/Vorbis 44.1 kHz', ['-f', 'lavfi', '-i', 'sine=f=440:r=44100', '-c:a', 'libvorbis'], 'long.ogg'],
];

/** One decode of `file` in this fresh process, with the delay monitor on. */
const DECODE_CHILD = `
const { monitorEventLoopDelay } = require('node:perf_hooks');
const { decodeAudio } = require(process.env.EL_DIST + '/audio/decode.js');
(async () => {
  const bytes = require('node:fs').readFileSync(process.env.EL_FILE);
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const r = await decodeAudio(bytes, { samplingRate: 16000, decoder: 'builtIn' });
  h.disable();
  console.log('RESULT ' + JSON.stringify({ maxDelayMs: h.max / 1e6, duration: r.duration, decoder: r.decoder }));
})().catch((e) => { console.error(e); process.exit(1); });`;

/** Ten minutes of 44.1 kHz stereo WAV (the largest the default limit allows) through a model, load included. */
const WAV_CHILD = `
const { monitorEventLoopDelay } = require('node:perf_hooks');
const e = require(process.env.EL_DIST);
const { longStereoWav } = require(process.env.EL_BAD_INPUTS);
(async () => {
  const big = longStereoWav(600);
  let spec;
  if (process.env.EL_MODEL_DIR) spec = e.loadModelSpec(process.env.EL_MODEL_DIR, 'auto');
  else {
    const { dir, model } = e.resolveBuiltIn('speech-commands-dscnn');
    spec = e.loadModelSpec(dir, 'auto', model.id);
  }
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const r = await e.classifyAudio(big, spec, { topK: 1, functionToApply: 'softmax', device: 'cpu' });
  h.disable();
  await e.sessionCache.clear();
  console.log('RESULT ' + JSON.stringify({ maxDelayMs: h.max / 1e6, duration: r.duration, decoder: 'wav' }));
})().catch((e) => { console.error(e); process.exit(1); });`;

function runChild(args, env) {
	const out = execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, EL_DIST: DIST, ...env } });
	const line = out.split('\n').find((l) => l.startsWith('RESULT '));
	if (!line) throw new Error(`no result from ${args.join(' ')}`);
	return JSON.parse(line.slice(7));
}

function main() {
	const runs = Number(option('runs', '3'));
	const limit = Number(option('limit', '150'));
	const only = option('only', '')
		.split(',')
		.filter(Boolean);
	const wanted = (id) => only.length === 0 || only.includes(id);
	const dir = mkdtempSync(path.join(tmpdir(), 'event-loop-'));
	const rows = [];
	try {
		const cases = [];
		for (const [id, label, input, file] of FORMATS) {
			if (!wanted(id)) continue;
			const target = path.join(dir, file);
			execFileSync('ffmpeg', ['-loglevel', 'error', '-y', ...input, '-t', '300', target]);
			cases.push({ id, label: `5-min ${label}, decoded`, run: () => runChild(['-e', DECODE_CHILD], { EL_FILE: target }) });
		}
		if (wanted('wav')) {
			cases.push({
				id: 'wav',
				label: '10-min 44.1 kHz stereo WAV, classified (built-in model, load included)',
				run: () => runChild(['-e', WAV_CHILD], { EL_BAD_INPUTS: path.join(__dirname, 'bad-inputs.js') }),
			});
		}
		if (wanted('ast')) {
			cases.push({
				id: 'ast',
				label: 'the same WAV through an AST (test/fixtures/models/tiny-ast: spectrogram features, load included)',
				run: () =>
					runChild(['-e', WAV_CHILD], {
						EL_BAD_INPUTS: path.join(__dirname, 'bad-inputs.js'),
						EL_MODEL_DIR: path.join(ROOT, 'test', 'fixtures', 'models', 'tiny-ast'),
					}),
			});
		}
		if (wanted('hostile')) {
			cases.push({
				id: 'hostile',
				// Pathological inputs (decompression bombs, header lies, 55 cases in one process): its own
				// bound stays the 250 ms it had in jest; measured 78-148 ms here.
				limit: 250,
				label: 'the hostile-input corpus through the node (scripts/security/hostile-corpus.js)',
				run: () => runChild([path.join(__dirname, 'hostile-corpus.js'), '--json'], {}),
			});
		}
		for (const c of cases) {
			const delays = [];
			for (let r = 0; r < runs; r++) delays.push(c.run().maxDelayMs);
			const row = { id: c.id, label: c.label, medianMs: median(delays), worstMs: Math.max(...delays), runs: delays, limit: c.limit ?? limit };
			rows.push(row);
			console.log(
				`${c.id.padEnd(8)} median ${row.medianMs.toFixed(0).padStart(4)} ms, worst ${row.worstMs.toFixed(0).padStart(4)} ms ` +
					`(${delays.map((d) => d.toFixed(0)).join(', ')})  ${c.label}`,
			);
		}
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
	const over = rows.filter((r) => r.medianMs > r.limit);
	const overTarget = rows.filter((r) => r.worstMs > TARGET_MS);
	console.log(
		`longest event-loop block: target ${TARGET_MS} ms; ${overTarget.length ? `over it in some run: ${overTarget.map((r) => r.id).join(', ')}` : 'every run met it'}; ` +
			`this check fails when a case's median is over ${limit} ms (the hostile corpus: 250 ms)`,
	);
	if (process.argv.includes('--json')) console.log('RESULT ' + JSON.stringify(rows));
	if (over.length) {
		console.error(`event-loop check FAILED: ${over.map((r) => `${r.id} ${r.medianMs.toFixed(0)} ms`).join(', ')}`);
		process.exit(1);
	}
}

main();
