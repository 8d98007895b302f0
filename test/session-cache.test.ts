import { ortSpinning } from '../src/config';
import path from 'node:path';

import { DeviceUnavailableError, GraphMismatchError, ResourceLimitError } from '../src/errors';
import { runClassifier } from '../src/inference/run';
import { clampThreads, modelBytes, openSession, SessionCache } from '../src/inference/session-cache';
import type { RemoteSession } from '../src/inference/worker-host';
import { MODELS } from './helpers/fixtures';

const W2V = path.join(MODELS, 'tiny-wav2vec2', 'onnx', 'model.onnx');
const AST = path.join(MODELS, 'tiny-ast', 'onnx', 'model.onnx');
const WHISPER = path.join(MODELS, 'tiny-whisper', 'onnx', 'model.onnx');

async function runsOk(session: RemoteSession): Promise<boolean> {
	try {
		await session.run({ input_values: { type: 'float32', data: new Float32Array(16000), dims: [1, 16000] } });
		return true;
	} catch {
		return false;
	}
}

describe('SessionCache', () => {
	it('shares one load between concurrent requests for the same model', async () => {
		const cache = new SessionCache(2);
		const seen = await Promise.all(
			[1, 2, 3].map(async () => await cache.use({ onnxPath: W2V, device: 'cpu' }, async (s) => s.session)),
		);
		expect(seen[1]).toBe(seen[0]);
		expect(seen[2]).toBe(seen[0]);
		expect(cache.size).toBe(1);
		await cache.clear();
	});

	it('keys by device and threads, evicts the least recently used and releases it', async () => {
		const cache = new SessionCache(2);
		const first = await cache.use({ onnxPath: W2V, device: 'cpu' }, async (s) => s.session);
		await cache.use({ onnxPath: W2V, device: 'cpu', threads: 1 }, async () => undefined);
		expect(cache.size).toBe(2);
		await cache.use({ onnxPath: AST, device: 'cpu' }, async () => undefined); // evicts `first`
		expect(cache.size).toBe(2);
		await new Promise((r) => setImmediate(r));
		expect(await runsOk(first)).toBe(false); // released
		await cache.clear();
	});

	it('does not release a session that is still running', async () => {
		const cache = new SessionCache(1);
		let release!: () => void;
		const gate = new Promise<void>((r) => (release = r));
		const busy = cache.use({ onnxPath: W2V, device: 'cpu' }, async (s) => {
			await gate;
			return await runsOk(s.session);
		});
		await new Promise((r) => setTimeout(r, 50));
		await cache.use({ onnxPath: WHISPER, device: 'cpu' }, async () => undefined); // evicts W2V while busy
		release();
		expect(await busy).toBe(true);
		await cache.clear();
	});

	it('reuses an evicted session that is still running instead of loading it again', async () => {
		const cache = new SessionCache(1);
		let release!: () => void;
		const gate = new Promise<void>((r) => (release = r));
		let first: RemoteSession | undefined;
		const busy = cache.use({ onnxPath: W2V, device: 'cpu' }, async (s) => {
			first = s.session;
			await gate;
		});
		await new Promise((r) => setTimeout(r, 50));
		await cache.use({ onnxPath: WHISPER, device: 'cpu' }, async () => undefined); // W2V evicted, still busy
		const again = await cache.use({ onnxPath: W2V, device: 'cpu' }, async (s) => s.session);
		expect(again).toBe(first);
		expect(cache.stats).toEqual({ loads: 2, revived: 1 });
		release();
		await busy;
		expect(await runsOk(again)).toBe(true); // revived: not released when the first user finished
		await cache.clear();
	});

	it('keeps the model bytes loaded under its budget, always keeping the one in use', async () => {
		const w2v = modelBytes(W2V);
		const ast = modelBytes(AST);
		expect(w2v).toBeGreaterThan(0);
		const cache = new SessionCache(10, w2v + ast - 1);
		await cache.use({ onnxPath: W2V, device: 'cpu' }, async () => undefined);
		await cache.use({ onnxPath: AST, device: 'cpu' }, async () => undefined); // over budget: W2V goes
		expect(cache.size).toBe(1);
		expect(cache.bytes).toBe(ast);
		const tiny = new SessionCache(10, 1); // smaller than any model: the one in use still loads
		await tiny.use({ onnxPath: W2V, device: 'cpu' }, async (s) => expect(await runsOk(s.session)).toBe(true));
		expect(tiny.size).toBe(1);
		await cache.clear();
		await tiny.clear();
	});

	it('counts external weights in a model\'s size', () => {
		const withData = path.join(MODELS, 'tiny-wavlm-mask', 'onnx', 'model.onnx');
		const { statSync } = jest.requireActual<typeof import('node:fs')>('node:fs');
		expect(modelBytes(withData)).toBe(statSync(withData).size + statSync(`${withData}_data`).size);
	});

	it('bounds Threads by the cores of the machine', () => {
		const cores = require('node:os').availableParallelism();
		expect(clampThreads(2000)).toBe(cores);
		expect(clampThreads(0)).toBe(0);
		expect(clampThreads(-3)).toBe(0);
		expect(clampThreads(1)).toBe(1);
	});
});

