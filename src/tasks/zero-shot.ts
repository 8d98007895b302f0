/**
 * Zero-shot audio classification with CLAP, as Python's
 * `pipeline("zero-shot-audio-classification")`: each candidate label goes
 * into the hypothesis template ("This is a sound of {}."), the texts and the
 * clip are embedded, and the scores are the softmax over
 * exp(logit_scale_a) x cosine(audio, text), highest first.
 *
 * Graphs, as the transformers.js exports ship them (onnx/ folder):
 * - `model*.onnx` (combined: input_ids, attention_mask, input_features ->
 *   logits_per_audio, text_embeds, audio_embeds) is always needed: it holds
 *   the model's learned logit scale, which is read once per model from one
 *   run (logits_per_audio / cosine), never assumed;
 * - `text_model*.onnx` + `audio_model*.onnx` (the two towers), when the
 *   folder has them for the same variant: texts and clips then run on their
 *   own tower only. Without them the combined graph embeds the labels once,
 *   and each batch of clips runs with a one-text placeholder.
 *
 * Label embeddings are computed once per (model, labels, template) and kept
 * (LRU), so changing labels costs one text pass, not one per item.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

import { AudioClassificationError, CancelledError, GraphMismatchError, ModelConfigError } from '../errors';
import type { FeatureTensor, FeatureTensors } from '../features';
import { pickFeeds, stackTensors } from '../inference/run';
import { type LoadedSession, sessionCache } from '../inference/session-cache';
import type { OutputTensor } from '../inference/worker-host';
import type { ModelSpec } from '../model/spec';
import { postprocess } from '../postprocess';
import type { Classification, ClassifyOptions, PreparedAudio } from './types';
import { loadTokenizer, type TokenBatch } from '../text/tokenizer';
import { batchingPays } from '../config';
import { getFeatureExtractor } from '../features';
import { Slicer } from '../util/slicer';
import { type ClassifierOptions, extractFeatures, type PreparedClassifier } from './classifier';

export const DEFAULT_HYPOTHESIS_TEMPLATE = 'This is a sound of {}.';
/**
 * Labels can come from a webhook's payload through an expression: bounded, so
 * a request cannot make the text pass huge. Texts are embedded 16 at a time.
 */
export const MAX_CANDIDATE_LABELS = 256;
export const MAX_LABEL_CHARS = 200;
const TEXT_BATCH = 16;

/** Labels from a comma-separated string or a list (an expression may give either); trimmed, empties dropped. */
export function parseCandidateLabels(value: unknown): string[] {
	let list: unknown[];
	if (Array.isArray(value)) list = value;
	else if (typeof value === 'string') list = value.split(',');
	else if (value === undefined || value === null) list = [];
	else list = [value];
	const labels = list
		.map((v) => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : ''))
		.map((v) => v.trim())
		.filter((v) => v.length > 0);
	if (labels.length === 0) {
		throw new ModelConfigError(
			'No candidate labels: {candidateLabels} is empty',
			'Write the sounds to listen for, separated by commas (e.g. "a dog barking, glass breaking, a siren"), or map a list from an earlier node.',
		);
	}
	if (labels.length > MAX_CANDIDATE_LABELS) {
		throw new ModelConfigError(
			`Too many candidate labels (${labels.length}; at most ${MAX_CANDIDATE_LABELS})`,
			'Each label is a text to embed and a score to rank: keep the list to the sounds that matter for the workflow.',
		);
	}
	const long = labels.find((l) => l.length > MAX_LABEL_CHARS);
	if (long !== undefined) {
		throw new ModelConfigError(
			`A candidate label is ${long.length} characters long (at most ${MAX_LABEL_CHARS}): "${long.slice(0, 40)}..."`,
			'Describe each sound in a few words ("glass breaking"); the model compares the audio with short sentences.',
		);
	}
	return labels;
}

/** The texts the model compares the clip with: the template with each label in place of `{}`. */
export function hypotheses(labels: string[], template: string): string[] {
	if (!template.includes('{}')) {
		throw new ModelConfigError(
			`The hypothesis template "${template.slice(0, 80)}" has no {} for the label`,
			`Put {} where the label goes, e.g. "${DEFAULT_HYPOTHESIS_TEMPLATE}".`,
		);
	}
	return labels.map((label) => template.split('{}').join(label));
}

