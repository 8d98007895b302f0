/**
 * The audio-classification pipeline, free of n8n: bytes -> decode -> features
 * -> ONNX Runtime -> labels. The node maps parameters to this call.
 */
import { decodeAudio } from './audio/decode';
import { AudioClassificationError, CancelledError } from './errors';
import { checkInferenceBudget } from './inference/budget';
import { sessionCache } from './inference/session-cache';
import type { ModelSpec } from './model/spec';
import { extractFeatures, featureValues, withClassifier } from './tasks/classifier';
import { assertClap, DEFAULT_HYPOTHESIS_TEMPLATE, hypotheses, parseCandidateLabels, zeroShotPrepared } from './tasks/zero-shot';
import { postprocess } from './postprocess';
import type { Classification, ClassifyOptions, PreparedAudio } from './tasks/types';
import { Slicer } from './util/slicer';

export type { Classification, ClassifyOptions, PreparedAudio } from './tasks/types';



export async function classifyAudio(
	audio: Buffer,
	spec: ModelSpec,
	options: ClassifyOptions,
): Promise<Classification> {
	const [result] = await classifyPrepared([await prepareAudio(audio, spec, options)], spec, options);
	if (result instanceof Error) throw result;
	return result;
}


/** Decode, check the inference budget, compute the features: everything before ONNX Runtime. */
export async function prepareAudio(
	audio: Buffer,
	spec: ModelSpec,
	options: Pick<ClassifyOptions, 'ffmpegPath' | 'signal' | 'maxDuration' | 'decoder'> & Partial<Pick<ClassifyOptions, 'device' | 'backend' | 'threads'>>,
): Promise<PreparedAudio> {
	// The first item of a process: ONNX Runtime's thread and the model load while this clip decodes.
	if (options.device) void sessionCache.preload({ onnxPath: spec.onnxPath, device: options.device, threads: options.threads, backend: options.backend });
	const decoded = await decodeAudio(audio, {
		samplingRate: spec.samplingRate,
		ffmpegPath: options.ffmpegPath,
		signal: options.signal,
		maxDuration: options.maxDuration,
		decoder: options.decoder,
	});
	checkInferenceBudget(spec, decoded.samples.length);
	// The decoded samples are used for nothing else: the extractor may normalise them in place.
	const features = await extractFeatures(spec, decoded.samples, new Slicer(options.signal), true);
	return { features, duration: decoded.duration, decoder: decoded.decoder };
}

/** Most clips in one ONNX Runtime call, and most input values (floats) in one batch. */
export const MAX_BATCH = 16;
const MAX_BATCH_VALUES = 16 * 16000 * 10;

/**
 * Classifies prepared clips with one session: clips whose inputs have the
 * same shape run as one batch (same scores as one by one, to float rounding;
 * never padded), the others alone. One result per clip, in order; a clip that
 * fails yields its error, the others their labels.
 */
export async function classifyPrepared(
	clips: PreparedAudio[],
	spec: ModelSpec,
	options: ClassifyOptions,
): Promise<Array<Classification | Error>> {
	return await withClassifier(spec, options, async (classifier) => {
		const results: Array<Classification | Error> = new Array(clips.length);
		const groups = new Map<string, number[]>();
		clips.forEach((clip, i) => {
			const key = Object.entries(clip.features).map(([name, t]) => `${name}:${t.type}:${t.dims.join('x')}`).join('|');
			const group = groups.get(key);
			if (group) group.push(i);
			else groups.set(key, [i]);
		});
		const finish = (i: number, logits: Float32Array) => {
			const clip = clips[i];
			const post = { ...options, ...clip.post };
			results[i] = {
				labels: postprocess(logits, {
					functionToApply: post.functionToApply,
					problemType: spec.config.problem_type,
					topK: post.topK,
					minScore: post.minScore,
					labelOf: classifier.label,
				}),
				duration: clip.duration,
				decoder: clip.decoder,
				backend: classifier.session.backend,
				provider: classifier.session.provider,
				fallbackReason: classifier.session.fallbackReason,
			};
		};
		for (const members of groups.values()) {
			const values = featureValues(clips[members[0]].features);
			const size = classifier.batches ? Math.max(1, Math.min(MAX_BATCH, Math.floor(MAX_BATCH_VALUES / Math.max(1, values)))) : 1;
			for (let at = 0; at < members.length; at += size) {
				const batch = members.slice(at, at + size);
				try {
					const rows = await classifier.logits(batch.map((i) => clips[i].features));
					batch.forEach((i, r) => finish(i, rows[r]));
				} catch (error) {
					if (!(error instanceof AudioClassificationError) || error instanceof CancelledError) throw error;
					if (batch.length === 1) {
						results[batch[0]] = error;
						continue;
					}
					// A batch that fails (e.g. NaN scores from one clip): each clip alone, so the error lands on its own item.
					for (const i of batch) {
						try {
							finish(i, (await classifier.logits([clips[i].features]))[0]);
						} catch (e) {
							if (!(e instanceof AudioClassificationError) || e instanceof CancelledError) throw e;
							results[i] = e;
						}
					}
				}
			}
		}
		return results;
	});
}

/** Zero-shot: one clip against labels written by the user (CLAP). */
export async function zeroShotAudio(
	audio: Buffer,
	spec: ModelSpec,
	options: Omit<ClassifyOptions, 'functionToApply'> & { candidateLabels: unknown; hypothesisTemplate?: string },
): Promise<Classification> {
	assertClap(spec);
	const candidateLabels = parseCandidateLabels(options.candidateLabels);
	const hypothesisTemplate = options.hypothesisTemplate ?? DEFAULT_HYPOTHESIS_TEMPLATE;
	hypotheses(candidateLabels, hypothesisTemplate);
	const prepared = await prepareAudio(audio, spec, options);
	const [result] = await zeroShotPrepared([{ ...prepared, candidateLabels, hypothesisTemplate }], spec, options);
	if (result instanceof Error) throw result;
	return result;
}
