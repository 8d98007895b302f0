/**
 * The same node run with n8n's filesystem binary-data mode (the default of a
 * real n8n), where items carry only an id and getBinaryDataBuffer reads the
 * stored file. The other node tests use in-memory (inline base64) binaries.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = mkdtempSync(path.join(tmpdir(), 'n8n-binary-test-'));
process.env.N8N_USER_FOLDER = root;
process.env.N8N_BINARY_DATA_STORAGE_PATH = path.join(root, 'binaryData');
process.env.N8N_DEFAULT_BINARY_DATA_MODE = 'filesystem';

import { Container } from '@n8n/di';
import { BinaryDataService } from 'n8n-core';

import { sessionCache } from '../src/inference/session-cache';
import { AUDIO, MODELS } from './helpers/fixtures';
import { runClassifier } from './helpers/n8n';

beforeAll(async () => {
	await Container.get(BinaryDataService).init();
});

afterAll(async () => {
	await sessionCache.clear();
	rmSync(root, { recursive: true, force: true });
});

it('reads audio stored by reference (filesystem mode) and classifies it', async () => {
	const { items, error } = await runClassifier([{ path: path.join(AUDIO, 'speech-16k-mono-s16.wav') }], {
		modelSource: 'localFolder',
		modelPath: path.join(MODELS, 'tiny-wav2vec2'),
		topK: 2,
	});
	expect(error).toBeUndefined();
	expect(items).toHaveLength(2);
	expect(items[0].binary?.data.id).toMatch(/^filesystem/); // stored by reference, not inline
	expect(items[0].binary?.data.data).not.toMatch(/^UklGR/);
	expect(readdirSync(process.env.N8N_BINARY_DATA_STORAGE_PATH!).length).toBeGreaterThan(0);
	expect(items[0].json.rank).toBe(1);
});