/** The model is CLAP (config model_type, or its feature extractor); anything else gets a clear error. */
export function assertClap(spec: ModelSpec): void {
	if (spec.config.model_type === 'clap' || spec.preprocessor.feature_extractor_type === 'ClapFeatureExtractor') return;
	throw new ModelConfigError(
		`${spec.name} is not a CLAP model (model_type "${String(spec.config.model_type ?? 'unknown').slice(0, 40)}"): Classify with Your Own Labels needs an audio-text model`,
		'Pick a CLAP model, e.g. Xenova/clap-htsat-unfused or Xenova/larger_clap_general from the Hub list; use the Classify operation for this model.',
	);
}

interface Graphs {
	combined: string;
	text?: string;
	audio?: string;
}

function graphsOf(spec: ModelSpec): Graphs {
	const dir = path.dirname(spec.onnxPath);
	const base = path.basename(spec.onnxPath);
	const graphs: Graphs = { combined: spec.onnxPath };
	if (base.startsWith('model')) {
		const text = path.join(dir, `text_${base}`);
		const audio = path.join(dir, `audio_${base}`);
		if (existsSync(text) && existsSync(audio)) Object.assign(graphs, { text, audio });
	}
	return graphs;
}

type Options = Pick<ClassifyOptions, 'device' | 'backend' | 'threads' | 'signal'>;

async function withSession<T>(onnxPath: string, options: Options, fn: (s: LoadedSession) => Promise<T>): Promise<T> {
	return await sessionCache.use({ onnxPath, device: options.device, threads: options.threads, backend: options.backend }, fn);
}

async function run(session: LoadedSession, available: FeatureTensors, what: string): Promise<Record<string, OutputTensor>> {
	const feeds = pickFeeds(session.session.inputNames, available, (name) =>
		new GraphMismatchError(
			`The CLAP ${what} graph expects an input "${name}" that the node does not produce (it has ${Object.keys(available).join(', ')})`,
			'Use a CLAP export in transformers.js layout (e.g. Xenova/clap-htsat-unfused): text inputs input_ids and attention_mask, audio input input_features.',
		),
	);
	try {
		return await session.session.run(feeds);
	} catch (error) {
		throw new GraphMismatchError(
			`The CLAP ${what} graph rejected its input: ${String((error as Error).message).split('\n')[0].slice(0, 200)}`,
			'The preprocessor_config.json or tokenizer does not match the ONNX graph: use the files from the same Hub repo and revision.',
		);
	}
}

/** Rows of an output, each L2-normalised (CLAP compares directions). */
function embeddings(outputs: Record<string, OutputTensor>, name: string, rows: number, what: string): Float32Array[] {
	const t = outputs[name];
	const dims = t?.dims.map(Number) ?? [];
	if (!t || t.type !== 'float32' || dims.length !== 2 || dims[0] !== rows) {
		throw new GraphMismatchError(
			`The CLAP ${what} graph has no ${name} output of ${rows} rows${t ? ` (it gave ${t.type} [${dims.join(', ')}])` : ''}`,
			'Use a CLAP export in transformers.js layout (onnx/model.onnx with text_embeds and audio_embeds outputs).',
		);
	}
	const data = t.data as Float32Array;
	const width = dims[1];
	const out: Float32Array[] = [];
	for (let r = 0; r < rows; r++) {
		const row = Float32Array.from(data.subarray(r * width, (r + 1) * width));
		let norm = 0;
		for (const v of row) norm += v * v;
		norm = Math.sqrt(norm);
		if (!Number.isFinite(norm) || norm === 0) {
			throw new GraphMismatchError(
				`The CLAP ${what} graph produced an invalid embedding (zero, NaN or infinite)`,
				'The model file may be damaged, or the audio is extreme; try another variant of the model.',
			);
		}
		for (let i = 0; i < width; i++) row[i] /= norm;
		out.push(row);
	}
	return out;
}

