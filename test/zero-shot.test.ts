/**
 * Zero-shot (CLAP) end to end in the engine, against the scores computed
 * independently by scripts/fixtures/make_clap_fixture.py (reference
 * tokenizer, numpy features, the torch towers, exp(logit_scale_a) x cosine):
 * towers + combined graph, combined graph only, and fusion with is_longer.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { GraphMismatchError, ModelConfigError, ModelNotFoundError } from '../src/errors';
import { sessionCache } from '../src/inference/session-cache';
import { loadModelSpec } from '../src/model/spec';
import { classifyAudio, zeroShotAudio } from '../src/pipeline';
import { clearZeroShotCaches, hypotheses, parseCandidateLabels, zeroShotStats } from '../src/tasks/zero-shot';
import { loadTokenizer } from '../src/text/tokenizer';
import { AUDIO, MODELS, REFERENCE } from './helpers/fixtures';

interface Reference {
	labels: string[];
	template: string;
	otherTemplate: string;
	tokens: Record<string, number[]>;
	logitScale: Record<string, { audio: number; text: number }>;
	scores: Array<{ model: string; clip: string; template: string; labels: Array<{ label: string; score: number }> }>;
}
const ref = JSON.parse(readFileSync(path.join(REFERENCE, 'clap.json'), 'utf8')) as Reference;
const options = { topK: 0, device: 'cpu' as const, decoder: 'builtIn' as const };
const spec = (name: string, dtype: 'auto' = 'auto') => loadModelSpec(path.join(MODELS, name), dtype, name);
const clip = (name: string) => readFileSync(path.join(AUDIO, name));

afterAll(async () => sessionCache.clear());
beforeEach(() => clearZeroShotCaches());

describe('the tokenizer (tokenizer.json through @huggingface/tokenizers)', () => {
	it('gives the token ids of the generator\'s own byte-level BPE, <s> ... </s> included', () => {
		const tok = loadTokenizer(path.join(MODELS, 'tiny-clap'));
		for (const [text, ids] of Object.entries(ref.tokens)) expect(tok.ids(text)).toEqual(ids);
	});

	it('pads a batch to the longest text with <pad> (id 1) and a zero attention mask', () => {
		const tok = loadTokenizer(path.join(MODELS, 'tiny-clap'));
		const [long, short] = [ref.template.replace('{}', 'a dog barking'), ref.template.replace('{}', 'music')];
		const { input_ids, attention_mask } = tok.batch([long, short]);
		const width = ref.tokens[long].length;
		expect(input_ids.dims).toEqual([2, width]);
		const ids = Array.from(input_ids.data as BigInt64Array, Number);
		const mask = Array.from(attention_mask.data as BigInt64Array, Number);
		const n = ref.tokens[short].length;
		expect(ids.slice(width, width + n)).toEqual(ref.tokens[short]);
		expect(ids.slice(width + n)).toEqual(new Array(width - n).fill(1));
		expect(mask.slice(width)).toEqual([...new Array(n).fill(1), ...new Array(width - n).fill(0)]);
	});
});

describe('zero-shot scores equal the independent reference (1e-5)', () => {
	const cases = ref.scores.map((s) => [`${s.model}, ${s.clip}, "${s.template}"`, s] as const);
	it.each(cases)('%s', async (_name, s) => {
		const labels = s.labels.map((l) => l.label);
		const candidateLabels = ref.labels; // in the order the user wrote them; results come sorted by score
		for (const model of s.model === 'tiny-clap' ? ['tiny-clap', 'tiny-clap-combined'] : [s.model]) {
			const result = await zeroShotAudio(clip(s.clip), spec(model), { ...options, candidateLabels, hypothesisTemplate: s.template });
			expect(path.basename(zeroShotStats.lastAudioGraph)).toBe(model === 'tiny-clap' ? 'audio_model.onnx' : 'model.onnx');
			expect(result.labels.map((l) => l.label)).toEqual(labels);
			result.labels.forEach((l, i) => expect(Math.abs(l.score - s.labels[i].score)).toBeLessThan(1e-5));
		}
	});
});

describe('label embeddings and the logit scale', () => {
	it('embeds a label set once: the second and third clips pay no text pass; new labels pay one', async () => {
		const m = spec('tiny-clap');
		const before = zeroShotStats.textPasses;
		for (const name of ['clap-speech-48k.wav', 'clap-blip-48k.wav', 'clap-bursts-48k.flac']) {
			await zeroShotAudio(clip(name), m, { ...options, candidateLabels: 'a siren, music' });
		}
		expect(zeroShotStats.textPasses - before).toBe(1);
		await zeroShotAudio(clip('clap-blip-48k.wav'), m, { ...options, candidateLabels: ['a siren', 'music', 'glass breaking'] });
		expect(zeroShotStats.textPasses - before).toBe(2);
		// the same labels written as a list or as a comma-separated string are one set
		await zeroShotAudio(clip('clap-blip-48k.wav'), m, { ...options, candidateLabels: ['a siren', 'music'] });
		expect(zeroShotStats.textPasses - before).toBe(2);
	});

	it('reads exp(logit_scale_a) from the combined graph once per model (33.3 here, not the 14.29 init value nor the text scale)', async () => {
		const before = zeroShotStats.scaleReads;
		const a = await zeroShotAudio(clip('clap-blip-48k.wav'), spec('tiny-clap'), { ...options, candidateLabels: 'a siren, music' });
		await zeroShotAudio(clip('clap-speech-48k.wav'), spec('tiny-clap'), { ...options, candidateLabels: 'people talking, music' });
		expect(zeroShotStats.scaleReads - before).toBe(1);
		expect(a.labels).toHaveLength(2);
		expect(zeroShotStats.lastScale).toBeCloseTo(ref.logitScale['tiny-clap'].audio, 3);
		for (const model of ['tiny-clap-combined', 'tiny-clap-fused']) {
			await zeroShotAudio(clip('clap-blip-48k.wav'), spec(model), { ...options, candidateLabels: 'a siren, music' });
			expect(zeroShotStats.lastScale).toBeCloseTo(ref.logitScale[model === 'tiny-clap-fused' ? model : 'tiny-clap'].audio, 3);
		}
		expect(zeroShotStats.scaleReads - before).toBe(3);
	});
});

describe('many labels', () => {
	it.each(['tiny-clap', 'tiny-clap-combined'])('%s: 40 labels are embedded 16 at a time, with the same relative scores as 5', async (model) => {
		const five = await zeroShotAudio(clip('clap-speech-48k.wav'), spec(model), { ...options, candidateLabels: ref.labels });
		const extra = Array.from({ length: 35 }, (_, i) => `an extra sound number ${i}`);
		const forty = await zeroShotAudio(clip('clap-speech-48k.wav'), spec(model), { ...options, candidateLabels: [...extra.slice(0, 20), ...ref.labels, ...extra.slice(20)] });
		expect(forty.labels).toHaveLength(40);
		const score = (r: typeof five, label: string) => r.labels.find((l) => l.label === label)!.score;
		// softmax over more labels scales every score alike: the ratios between the five stay
		for (const label of ref.labels.slice(1)) {
			const a = score(five, label) / score(five, ref.labels[0]);
			const b = score(forty, label) / score(forty, ref.labels[0]);
			expect(Math.abs(a - b) / a).toBeLessThan(1e-4);
		}
	});
});

describe('model file variants', () => {
	it('Model File Variant picks the combined graph and the towers of that variant (q8 here)', async () => {
		const { cpSync, mkdtempSync, rmSync, renameSync } = await import('node:fs');
		const { tmpdir } = await import('node:os');
		const dir = mkdtempSync(path.join(tmpdir(), 'clap-q8-'));
		try {
			cpSync(path.join(MODELS, 'tiny-clap'), dir, { recursive: true });
			// the q8 files are the fixture's graphs; fp32 is a copy of the AST graph, which would fail if used
			for (const g of ['model', 'text_model', 'audio_model']) renameSync(path.join(dir, 'onnx', `${g}.onnx`), path.join(dir, 'onnx', `${g}_quantized.onnx`));
			cpSync(path.join(MODELS, 'tiny-ast', 'onnx', 'model.onnx'), path.join(dir, 'onnx', 'model.onnx'));
			const q8 = loadModelSpec(dir, 'q8');
			expect(path.basename(q8.onnxPath)).toBe('model_quantized.onnx');
			const s = ref.scores.find((r) => r.model === 'tiny-clap' && r.clip === 'clap-blip-48k.wav' && r.template === ref.template)!;
			const before = zeroShotStats.textPasses;
			const result = await zeroShotAudio(clip('clap-blip-48k.wav'), q8, { ...options, candidateLabels: ref.labels });
			expect(zeroShotStats.textPasses - before).toBe(1);
			expect(path.basename(zeroShotStats.lastAudioGraph)).toBe('audio_model_quantized.onnx'); // the q8 tower, not the combined graph
			result.labels.forEach((l, i) => expect(Math.abs(l.score - s.labels[i].score)).toBeLessThan(1e-5));
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});
});

describe('errors', () => {
	it('an empty label list', async () => {
		for (const empty of ['', ' , ,', [], [' ']]) {
			const error = await zeroShotAudio(clip('clap-blip-48k.wav'), spec('tiny-clap'), { ...options, candidateLabels: empty }).catch((e) => e);
			expect(error).toBeInstanceOf(ModelConfigError);
			expect(error.message).toMatch(/No candidate labels/);
			expect(error.hint).toMatch(/separated by commas/);
		}
	});

	it('labels from a webhook are bounded: at most 256, each at most 200 characters', async () => {
		const many = await zeroShotAudio(clip('clap-blip-48k.wav'), spec('tiny-clap'), { ...options, candidateLabels: Array.from({ length: 257 }, (_, i) => `sound ${i}`) }).catch((e) => e);
		expect(many.message).toMatch(/Too many candidate labels \(257; at most 256\)/);
		const long = await zeroShotAudio(clip('clap-blip-48k.wav'), spec('tiny-clap'), { ...options, candidateLabels: ['a'.repeat(201)] }).catch((e) => e);
		expect(long.message).toMatch(/201 characters long \(at most 200\)/);
	});

	it('a template without {}', async () => {
		const error = await zeroShotAudio(clip('clap-blip-48k.wav'), spec('tiny-clap'), {
			...options,
			candidateLabels: 'music',
			hypothesisTemplate: 'This is a sound.',
		}).catch((e) => e);
		expect(error).toBeInstanceOf(ModelConfigError);
		expect(error.message).toMatch(/has no \{\} for the label/);
	});

	it('a model that is not CLAP, and a CLAP model under Classify', async () => {
		const error = await zeroShotAudio(clip('clap-blip-48k.wav'), spec('tiny-ast'), { ...options, candidateLabels: 'music' }).catch((e) => e);
		expect(error).toBeInstanceOf(ModelConfigError);
		expect(error.message).toMatch(/tiny-ast is not a CLAP model \(model_type "audio-spectrogram-transformer"\)/);
		expect(error.hint).toMatch(/Xenova\/clap-htsat-unfused/);
		const other = await classifyAudio(clip('clap-blip-48k.wav'), spec('tiny-clap'), { ...options, functionToApply: 'softmax' }).catch((e) => e);
		expect(other).toBeInstanceOf(ModelConfigError);
		expect(other.hint).toMatch(/Classify with Your Own Labels/);
	});

	it('a CLAP folder without tokenizer.json, and a graph that is not CLAP behind a CLAP config', async () => {
		const { cpSync, mkdtempSync, rmSync } = await import('node:fs');
		const { tmpdir } = await import('node:os');
		const dir = mkdtempSync(path.join(tmpdir(), 'clap-broken-'));
		try {
			cpSync(path.join(MODELS, 'tiny-clap-combined'), dir, { recursive: true });
			rmSync(path.join(dir, 'tokenizer.json'));
			const error = await zeroShotAudio(clip('clap-blip-48k.wav'), loadModelSpec(dir, 'auto'), { ...options, candidateLabels: 'music' }).catch((e) => e);
			expect(error).toBeInstanceOf(ModelNotFoundError);
			expect(error.message).toMatch(/no tokenizer.json/);
			cpSync(path.join(MODELS, 'tiny-clap', 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
			cpSync(path.join(MODELS, 'tiny-ast', 'onnx', 'model.onnx'), path.join(dir, 'onnx', 'model.onnx'));
			await sessionCache.clear();
			const graph = await zeroShotAudio(clip('clap-blip-48k.wav'), loadModelSpec(dir, 'auto'), { ...options, candidateLabels: 'music' }).catch((e) => e);
			expect(graph).toBeInstanceOf(GraphMismatchError);
			expect(graph.message).toMatch(/expects an input "input_values"/);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});
});

describe('labels and templates', () => {
	it('accepts a comma-separated string or a list, trims, drops empties', () => {
		expect(parseCandidateLabels(' a dog barking ,glass breaking,, ')).toEqual(['a dog barking', 'glass breaking']);
		expect(parseCandidateLabels(['a siren', ' music ', '', 42])).toEqual(['a siren', 'music', '42']);
	});

	it('puts each label where {} is', () => {
		expect(hypotheses(['a dog'], 'This is a sound of {}.')).toEqual(['This is a sound of a dog.']);
	});
});
