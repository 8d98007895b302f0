import path from 'node:path';

import { sessionCache } from '../src/inference/session-cache';
import { AUDIO, MODELS, expected, systemFfmpeg } from './helpers/fixtures';
import { runClassifier } from './helpers/n8n';

const clip = (name: string) => ({ path: path.join(AUDIO, name) });
const localModel = (name: string, extra: Record<string, unknown> = {}) => ({
	modelSource: 'localFolder',
	modelPath: path.join(MODELS, name),
	...extra,
});

afterAll(async () => sessionCache.clear());

describe('Audio Classification node in n8n-core\'s WorkflowExecute', () => {
	it('emits one item per label with label, score, rank, model, binary and pairedItem', async () => {
		const { items, error } = await runClassifier(
			[clip('speech-16k-mono-s16.wav'), clip('silence-1s.wav')],
			localModel('tiny-wav2vec2', { topK: 3 }),
		);
		expect(error).toBeUndefined();
		expect(items).toHaveLength(6);
		const first = items.slice(0, 3);
		expect(first.map((i) => i.json.rank)).toEqual([1, 2, 3]);
		expect(first.every((i) => (i.pairedItem as { item: number }).item === 0)).toBe(true);
		expect(items.slice(3).every((i) => (i.pairedItem as { item: number }).item === 1)).toBe(true);
		expect(first[0].json).toMatchObject({
			model: path.join(MODELS, 'tiny-wav2vec2'),
			binaryProperty: 'data',
			fileName: 'speech-16k-mono-s16.wav',
		});
		expect(Object.keys(first[0].json).sort()).toEqual(['binaryProperty', 'fileName', 'label', 'model', 'rank', 'score']);
		expect(first[0].binary?.data.fileName).toBe('speech-16k-mono-s16.wav');
		const want = expected.scores['speech-16k-mono-s16.wav']['tiny-wav2vec2'];
		const best = Math.max(...want);
		expect(first[0].json.label).toBe(expected.labels.emotions[want.indexOf(best)]);
		expect(first[0].json.score as number).toBeCloseTo(best, 5);
	});

	it('One Item per Input: labels array, top label, input fields kept on request', async () => {
		const { items } = await runClassifier(
			[{ ...clip('speech-16k-mono-s16.wav'), json: { caller: 'alice' } }],
			localModel('tiny-wav2vec2', { outputMode: 'perInput', topK: 0, options: { keepInputFields: true } }),
		);
		expect(items).toHaveLength(1);
		const json = items[0].json as { labels: Array<{ label: string; score: number }>; label: string; caller: string };
		expect(json.caller).toBe('alice');
		expect(json.labels).toHaveLength(4);
		expect(json.label).toBe(json.labels[0].label);
	});

	it('parameters with an expression are read per item; the others once, with the same result for every item', async () => {
		// Top K and Minimum Score from each item's fields; the model, Output Mode and the other options saved as plain values.
		const { items, error } = await runClassifier(
			[
				{ ...clip('speech-16k-mono-s16.wav'), json: { k: 1, min: 0 } },
				{ ...clip('speech-16k-mono-s16.wav'), json: { k: 3, min: 0 } },
				{ ...clip('speech-16k-mono-s16.wav'), json: { k: 4, min: 0.99 } },
				{ ...clip('silence-1s.wav'), json: { k: 2, min: 0 } },
			],
			localModel('tiny-wav2vec2', { topK: '={{ $json.k }}', options: { minScore: '={{ $json.min }}', keepInputFields: true } }),
		);
		expect(error).toBeUndefined();
		const byItem = (i: number) => items.filter((x) => (x.pairedItem as { item: number }).item === i);
		expect(byItem(0)).toHaveLength(1);
		expect(byItem(1)).toHaveLength(3);
		expect(byItem(2)).toHaveLength(1); // no label reaches 0.99: one item without a label
		expect(byItem(2)[0].json.label ?? null).toBeNull();
		expect(byItem(3)).toHaveLength(2);
		expect(items.every((x) => x.json.model === path.join(MODELS, 'tiny-wav2vec2') && x.json.k !== undefined)).toBe(true);
	});

	it('fails the node on a bad item, naming the item and the cause', async () => {
		const { error } = await runClassifier(
			[clip('speech-16k-mono-s16.wav'), { path: path.join(AUDIO, 'not-audio.mp3') }],
			localModel('tiny-wav2vec2', { options: { ffmpegPath: systemFfmpeg ?? '/usr/bin/ffmpeg' } }),
		);
		expect(error).toBeDefined();
		expect(error!.message).toMatch(/item 1, binary field "data", file "not-audio.mp3"/);
	});

	it('with continueOnFail, bad items become error items and the others are classified', async () => {
		const { items, error } = await runClassifier(
			[
				clip('speech-16k-mono-s16.wav'),
				{ path: path.join(AUDIO, 'not-audio.mp3') },
				null, // an item without binary data
				{ path: path.join(AUDIO, 'silence-1s.wav'), field: 'voice' }, // wrong field name
				clip('short-0.3s.wav'),
			],
			localModel('tiny-wav2vec2', { topK: 1, options: { ffmpegPath: systemFfmpeg ?? '/nonexistent' } }),
			{ onError: 'continueRegularOutput' },
		);
		expect(error).toBeUndefined();
		expect(items.map((i) => (i.pairedItem as { item: number }).item)).toEqual([0, 1, 2, 3, 4]);
		expect(items[0].json.label).toBeDefined();
		expect(items[1].json.error).toMatch(/could not decode|needs ffmpeg/);
		expect(items[1].json.hint).toBeTruthy();
		expect(items[2].json.error).toMatch(/data/);
		expect(items[3].json.error).toMatch(/data/);
		expect(items[4].json.label).toBeDefined();
	});

	it('classifies every binary field when asked', async () => {
		const { items } = await runClassifier(
			[{ path: path.join(AUDIO, 'speech-16k-mono-s16.wav'), field: 'voice' }],
			localModel('tiny-wav2vec2', { topK: 1, options: { allBinaryProperties: true } }),
		);
		expect(items).toHaveLength(1);
		expect(items[0].json.binaryProperty).toBe('voice');
	});

	it('reports a missing model folder with a fix', async () => {
		const { error } = await runClassifier([clip('speech-16k-mono-s16.wav')], {
			modelSource: 'localFolder',
			modelPath: path.join(MODELS, 'nonexistent-model'),
		});
		expect(error!.message).toMatch(/does not exist: .*nonexistent-model/);
		expect((error as { description?: string }).description).toMatch(/machine running n8n/);
	});

	it('reports an unsupported feature extractor by name', async () => {
		const { error } = await runClassifier([clip('speech-16k-mono-s16.wav')], localModel('unsupported-extractor'));
		expect(error!.message).toMatch(/SpeechT5FeatureExtractor/);
	});
});