function dot(a: Float32Array, b: Float32Array): number {
	let s = 0;
	for (let i = 0; i < a.length; i++) s += a[i] * b[i];
	return s;
}

/**
 * The model's exp(logit_scale_a), read from one combined-graph run: the
 * least-squares ratio of logits_per_audio to the cosines it was made from.
 */
function scaleFrom(outputs: Record<string, OutputTensor>, audio: Float32Array, texts: Float32Array[]): number {
	const logits = outputs.logits_per_audio;
	if (!logits || logits.type !== 'float32' || (logits.data as Float32Array).length < texts.length) {
		throw new GraphMismatchError(
			'The combined CLAP graph has no logits_per_audio output',
			'Use a CLAP export in transformers.js layout (onnx/model.onnx with logits_per_audio, text_embeds and audio_embeds outputs).',
		);
	}
	const l = logits.data as Float32Array;
	let num = 0;
	let den = 0;
	const cos = texts.map((t) => dot(audio, t));
	cos.forEach((c, j) => {
		num += l[j] * c;
		den += c * c;
	});
	const scale = num / den;
	const worst = Math.max(...cos.map((c, j) => Math.abs(l[j] - scale * c)));
	if (!Number.isFinite(scale) || scale <= 0 || worst > 1e-3 * Math.max(1, ...Array.from(l.subarray(0, texts.length), Math.abs))) {
		throw new GraphMismatchError(
			"The combined CLAP graph's logits are not a scaled cosine of its embeddings",
			'This does not look like a CLAP export: use onnx/model.onnx from a CLAP repo such as Xenova/clap-htsat-unfused.',
		);
	}
	return scale;
}

interface LabelSet {
	texts: Float32Array[];
}

/** Per (model graph, template, labels): the normalised text embeddings. Bounded: labels can come from expressions. */
const labelCache = new Map<string, Promise<LabelSet>>();
const LABEL_CACHE_SIZE = 64;
/** Per combined graph: exp(logit_scale_a). */
const scaleCache = new Map<string, number>();

/** How often texts were embedded (label-set cache misses), for tests and the log. */
export const zeroShotStats = { textPasses: 0, scaleReads: 0, lastScale: 0, lastAudioGraph: '' };

/** Forget cached label embeddings and scales (tests; a model folder replaced in place). */
export function clearZeroShotCaches(): void {
	labelCache.clear();
	scaleCache.clear();
}

function remember(key: string, value: Promise<LabelSet>): Promise<LabelSet> {
	labelCache.set(key, value);
	value.catch(() => labelCache.delete(key)); // a failure is not kept
	while (labelCache.size > LABEL_CACHE_SIZE) labelCache.delete(labelCache.keys().next().value as string);
	return value;
}

function rememberScale(combined: string, scale: number): void {
	scaleCache.set(combined, scale);
	zeroShotStats.scaleReads++;
	zeroShotStats.lastScale = scale;
}

/** One combined-graph run on these texts and one clip: text embeddings and the logit scale. */
async function probeCombined(graphs: Graphs, tokens: TokenBatch, rows: number, clip: FeatureTensors, options: Options) {
	return await withSession(graphs.combined, options, async (s) => {
		// A copy of the clip's tensors: feeds are handed over to ONNX Runtime's thread, and the clip is run again after.
		const copy: FeatureTensors = {};
		for (const [name, t] of Object.entries(clip)) copy[name] = { ...t, data: t.data.slice() };
		const outputs = await run(s, { ...tokens, ...copy }, 'combined');
		const texts = embeddings(outputs, 'text_embeds', rows, 'combined');
		const [audio] = embeddings(outputs, 'audio_embeds', 1, 'combined');
		return { texts, scale: scaleFrom(outputs, audio, texts) };
	});
}

