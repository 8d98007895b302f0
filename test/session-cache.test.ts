import path from 'node:path';

import { DeviceUnavailableError } from '../src/errors';
import { loadOrt } from '../src/inference/runtime';
import { openSession, SessionCache } from '../src/inference/session-cache';
import { MODELS } from './helpers/fixtures';

const W2V = path.join(MODELS, 'tiny-wav2vec2', 'onnx', 'model.onnx');
const AST = path.join(MODELS, 'tiny-ast', 'onnx', 'model.onnx');
const WHISPER = path.join(MODELS, 'tiny-whisper', 'onnx', 'model.onnx');

async function runsOk(session: import('onnxruntime-node').InferenceSession): Promise<boolean> {
	const ort = loadOrt();
	try {
		await session.run({ input_values: new ort.Tensor('float32', new Float32Array(16000), [1, 16000]) });
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
