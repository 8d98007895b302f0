/**
 * n8n's Alpine image cannot load onnxruntime-node (glibc binaries). Simulated
 * here by making the module throw the loader's musl error: the node must
 * still load (n8n lists it) and each execution must explain what to do.
 */
import path from 'node:path';

jest.mock('onnxruntime-node', () => {
	throw new Error('Error relocating /app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1: __memcpy_chk: symbol not found');
});

import { DeviceUnavailableError } from '../src/errors';
import { loadModelSpec } from '../src/model/spec';
import { classifyAudio } from '../src/pipeline';
import { AUDIO, MODELS } from './helpers/fixtures';
import { readFileSync } from 'node:fs';

it('the node module loads without ONNX Runtime', () => {
	// eslint-disable-next-line @typescript-eslint/no-require-imports
	const { AudioClassification } = require('../nodes/AudioClassification/AudioClassification.node');
	expect(new AudioClassification().description.name).toBe('audioClassification');
});

it('classifying explains the Alpine/musl problem and the fix', async () => {
	const spec = loadModelSpec(path.join(MODELS, 'tiny-wav2vec2'), 'auto');
	const error = await classifyAudio(readFileSync(path.join(AUDIO, 'speech-16k-mono-s16.wav')), spec, {
		topK: 1,
		functionToApply: 'auto',
		device: 'cpu',
	}).catch((e: unknown) => e);
	expect(error).toBeInstanceOf(DeviceUnavailableError);
	expect((error as Error).message).toMatch(/ONNX Runtime could not be loaded/);
	expect((error as DeviceUnavailableError).hint).toMatch(/Alpine \(musl\).*Debian-based image/);
});