async function labelSet(spec: ModelSpec, graphs: Graphs, texts: string[], firstClip: FeatureTensors, options: Options): Promise<LabelSet> {
	const key = `${graphs.text ?? graphs.combined}\u0000${texts.join('\u0001')}`;
	const hit = labelCache.get(key);
	if (hit) {
		labelCache.delete(key); // most recently used last
		labelCache.set(key, hit);
		return await hit;
	}
	return await remember(
		key,
		(async () => {
			const tokenizer = loadTokenizer(spec.dir);
			zeroShotStats.textPasses++;
			const out: Float32Array[] = [];
			for (let at = 0; at < texts.length; at += TEXT_BATCH) {
				const chunk = texts.slice(at, at + TEXT_BATCH);
				const tokens = tokenizer.batch(chunk);
				if (graphs.text) {
					out.push(...(await withSession(graphs.text, options, async (s) => embeddings(await run(s, { ...tokens }, 'text'), 'text_embeds', chunk.length, 'text'))));
					continue;
				}
				const probe = await probeCombined(graphs, tokens, chunk.length, firstClip, options);
				if (!scaleCache.has(graphs.combined)) rememberScale(graphs.combined, probe.scale);
				out.push(...probe.texts);
			}
			return { texts: out };
		})(),
	);
}

async function logitScale(spec: ModelSpec, graphs: Graphs, firstClip: FeatureTensors, options: Options): Promise<number> {
	const known = scaleCache.get(graphs.combined);
	if (known !== undefined) return known;
	// Two texts, so the ratio is checked against more than one cosine.
	const tokens = loadTokenizer(spec.dir).batch(['a sound', 'silence']);
	const { scale } = await probeCombined(graphs, tokens, 2, firstClip, options);
	rememberScale(graphs.combined, scale);
	return scale;
}

/** Which ONNX Runtime ran the audio, for the result. */
type RanOn = Pick<Classification, 'backend' | 'provider' | 'fallbackReason'>;

/** Audio embeddings of clips of one shape, in one run, and the session that ran them. */
async function audioEmbeddings(spec: ModelSpec, graphs: Graphs, clips: FeatureTensors[], options: Options): Promise<{ rows: Float32Array[]; ranOn: RanOn }> {
	const onnxPath = graphs.audio ?? graphs.combined;
	zeroShotStats.lastAudioGraph = onnxPath;
	const stacked: FeatureTensors = {};
	for (const name of Object.keys(clips[0])) stacked[name] = clips.length === 1 ? clips[0][name] : stackTensors(clips.map((c) => c[name]));
	// Combined graph only: one short placeholder text rides along; its embedding is not used.
	const feeds = graphs.audio ? stacked : { ...loadTokenizer(spec.dir).batch(['a sound']), ...stacked };
	const what = graphs.audio ? 'audio' : 'combined';
	return await withSession(onnxPath, options, async (s) => ({
		rows: embeddings(await run(s, feeds, what), 'audio_embeds', clips.length, what),
		ranOn: { backend: s.backend, provider: s.provider, fallbackReason: s.fallbackReason },
	}));
}

/** A prepared clip with its own labels and template (items may differ, through expressions). */
export interface ZeroShotClip extends PreparedAudio {
	candidateLabels: string[];
	hypothesisTemplate: string;
}

const MAX_AUDIO_BATCH = 8;

function shapeKey(f: FeatureTensors): string {
	return Object.entries(f)
		.map(([n, t]: [string, FeatureTensor]) => `${n}:${t.type}:${t.dims.join('x')}`)
		.join('|');
}

/**
 * Scores each clip against its labels. Clips are embedded in batches of the
 * same shape; each distinct label set is embedded once. One result per clip,
 * in order; a clip that fails yields its error, the others their labels.
 */
