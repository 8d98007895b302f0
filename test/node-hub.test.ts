/** The Hugging Face Hub model source through n8n-core's WorkflowExecute, against the loopback Hub. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { sessionCache } from '../src/inference/session-cache';
import { FakeHub, repoFromFolder } from './helpers/fake-hub';
import { AUDIO, MODELS } from './helpers/fixtures';
import { runClassifier } from './helpers/n8n';

let hub: FakeHub;
let cacheDir: string;
const saved = { ...process.env };

beforeAll(async () => {
	hub = await new FakeHub().start();
	hub.repos['test-org/tiny-ast'] = repoFromFolder(path.join(MODELS, 'tiny-ast'), 'f'.repeat(40));
	cacheDir = mkdtempSync(path.join(tmpdir(), 'hf-node-test-'));
	process.env.HF_ENDPOINT = hub.url;
	delete process.env.HF_HUB_OFFLINE;
});

afterAll(async () => {
	process.env = saved;
	await hub.stop();
	await sessionCache.clear();
	rmSync(cacheDir, { recursive: true, force: true });
});

const hubParams = (model: Record<string, unknown>, options: Record<string, unknown> = {}) => ({
	modelSource: 'huggingFaceHub',
	model: { __rl: true, ...model },
	revision: 'main',
	topK: 2,
	options: { cacheDir, ...options },
});

it('downloads the model by ID, classifies, and names it in the output', async () => {
	const { items, error } = await runClassifier(
		[{ path: path.join(AUDIO, 'speech-16k-mono-s16.wav') }],
		hubParams({ mode: 'id', value: 'test-org/tiny-ast' }),
	);
	expect(error).toBeUndefined();
	expect(items).toHaveLength(2);
	expect(items[0].json.model).toBe('test-org/tiny-ast');
	expect(hub.cdnGets()).toHaveLength(1);
});

it('accepts a model URL, and runs offline from the cache once downloaded', async () => {
	const url = `${hub.url}/test-org/tiny-ast/tree/main`;
	await hub.stop();
	const { items, error } = await runClassifier(
		[{ path: path.join(AUDIO, 'speech-16k-mono-s16.wav') }],
		hubParams({ mode: 'url', value: url }, { offline: true }),
	);
	expect(error).toBeUndefined();
	expect(items[0].json.model).toBe('test-org/tiny-ast');
	hub = await new FakeHub().start();
});

it('an unknown repo fails per item with the fix, and continueOnFail keeps going', async () => {
	process.env.HF_ENDPOINT = hub.url; // the restarted hub has no repos
	const { items } = await runClassifier(
		[{ path: path.join(AUDIO, 'speech-16k-mono-s16.wav') }, { path: path.join(AUDIO, 'silence-1s.wav') }],
		hubParams({ mode: 'id', value: 'test-org/missing' }),
		{ onError: 'continueRegularOutput' },
	);
	expect(items).toHaveLength(2);
	expect(items[0].json.error).toMatch(/The repo test-org\/missing does not exist \(or is private\) \(HTTP 404\) \(item 0\)/);
	expect(items[1].json.hint).toMatch(/ONNX exports/);
	expect(items[1].json.error).toMatch(/\(item 1\)/);
	// the failed lookup is remembered for the execution, not repeated per item
	expect(hub.requests.filter((r) => r.url.startsWith('/api/models/test-org/missing'))).toHaveLength(1);
});
