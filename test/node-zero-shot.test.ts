/**
 * Classify with Your Own Labels through n8n-core's WorkflowExecute: a local
 * CLAP folder and one from the loopback Hub, labels written or mapped from
 * each item by an expression, the outputs and errors of Classify.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { sessionCache } from '../src/inference/session-cache';
import { clearZeroShotCaches, zeroShotStats } from '../src/tasks/zero-shot';
import { FakeHub, repoFromFolder } from './helpers/fake-hub';
import { AUDIO, MODELS, REFERENCE } from './helpers/fixtures';
import { runClassifier } from './helpers/n8n';

const ref = JSON.parse(readFileSync(path.join(REFERENCE, 'clap.json'), 'utf8')) as {
	labels: string[];
	template: string;
	scores: Array<{ model: string; clip: string; template: string; labels: Array<{ label: string; score: number }> }>;
};
const expectedFor = (model: string, clip: string) => ref.scores.find((s) => s.model === model && s.clip === clip && s.template === ref.template)!;

const local = (extra: Record<string, unknown> = {}) => ({
	operation: 'zeroShot',
	modelSource: 'localFolder',
	modelPath: path.join(MODELS, 'tiny-clap'),
	candidateLabels: ref.labels.join(', '),
	topK: 0,
	...extra,
});

beforeEach(() => clearZeroShotCaches());
afterAll(async () => sessionCache.clear());

describe('Classify with Your Own Labels', () => {
	it('gives one item per label, sorted by score, ranked and paired, with the reference scores', async () => {
		const { items, error } = await runClassifier([{ path: path.join(AUDIO, 'clap-speech-48k.wav') }], local());
		expect(error).toBeUndefined();
		const want = expectedFor('tiny-clap', 'clap-speech-48k.wav').labels;
		expect(items.map((i) => i.json.label)).toEqual(want.map((l) => l.label));
		items.forEach((item, i) => {
			expect(Math.abs((item.json.score as number) - want[i].score)).toBeLessThan(1e-5);
			expect(item.json).toMatchObject({ rank: i + 1, model: path.join(MODELS, 'tiny-clap'), binaryProperty: 'data', fileName: 'clap-speech-48k.wav' });
			expect(item.pairedItem).toEqual({ item: 0 });
		});
	});

	it('One Item per Input with Top K: the best label and the list', async () => {
		const { items } = await runClassifier([{ path: path.join(AUDIO, 'clap-blip-48k.wav') }], local({ outputMode: 'perInput', topK: 2 }));
		const want = expectedFor('tiny-clap', 'clap-blip-48k.wav').labels;
		expect(items).toHaveLength(1);
		expect(items[0].json.label).toBe(want[0].label);
		expect((items[0].json.labels as unknown[]).length).toBe(2);
	});

	it('takes each item\'s labels from an expression; a label set is embedded once for all items that share it', async () => {
		const before = zeroShotStats.textPasses;
		const files = [
			{ path: path.join(AUDIO, 'clap-speech-48k.wav'), json: { listen: ['a siren', 'music'] } },
			{ path: path.join(AUDIO, 'clap-blip-48k.wav'), json: { listen: ['a siren', 'music'] } },
			{ path: path.join(AUDIO, 'clap-bursts-48k.flac'), json: { listen: 'glass breaking, a dog barking, music' } },
		];
		const { items, error } = await runClassifier(files, local({ candidateLabels: '={{ $json.listen }}', outputMode: 'perInput' }));
		expect(error).toBeUndefined();
		expect(items.map((i) => (i.json.labels as Array<{ label: string }>).map((l) => l.label).sort())).toEqual([
			['a siren', 'music'],
			['a siren', 'music'],
			['a dog barking', 'glass breaking', 'music'],
		]);
		expect(zeroShotStats.textPasses - before).toBe(2);
	});

	it('errors stay on their item (Continue On Fail): empty labels, a template without {}; the others still answer', async () => {
		const files = [
			{ path: path.join(AUDIO, 'clap-blip-48k.wav'), json: { listen: '' } },
			{ path: path.join(AUDIO, 'clap-blip-48k.wav'), json: { listen: 'music, a siren', template: 'no placeholder' } },
			{ path: path.join(AUDIO, 'clap-blip-48k.wav'), json: { listen: 'music, a siren' } },
		];
		const { items, error } = await runClassifier(
			files,
			local({ candidateLabels: '={{ $json.listen }}', hypothesisTemplate: '={{ $json.template ?? "This is a sound of {}." }}', outputMode: 'perInput' }),
			{ onError: 'continueRegularOutput' },
		);
		expect(error).toBeUndefined();
		expect(items).toHaveLength(3);
		expect(items[0].json.error).toMatch(/No candidate labels: "Candidate Labels" is empty \(item 0/);
		expect(items[0].json.hint).toMatch(/separated by commas/);
		expect(items[1].json.error).toMatch(/has no \{\} for the label/);
		expect(items[2].json.label).toEqual(expect.any(String));
		expect(items.map((i) => i.pairedItem)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }]);
	});

	it('a model that is not CLAP fails with what to pick instead', async () => {
		const { error } = await runClassifier([{ path: path.join(AUDIO, 'clap-blip-48k.wav') }], local({ modelPath: path.join(MODELS, 'tiny-ast') }));
		expect(error?.message).toMatch(/is not a CLAP model/);
		expect((error as { description?: string } | undefined)?.description).toMatch(/Xenova\/clap-htsat-unfused/);
	});

	it('Classify on a CLAP model points to Classify with Your Own Labels', async () => {
		const { error } = await runClassifier([{ path: path.join(AUDIO, 'clap-blip-48k.wav') }], { ...local(), operation: 'classify' });
		expect(error?.message).toMatch(/is a CLAP model/);
		expect((error as { description?: string } | undefined)?.description).toMatch(/Classify with Your Own Labels/);
	});
});

describe('from the Hub (loopback server in the Hub layout)', () => {
	let hub: FakeHub;
	let cacheDir: string;
	const saved = { ...process.env };

	beforeAll(async () => {
		hub = await new FakeHub().start();
		hub.repos['test-org/tiny-clap'] = repoFromFolder(path.join(MODELS, 'tiny-clap-combined'), 'e'.repeat(40));
		cacheDir = mkdtempSync(path.join(tmpdir(), 'hf-clap-test-'));
		process.env.HF_ENDPOINT = hub.url;
		delete process.env.HF_HUB_OFFLINE;
	});
	afterAll(async () => {
		process.env = saved;
		await hub.stop();
		rmSync(cacheDir, { recursive: true, force: true });
	});

	it('downloads the combined graph and the tokenizer, and gives the reference scores', async () => {
		const { items, error } = await runClassifier([{ path: path.join(AUDIO, 'clap-speech-48k.wav') }], {
			operation: 'zeroShot',
			modelSource: 'huggingFaceHub',
			model: { __rl: true, mode: 'id', value: 'test-org/tiny-clap' },
			revision: 'main',
			candidateLabels: ref.labels.join(','),
			topK: 0,
			options: { cacheDir },
		});
		expect(error).toBeUndefined();
		const want = expectedFor('tiny-clap', 'clap-speech-48k.wav').labels;
		expect(items.map((i) => i.json.label)).toEqual(want.map((l) => l.label));
		items.forEach((item, i) => expect(Math.abs((item.json.score as number) - want[i].score)).toBeLessThan(1e-5));
		expect(hub.cdnGets()).toHaveLength(1); // the combined graph (LFS); no tower graphs
		const snapshot = path.join(cacheDir, 'models--test-org--tiny-clap', 'snapshots', 'e'.repeat(40));
		expect(readdirSync(path.join(snapshot, 'onnx'))).toEqual(['model.onnx']);
		expect(readdirSync(snapshot).sort()).toEqual(['config.json', 'onnx', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json']);
		expect(readFileSync(path.join(snapshot, 'tokenizer.json'), 'utf8')).toContain('RobertaProcessing');
	});
});