export async function zeroShotPrepared(
	clips: ZeroShotClip[],
	spec: ModelSpec,
	options: Omit<ClassifyOptions, 'functionToApply'>,
): Promise<Array<Classification | Error>> {
	assertClap(spec);
	const graphs = graphsOf(spec);
	const results: Array<Classification | Error> = new Array(clips.length);
	const groups = new Map<string, number[]>();
	clips.forEach((c, i) => {
		const key = shapeKey(c.features);
		groups.set(key, [...(groups.get(key) ?? []), i]);
	});
	for (const members of groups.values()) {
		for (let at = 0; at < members.length; at += MAX_AUDIO_BATCH) {
			const batch = members.slice(at, at + MAX_AUDIO_BATCH);
			if (options.signal?.aborted) throw new CancelledError();
			try {
				const first = clips[batch[0]].features;
				// Label sets first (the combined-only path reads the scale while embedding them)
				const sets = new Map<number, LabelSet>();
				for (const i of batch) {
					const c = clips[i];
					sets.set(i, await labelSet(spec, graphs, hypotheses(c.candidateLabels, c.hypothesisTemplate), first, options));
				}
				const scale = await logitScale(spec, graphs, first, options);
				const { rows: audio, ranOn } = await audioEmbeddings(spec, graphs, batch.map((i) => clips[i].features), options);
				batch.forEach((i, r) => {
					const c = clips[i];
					const texts = sets.get(i)!.texts;
					const logits = Float32Array.from(texts, (t) => scale * dot(audio[r], t));
					results[i] = {
						labels: postprocess(logits, {
							functionToApply: 'softmax',
							topK: c.post?.topK ?? options.topK,
							minScore: c.post?.minScore ?? options.minScore,
							labelOf: (j) => c.candidateLabels[j],
						}),
						duration: c.duration,
						decoder: c.decoder,
						...ranOn,
					};
				});
			} catch (error) {
				if (!(error instanceof AudioClassificationError) || error instanceof CancelledError) throw error;
				for (const i of batch) results[i] = error;
			}
		}
	}
	return results;
}

/** Whether a model is CLAP (compares audio with labels written by the user) rather than a classifier with labels of its own. */
export function isClap(spec: ModelSpec): boolean {
	return spec.config.model_type === 'clap' || spec.preprocessor.feature_extractor_type === 'ClapFeatureExtractor';
}

/** The spec with the user's labels as its labels (id2label), so windows, events and "what was heard" name them. */
export function withCandidateLabels(spec: ModelSpec, labels: string[]): ModelSpec {
	return { ...spec, config: { ...spec.config, id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])), problem_type: 'single_label_classification' } };
}

/**
 * CLAP as a prepared classifier over the user's labels: what the streaming detector (Detect
 * Events, the Audio Event Trigger) runs on. A window's logits are exp(logit_scale) x cosine with
 * each label's sentence, exactly as zeroShotPrepared scores a clip (softmax over them follows);
 * the label embeddings are computed once. The audio graph stays leased while `fn` runs.
 */
export async function withZeroShotClassifier<T>(
	spec: ModelSpec,
	candidateLabels: string[],
	hypothesisTemplate: string,
	options: ClassifierOptions,
	fn: (c: PreparedClassifier) => Promise<T>,
): Promise<T> {
	assertClap(spec);
	if (!candidateLabels.length) throw new ModelConfigError(`${spec.name} is a CLAP model: it needs labels to listen for`, 'Write the labels (e.g. smoke alarm, dog barking, glass breaking).');
	const graphs = graphsOf(spec);
	const texts = hypotheses(candidateLabels, hypothesisTemplate);
	const labeled = withCandidateLabels(spec, candidateLabels);
	const slicer = new Slicer(options.signal);
	return await withSession(graphs.audio ?? graphs.combined, options, async (session) =>
		await fn({
			spec: labeled,
			extractor: getFeatureExtractor(spec.preprocessor.feature_extractor_type),
			session,
			batches: batchingPays(session.bytes),
			features: (samples) => extractFeatures(spec, samples, slicer),
			async logits(batch) {
				if (options.signal?.aborted) throw new CancelledError();
				const labels = await labelSet(spec, graphs, texts, batch[0], options);
				const scale = await logitScale(spec, graphs, batch[0], options);
				const rows: Float32Array[] = [];
				for (let at = 0; at < batch.length; at += MAX_AUDIO_BATCH) {
					const { rows: audio } = await audioEmbeddings(spec, graphs, batch.slice(at, at + MAX_AUDIO_BATCH), options);
					for (const a of audio) rows.push(Float32Array.from(labels.texts, (t) => scale * dot(a, t)));
					await slicer.tick();
				}
				return rows;
			},
			label: (i) => candidateLabels[i],
		}),
	);
}
