/**
 * n8n's official Docker image is Alpine (musl): onnxruntime-node's glibc
 * binary cannot load there. Simulated in a child process whose native binding
 * fails with the musl loader's error text (scripts/e2e/simulate-musl.js, in
 * the main thread and in ONNX Runtime's thread): the node must still load,
 * `auto` must run the model on the WebAssembly build (same scores, saying why
 * and what is faster), and `native` must explain what to do. Runs the built
 * package (dist/), as n8n would.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

import { expected } from './helpers/fixtures';

const ROOT = path.join(__dirname, '..');
const built = existsSync(path.join(ROOT, 'dist', 'src', 'index.js'));
if (!built) console.log('SKIPPED runtime-missing: dist/ not built (npm test builds it)');

const SCRIPT = `
const path = require('node:path');
const { readFileSync } = require('node:fs');
const root = process.env.ROOT;
const engine = require(path.join(root, 'dist', 'src'));
const { AudioClassification } = require(path.join(root, 'dist', 'nodes', 'AudioClassification', 'AudioClassification.node.js'));
(async () => {
  const out = { nodeName: new AudioClassification().description.name };
  const spec = engine.loadModelSpec(path.join(root, 'test', 'fixtures', 'models', 'tiny-wav2vec2'), 'auto');
  const clip = readFileSync(path.join(root, 'test', 'fixtures', 'audio', 'speech-16k-mono-s16.wav'));
  const auto = await engine.classifyAudio(clip, spec, { topK: 0, functionToApply: 'softmax', device: 'cpu' });
  out.auto = { backend: auto.backend, fallbackReason: auto.fallbackReason, labels: auto.labels };
  try {
    await engine.classifyAudio(clip, spec, { topK: 1, functionToApply: 'auto', device: 'cpu', backend: 'native' });
  } catch (e) {
    out.native = { name: e.constructor.name, message: e.message, hint: e.hint };
  }
  await engine.sessionCache.clear();
  process.stdout.write('RESULT ' + JSON.stringify(out) + '\\n');
})().catch((e) => { console.error(e); process.exit(1); });
`;

(built ? describe : describe.skip)('where onnxruntime-node cannot load (Alpine/musl, simulated)', () => {
	let result: {
		nodeName: string;
		auto: { backend: string; fallbackReason: string; labels: Array<{ label: string; score: number }> };
		native: { name: string; message: string; hint: string };
	};
	beforeAll(() => {
		const out = execFileSync(process.execPath, ['--require', path.join(ROOT, 'scripts', 'e2e', 'simulate-musl.js'), '-e', SCRIPT], {
			env: { ...process.env, ROOT },
			encoding: 'utf8',
		});
		result = JSON.parse(out.split('\n').find((l) => l.startsWith('RESULT '))!.slice(7));
	}, 120_000);

	it('the node module loads without ONNX Runtime', () => {
		expect(result.nodeName).toBe('audioClassification');
	});

	it('Backend auto runs the model on WebAssembly, with the same scores, and says why', () => {
		expect(result.auto.backend).toBe('wasm');
		expect(result.auto.fallbackReason).toMatch(/ONNX Runtime could not be loaded: Error relocating.*WebAssembly.*Debian/);
		const want = expected.scores['speech-16k-mono-s16.wav']['tiny-wav2vec2'];
		for (const { label, score } of result.auto.labels) {
			expect(score).toBeCloseTo(want[expected.labels.emotions.indexOf(label)], 4);
		}
	});

	it('Backend native explains the Alpine/musl problem and the fix', () => {
		expect(result.native.name).toBe('DeviceUnavailableError');
		expect(result.native.message).toMatch(/ONNX Runtime could not be loaded/);
		expect(result.native.hint).toMatch(/Alpine \(musl\).*Debian/);
	});
});
