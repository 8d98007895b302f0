/**
 * n8n's official Docker image is Alpine (musl): onnxruntime-node's glibc
 * binary cannot load there. Simulated here by making the module throw the
 * loader's musl error: the node must still load, `auto` must run the model on
 * the WebAssembly build instead (saying why, and what is faster), and
 * `native` must explain what to do.
 */
import path from 'node:path';

jest.mock('onnxruntime-node', () => {
	throw new Error('Error relocating /app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1: __memcpy_chk: symbol not found');
});

import { DeviceUnavailableError } from '../src/errors';
import { sessionCache } from '../src/inference/session-cache';
import { loadModelSpec } from '../src/model/spec';
import { classifyAudio } from '../src/pipeline';
import { AUDIO, MODELS, expected } from './helpers/fixtures';
import { readFileSync } from 'node:fs';

afterAll(async () => sessionCache.clear());

const clip = () => readFileSync(path.join(AUDIO, 'speech-16k-mono-s16.wav'));

it('the node module loads without ONNX Runtime', () => {
	const { AudioClassification } = require('../nodes/AudioClassification/AudioClassification.node');
	expect(new AudioClassification().description.name).toBe('audioClassification');
});

it('Backend auto runs the model on WebAssembly, with the same scores, and says why', async () => {
	const spec = loadModelSpec(path.join(MODELS, 'tiny-wav2vec2'), 'auto');
	const result = await classifyAudio(clip(), spec, { topK: 0, functionToApply: 'softmax', device: 'cpu' });
	expect(result.backend).toBe('wasm');
	expect(result.fallbackReason).toMatch(/ONNX Runtime could not be loaded.*WebAssembly.*Debian/);
	const want = expected.scores['speech-16k-mono-s16.wav']['tiny-wav2vec2'];
	for (const { label, score } of result.labels) {
		expect(score).toBeCloseTo(want[expected.labels.emotions.indexOf(label)], 4);
	}
});

it('Backend native explains the Alpine/musl problem and the fix', async () => {
	const spec = loadModelSpec(path.join(MODELS, 'tiny-wav2vec2'), 'auto');
	const error = await classifyAudio(clip(), spec, { topK: 1, functionToApply: 'auto', device: 'cpu', backend: 'native' }).catch((e: unknown) => e);
	expect(error).toBeInstanceOf(DeviceUnavailableError);
	expect((error as Error).message).toMatch(/ONNX Runtime could not be loaded/);
	expect((error as DeviceUnavailableError).hint).toMatch(/Alpine \(musl\).*Debian/);
});
