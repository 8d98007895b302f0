/**
 * Classify shares ONNX Runtime calls between items (clips of the same model
 * and input shape run as one batch): the scores must be the ones each clip
 * gets alone, errors must stay on their own item, and outputs keep the input
 * order and pairing.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import * as run from '../src/inference/run';

import { sessionCache } from '../src/inference/session-cache';
import { resolveBuiltIn } from '../src/model/catalog';
import { loadModelSpec } from '../src/model/spec';
import { classifyAudio, classifyPrepared, MAX_BATCH, prepareAudio } from '../src/pipeline';
import { AUDIO, FIXTURES, MODELS } from './helpers/fixtures';
import { runClassifier } from './helpers/n8n';

afterAll(async () => sessionCache.clear());

const COMMANDS = path.join(FIXTURES, 'speech-commands');
const clips = readdirSync(COMMANDS).filter((f) => f.endsWith('.wav')).sort();
const options = { topK: 0, functionToApply: 'auto' as const, device: 'cpu' as const };

describe('batched classification', () => {
	it.each([
		['the bundled model', () => loadModelSpec(resolveBuiltIn('speech-commands-dscnn').dir, 'auto', 'kws')],
		['tiny-wav2vec2 (attention mask)', () => loadModelSpec(path.join(MODELS, 'tiny-wav2vec2'), 'auto')],
		['tiny-ast', () => loadModelSpec(path.join(MODELS, 'tiny-ast'), 'auto')],
	])('%s: every clip of a batch scores as it does alone (1e-5)', async (_name, spec) => {
		const model = spec();
		const audio = clips.map((f) => readFileSync(path.join(COMMANDS, f)));
		const prepared = await Promise.all(audio.map((a) => prepareAudio(a, model, {})));
		const together = await classifyPrepared(prepared, model, options);
		expect(together).toHaveLength(audio.length);
		for (let i = 0; i < audio.length; i++) {
			const alone = await classifyAudio(audio[i], model, options);
			const batch = together[i];
			if (batch instanceof Error) throw batch;
			expect(batch.labels.map((l) => l.label)).toEqual(alone.labels.map((l) => l.label));
			batch.labels.forEach((l, k) => expect(Math.abs(l.score - alone.labels[k].score)).toBeLessThan(1e-5));
		}
	});

	it('clips of different lengths are never padded together: each shape is its own batch', async () => {
		const model = loadModelSpec(path.join(MODELS, 'tiny-wav2vec2'), 'auto');
		const files = ['speech-16k-mono-s16.wav', 'short-0.3s.wav', 'speech-44k-stereo.mp3', 'short-0.3s.wav'];
		const prepared = await Promise.all(files.map((f) => prepareAudio(readFileSync(path.join(AUDIO, f)), model, {})));
		const together = await classifyPrepared(prepared, model, options);
		for (let i = 0; i < files.length; i++) {
			const alone = await classifyAudio(readFileSync(path.join(AUDIO, files[i])), model, options);
			const r = together[i];
			if (r instanceof Error) throw r;
			expect(r.duration).toBeCloseTo(alone.duration, 6);
			r.labels.forEach((l, k) => expect(Math.abs(l.score - alone.labels[k].score)).toBeLessThan(1e-5));
		}
	});

	it('a large model (50 MB and up) runs clips one by one: batching saves it nothing and multiplies its memory', async () => {
		// tiny-wav2vec2 twice: as it is, and beside a 50 MB data file (sparse: no disk used), which
		// makes it count as large (a model's size includes its external-data files)
		const dir = mkdtempSync(path.join(tmpdir(), 'large-model-'));
		try {
			const small = path.join(dir, 'small');
			const large = path.join(dir, 'large');
			cpSync(path.join(MODELS, 'tiny-wav2vec2'), small, { recursive: true });
			cpSync(path.join(MODELS, 'tiny-wav2vec2'), large, { recursive: true });
			const data = path.join(large, 'onnx', 'model.onnx_data');
			writeFileSync(data, '');
			truncateSync(data, 50 * 1024 * 1024);
			const audio = clips.slice(0, 4).map((f) => readFileSync(path.join(COMMANDS, f)));
			const sizes = async (dirOf: string) => {
				const model = loadModelSpec(dirOf, 'auto');
				const prepared = await Promise.all(audio.map((a) => prepareAudio(a, model, {})));
				const spy = jest.spyOn(run, 'runClassifierBatch');
				try {
					const results = await classifyPrepared(prepared, model, options);
					expect(results.filter((r) => r instanceof Error)).toEqual([]);
					return { calls: spy.mock.calls.map(([, batch]) => batch.length), results };
				} finally {
					spy.mockRestore();
				}
			};
			const a = await sizes(small);
			const b = await sizes(large);
			expect(a.calls).toEqual([4]);
			expect(b.calls).toEqual([1, 1, 1, 1]);
			b.results.forEach((r, i) => {
				const together = a.results[i];
				if (r instanceof Error || together instanceof Error) throw new Error('unexpected error');
				r.labels.forEach((l, k) => expect(Math.abs(l.score - together.labels[k].score)).toBeLessThan(1e-5));
			});
		} finally {
			await sessionCache.clear();
			rmSync(dir, { recursive: true, force: true });
		}
	});
});

describe('batched classification through the node', () => {
	it('keeps order, pairing and per-item errors across batches (more items than one batch)', async () => {
		const files = Array.from({ length: MAX_BATCH * 2 + 3 }, (_, i) =>
			i === 5 || i === MAX_BATCH + 1 ? { path: path.join(AUDIO, 'not-audio.mp3') } : { path: path.join(COMMANDS, clips[i % clips.length]) },
		);
		const { items, error } = await runClassifier(files, { topK: 1, outputMode: 'perInput' }, { onError: 'continueRegularOutput' });
		expect(error).toBeUndefined();
		expect(items).toHaveLength(files.length);
		items.forEach((item, i) => {
			expect(item.pairedItem).toEqual({ item: i });
			if (i === 5 || i === MAX_BATCH + 1) expect(item.json.error).toMatch(new RegExp(`could not decode the audio.*\\(item ${i}, binary field "data", file "not-audio.mp3"\\)`));
			else expect(item.json.fileName).toBe(clips[i % clips.length]);
		});
		// the same labels as one at a time
		const alone = await runClassifier([files[0], files[1]], { topK: 1, outputMode: 'perInput' });
		expect(alone.items.map((i) => i.json.label)).toEqual([items[0].json.label, items[1].json.label]);
		alone.items.forEach((a, i) => expect(Math.abs((a.json.score as number) - (items[i].json.score as number))).toBeLessThan(1e-5));
	});

	it('without Continue On Fail, a bad item in a later batch fails the node on that item, with nothing left unhandled', async () => {
		const unhandled: unknown[] = [];
		const onUnhandled = (reason: unknown) => unhandled.push(reason);
		process.on('unhandledRejection', onUnhandled);
		try {
			const bad = MAX_BATCH + 2;
			const files = Array.from({ length: MAX_BATCH * 2 }, (_, i) =>
				i === bad ? { path: path.join(AUDIO, 'not-audio.mp3') } : { path: path.join(COMMANDS, clips[i % clips.length]) },
			);
			const { error } = await runClassifier(files, { topK: 1 });
			expect(String(error?.message)).toMatch(new RegExp(`\\(item ${bad}, binary field "data", file "not-audio.mp3"\\)`));
			await new Promise((r) => setTimeout(r, 50));
			expect(unhandled).toEqual([]);
		} finally {
			process.off('unhandledRejection', onUnhandled);
		}
	});
});