describe('errors from ONNX Runtime', () => {
	it('an out-of-memory is reported as such, with what to do, not as a shape mismatch', async () => {
		// ONNX Runtime's own text for a failed allocation; a real one cannot be provoked safely
		// here (Linux overcommits, and the kernel's OOM killer acts before any allocation fails).
		const session = {
			inputNames: ['input_values'],
			outputNames: ['logits'],
			run: async () => {
				throw new Error('Non-zero status code returned while running MatMul node. Status Message: std::bad_alloc');
			},
		} as unknown as RemoteSession;
		const error = await runClassifier(session, { input_values: { type: 'float32', data: new Float32Array(4), dims: [1, 4] } }).catch((e) => e);
		expect(error).toBeInstanceOf(ResourceLimitError);
		expect(error.message).toMatch(/ran out of memory/);
		expect(error.hint).toMatch(/shorter clip|smaller model/);
	});

	it('a real shape mismatch is still reported as one', async () => {
		const loaded = await openSession({ onnxPath: AST, device: 'cpu' });
		const error = await runClassifier(loaded.session, { input_values: { type: 'float32', data: new Float32Array(16000), dims: [1, 16000] } }).catch((e) => e);
		expect(error).toBeInstanceOf(GraphMismatchError);
		await loaded.session.release();
	});
});

describe('devices', () => {
	it('auto falls back to CPU with the reason when no GPU provider loads', async () => {
		const loaded = await openSession({ onnxPath: W2V, device: 'auto' });
		expect(loaded.provider).toBe('cpu');
		expect(loaded.fallbackReason).toMatch(/using CPU/);
		await loaded.session.release();
	});

	it.each(['cuda', 'dml', 'coreml'] as const)('explicit %s that cannot load is a clear error with a fix', async (device) => {
		// CI has no GPU. On a machine where this provider works, name it in
		// TEST_WORKING_DEVICES (e.g. "cuda") and the test checks it loads instead.
		const works = (process.env.TEST_WORKING_DEVICES ?? '').split(',').includes(device);
		const result = await openSession({ onnxPath: W2V, device }).catch((e: unknown) => e);
		if (works) {
			expect(result).toMatchObject({ provider: device });
			return;
		}
		expect(result).toBeInstanceOf(DeviceUnavailableError);
		expect((result as Error).message).toMatch(new RegExp(device.toUpperCase()));
		expect((result as DeviceUnavailableError).hint).toMatch(/CPU/);
	});
});

describe("ONNX Runtime's thread spinning", () => {
	const saved = process.env.N8N_AUDIO_CLASSIFICATION_ORT_SPINNING;
	afterEach(() => {
		if (saved === undefined) delete process.env.N8N_AUDIO_CLASSIFICATION_ORT_SPINNING;
		else process.env.N8N_AUDIO_CLASSIFICATION_ORT_SPINNING = saved;
	});

	it('is off for small models and on for large ones unless the instance says otherwise', () => {
		delete process.env.N8N_AUDIO_CLASSIFICATION_ORT_SPINNING;
		expect(ortSpinning(1.2e6)).toBe(false); // the built-in model
		expect(ortSpinning(360e6)).toBe(true); // a base-size transformer
		process.env.N8N_AUDIO_CLASSIFICATION_ORT_SPINNING = '0';
		expect(ortSpinning(360e6)).toBe(false);
		process.env.N8N_AUDIO_CLASSIFICATION_ORT_SPINNING = '1';
		expect(ortSpinning(1.2e6)).toBe(true);
	});
});
