/**
 * The WASM backend (onnxruntime-web inside Node) gives the native backend's
 * scores on every fixture model, through the same engine path.
 */
import path from 'node:path';

import { DeviceUnavailableError } from '../src/errors';
import { resolveBackend } from '../src/inference/backends';
import { SessionCache, sessionCache } from '../src/inference/session-cache';
import { resolveBuiltIn } from '../src/model/catalog';
import { loadModelSpec } from '../src/model/spec';
import { classifyAudio } from '../src/pipeline';
import { AUDIO, MODELS, audio } from './helpers/fixtures';

afterAll(async () => sessionCache.clear());

const builtIn = () => {
	const { dir, model } = resolveBuiltIn('speech-commands-dscnn');
	return loadModelSpec(dir, 'auto', model.id);
};

const CASES: Array<[string, () => ReturnType<typeof loadModelSpec>]> = [
	['tiny-wav2vec2', () => loadModelSpec(path.join(MODELS, 'tiny-wav2vec2'), 'auto')],
	['tiny-wavlm-mask (attention_mask, external data)', () => loadModelSpec(path.join(MODELS, 'tiny-wavlm-mask'), 'auto')],
	['tiny-multilabel', () => loadModelSpec(path.join(MODELS, 'tiny-multilabel'), 'auto')],
	['tiny-ast', () => loadModelSpec(path.join(MODELS, 'tiny-ast'), 'auto')],
	['tiny-whisper', () => loadModelSpec(path.join(MODELS, 'tiny-whisper'), 'auto')],
	['tiny-variants q8 (quantized)', () => loadModelSpec(path.join(MODELS, 'tiny-variants'), 'q8')],
	['built-in speech-commands-dscnn', builtIn],
];

describe('WASM backend parity with native', () => {
	it.each(CASES)('%s: same labels, scores within 1e-4', async (_name, spec) => {
		for (const clip of ['speech-16k-mono-s16.wav', 'speech-44k-stereo-s16.wav', 'short-0.3s.wav']) {
			const run = (backend: 'native' | 'wasm') =>
				classifyAudio(audio(clip), spec(), { topK: 0, functionToApply: 'auto', device: 'cpu', backend });
			const native = await run('native');
			const wasm = await run('wasm');
			expect(native.backend).toBe('native');
			expect(wasm.backend).toBe('wasm');
			expect(wasm.provider).toBe('wasm');
			expect(wasm.labels.map((l) => l.label)).toEqual(native.labels.map((l) => l.label));
			for (let i = 0; i < native.labels.length; i++) expect(Math.abs(wasm.labels[i].score - native.labels[i].score)).toBeLessThan(1e-4);
		}
	}, 60_000);
});

describe('choosing a backend', () => {
	it('auto takes native where its binary loads (here)', async () => {
		expect(await resolveBackend('auto')).toEqual({ backend: 'native' });
		expect(await resolveBackend('wasm')).toEqual({ backend: 'wasm' });
	});

	it('keys the session cache by backend', async () => {
		const cache = new SessionCache(4);
		const onnxPath = path.join(MODELS, 'tiny-wav2vec2', 'onnx', 'model.onnx');
		const a = await cache.use({ onnxPath, device: 'cpu', backend: 'native' }, async (s) => s);
		const b = await cache.use({ onnxPath, device: 'cpu', backend: 'wasm' }, async (s) => s);
		const c = await cache.use({ onnxPath, device: 'cpu', backend: 'auto' }, async (s) => s);
		expect(cache.size).toBe(2);
		expect(b.session).not.toBe(a.session);
		expect(c.session).toBe(a.session); // auto resolved to native here
		await cache.clear();
	});

	it('a GPU device with the WASM backend is a clear error', async () => {
		const spec = loadModelSpec(path.join(MODELS, 'tiny-wav2vec2'), 'auto');
		const error = await classifyAudio(audio('speech-16k-mono-s16.wav'), spec, { topK: 1, functionToApply: 'auto', device: 'cuda', backend: 'wasm' }).catch((e) => e);
		expect(error).toBeInstanceOf(DeviceUnavailableError);
		expect(error.message).toMatch(/needs the native ONNX Runtime/);
		expect(AUDIO).toBeTruthy();
	});
});
