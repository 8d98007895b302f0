/**
 * Local Folder and Cache Folder honour n8n's file-access settings
 * (N8N_RESTRICT_FILE_ACCESS_TO, the blocked n8n folder), through the
 * helpers n8n gives nodes, and a refusal says nothing about what exists.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { SecurityConfig } from '@n8n/config';
import { Container } from '@n8n/di';

import { sessionCache } from '../src/inference/session-cache';
import { AUDIO, MODELS } from './helpers/fixtures';
import { runClassifier } from './helpers/n8n';

let allowed: string;
let saved: string;
const clip = { path: path.join(AUDIO, 'speech-16k-mono-s16.wav') };

beforeAll(() => {
	allowed = mkdtempSync(path.join(tmpdir(), 'n8n-files-'));
	cpSync(path.join(MODELS, 'tiny-wav2vec2'), path.join(allowed, 'good-model'), { recursive: true });
	symlinkSync(path.join(MODELS, 'tiny-wav2vec2'), path.join(allowed, 'link-to-outside'));
	const sneaky = path.join(allowed, 'sneaky-model');
	cpSync(path.join(MODELS, 'tiny-wav2vec2'), sneaky, { recursive: true });
	rmSync(path.join(sneaky, 'onnx', 'model.onnx'));
	symlinkSync(path.join(MODELS, 'tiny-wav2vec2', 'onnx', 'model.onnx'), path.join(sneaky, 'onnx', 'model.onnx'));
	mkdirSync(path.join(allowed, 'hf-cache'));
	const security = Container.get(SecurityConfig);
	saved = security.restrictFileAccessTo;
	security.restrictFileAccessTo = allowed;
});

afterAll(async () => {
	Container.get(SecurityConfig).restrictFileAccessTo = saved;
	rmSync(allowed, { recursive: true, force: true });
	await sessionCache.clear();
});

async function errorFor(parameters: Record<string, unknown>): Promise<{ error: string; hint: string } | undefined> {
	const { items, error } = await runClassifier([clip], { topK: 1, ...parameters }, { onError: 'continueRegularOutput' });
	expect(error).toBeUndefined();
	expect(items).toHaveLength(1);
	return items[0].json.error === undefined ? undefined : (items[0].json as { error: string; hint: string });
}

describe('Local Folder', () => {
	it('works inside the allowed folders', async () => {
		expect(await errorFor({ modelSource: 'localFolder', modelPath: path.join(allowed, 'good-model') })).toBeUndefined();
	});

	it('is refused outside them, with the same words whether the folder exists or not', async () => {
		const existing = await errorFor({ modelSource: 'localFolder', modelPath: path.join(MODELS, 'tiny-wav2vec2') });
		const missing = await errorFor({ modelSource: 'localFolder', modelPath: path.join(MODELS, 'no-such-model') });
		const missingParent = await errorFor({ modelSource: 'localFolder', modelPath: '/no/such/parent/model' });
		expect(existing?.error).toBe('Access to the model folder is not allowed');
		expect(missing).toEqual(existing);
		expect(missingParent).toEqual(existing);
		expect(existing?.hint).toMatch(/N8N_RESTRICT_FILE_ACCESS_TO/);
	});

	it('follows symlinks: a link inside that points outside is refused, for the folder and for a model file', async () => {
		expect((await errorFor({ modelSource: 'localFolder', modelPath: path.join(allowed, 'link-to-outside') }))?.error).toBe(
			'Access to the model folder is not allowed',
		);
		expect((await errorFor({ modelSource: 'localFolder', modelPath: path.join(allowed, 'sneaky-model') }))?.error).toBe(
			'Access to the model folder is not allowed',
		);
	});

	it('must be absolute', async () => {
		expect((await errorFor({ modelSource: 'localFolder', modelPath: 'models/x' }))?.error).toMatch(/must be an absolute path/);
	});
});

describe('Cache Folder (Hub source)', () => {
	it('is refused outside the allowed folders before any download', async () => {
		const e = await errorFor({
			modelSource: 'huggingFaceHub',
			model: { __rl: true, mode: 'id', value: 'org/model' },
			options: { cacheDir: path.join(tmpdir(), 'elsewhere'), offline: true },
		});
		expect(e?.error).toBe('Access to the cache folder is not allowed');
	});

	it('inside them, the request goes on (here: offline, so the cache miss is reported)', async () => {
		const e = await errorFor({
			modelSource: 'huggingFaceHub',
			model: { __rl: true, mode: 'id', value: 'org/model' },
			options: { cacheDir: path.join(allowed, 'hf-cache'), offline: true },
		});
		expect(e?.error).toMatch(/Offline mode: org\/model@main is not in the cache/);
	});
});

describe('engine errors name the panel fields only through the node', () => {
	it('a too-long clip names "Options > Max Duration" in the node, a neutral name in the engine', async () => {
		const { items } = await runClassifier([clip], { topK: 1, options: { maxDuration: 0.5 } }, { onError: 'continueRegularOutput' });
		expect(items[0].json.error).toMatch(/longer than the limit of 0.5 s/);
		expect(items[0].json.hint).toMatch(/raise "Options > Max Duration"/);
	});

	it('no UI field name is hard-coded in the engine', () => {
		const { readdirSync, readFileSync, statSync } = jest.requireActual<typeof import('node:fs')>('node:fs');
		const walk = (d: string): string[] =>
			readdirSync(d).flatMap((f) => (statSync(path.join(d, f)).isDirectory() ? walk(path.join(d, f)) : [path.join(d, f)]));
		const ui = /Max Duration|Model File Variant|Offline Mode|FFmpeg Path"|Endpoint URL|Cache Folder option|Decoder to|Device "|Backend to/;
		for (const file of walk(path.join(__dirname, '..', 'src')).filter((f) => f.endsWith('.ts'))) {
			const code = readFileSync(file, 'utf8')
				.split('\n')
				.filter((l) => !/^\s*(\/\/|\*|\/\*\*)/.test(l)); // comments may name them
			expect({ file, hits: code.filter((l) => ui.test(l)) }).toEqual({ file, hits: [] });
		}
	});
});
