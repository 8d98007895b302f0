/**
 * The helper thread for spectrogram features (src/features/parallel.ts) gives
 * exactly the numbers one thread gives. It runs only from the compiled
 * package (dist/, as n8n loads it), so this compares two plain Node processes
 * over dist/: one with the helper, one with N8N_AUDIO_CLASSIFICATION_FEATURE_THREAD=0.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const DIST = path.join(__dirname, '..', 'dist', 'src');

const SCRIPT = `
const { getFeatureExtractor } = require(${JSON.stringify(path.join(DIST, 'features'))});
const { helperFree, helperRuns } = require(${JSON.stringify(path.join(DIST, 'features', 'parallel'))});
const { createHash } = require('node:crypto');
const off = process.env.N8N_AUDIO_CLASSIFICATION_FEATURE_THREAD === '0';
const wave = (n, rate) => Float32Array.from({ length: n }, (_, i) => 0.3 * Math.sin((2 * Math.PI * 440 * i) / rate) + 0.05 * Math.sin(i * 1.7) + 0.1 * Math.sin(i * 0.0013));
const cases = [
  ['ASTFeatureExtractor', wave(160000, 16000), {}],
  ['ASTFeatureExtractor', wave(47000, 16000), {}],
  ['WhisperFeatureExtractor', wave(160000, 16000), {}],
  ['ClapFeatureExtractor', wave(480000, 48000), { truncation: 'rand_trunc', padding: 'repeatpad' }],
  ['ClapFeatureExtractor', wave(700000, 48000), { truncation: 'fusion', padding: 'repeatpad' }],
];
// The helper starts after a few long extractions; then wait for it by its state (a busy machine starts threads late).
const ready = async () => { for (let i = 0; i < 1000 && !off && !helperFree(); i++) await new Promise((r) => setTimeout(r, 10)); };
(async () => {
  const out = [];
  for (let i = 0; i < 4; i++) getFeatureExtractor('ASTFeatureExtractor').extract(cases[0][1], {});
  for (const [type, samples, config] of cases) {
    const e = getFeatureExtractor(type);
    e.extract(samples, config);
    await ready();
    const tensors = e.extract(samples, config);
    const h = createHash('sha256');
    for (const name of Object.keys(tensors).sort()) h.update(Buffer.from(tensors[name].data.buffer, tensors[name].data.byteOffset, tensors[name].data.byteLength));
    out.push(h.digest('hex'));
  }
  console.log(JSON.stringify({ digests: out, helperRuns: helperRuns() }));
})();`;

function run(env: Record<string, string>): { digests: string[]; helperRuns: number } {
	const stdout = execFileSync(process.execPath, ['-e', SCRIPT], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
	return JSON.parse(stdout.trim().split('\n').pop()!);
}

describe('spectrogram features on two threads', () => {
	it('AST, Whisper and CLAP (both truncations) give exactly the single-thread numbers', () => {
		const alone = run({ N8N_AUDIO_CLASSIFICATION_FEATURE_THREAD: '0' });
		const shared = run({});
		expect(alone.helperRuns).toBe(0);
		expect(shared.helperRuns).toBeGreaterThanOrEqual(3); // the long cases: AST 10 s, Whisper, CLAP (the 3 s AST clip is under MIN_FRAMES)
		expect(shared.digests).toEqual(alone.digests);
	}, 180_000);

	it('an extraction stopped half-way (the execution cancelled) leaves the helper free for the next one', () => {
		const script = `
const { getFeatureExtractor } = require(${JSON.stringify(path.join(DIST, 'features'))});
const { helperFree, helperRuns } = require(${JSON.stringify(path.join(DIST, 'features', 'parallel'))});
const { Slicer, runSliced } = require(${JSON.stringify(path.join(DIST, 'util', 'slicer'))});
const samples = Float32Array.from({ length: 160000 }, (_, i) => Math.sin(i * 0.01));
const ast = getFeatureExtractor('ASTFeatureExtractor');
// Waits for the helper by its state, not by a delay (a busy machine starts threads late).
const until = async (ok) => { for (let i = 0; i < 1000 && !ok(); i++) await new Promise((r) => setTimeout(r, 10)); };
(async () => {
  for (let i = 0; i < 4; i++) ast.extract(samples, {}); // the helper starts after a few long extractions
  await until(helperFree);
  const ready = helperFree();
  const stop = new AbortController();
  const cancelled = runSliced(ast.steps(samples, {}), new Slicer(stop.signal, 0)).then(() => 'finished', (e) => e.constructor.name);
  stop.abort();
  const outcome = await cancelled;
  await until(helperFree); // the abandoned half finishes on the helper
  const free = helperFree();
  const before = helperRuns();
  const again = ast.extract(samples, {});
  console.log(JSON.stringify({ outcome, ready, free, used: helperRuns() - before, ok: again.input_values.data.length }));
})();`;
		const r = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 }).trim().split('\n').pop()!);
		expect(r.outcome).toBe('CancelledError');
		expect(r.ready).toBe(true);
		expect(r.free).toBe(true); // an abandoned extraction does not keep the helper
		expect(r.used).toBe(1);
	}, 60_000);
});
