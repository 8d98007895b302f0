/**
 * The prepared classifier every task uses: a model spec, its feature
 * extractor (tables built once per config and kept), and a leased session
 * from the cache; it turns Float32Array clips or windows into rows of logits,
 * several per ONNX Runtime call. Classify runs it on one whole clip, Detect
 * Events on batches of windows; later tasks take the same path.
 */
import { batchingPays } from '../config';
import { CancelledError, ModelConfigError } from '../errors';
import { type FeatureExtractor, getFeatureExtractor, type FeatureTensors } from '../features';
import type { BackendChoice } from '../inference/backends';
import { runClassifierBatch } from '../inference/run';
import type { Device } from '../inference/runtime';
import { type LoadedSession, sessionCache } from '../inference/session-cache';
import { labelOf, type ModelSpec } from '../model/spec';
import { runSliced, Slicer } from '../util/slicer';

export interface ClassifierOptions {
	device: Device;
	backend?: BackendChoice;
	threads?: number;
	signal?: AbortSignal;
}

export interface PreparedClassifier {
	readonly spec: ModelSpec;
	readonly extractor: FeatureExtractor;
	readonly session: LoadedSession;
	/** Whether clips should share ONNX Runtime calls (small models), or run one by one (large ones). */
	readonly batches: boolean;
	/** The features of one clip or window (sliced: the event loop keeps turning). */
	features(samples: Float32Array): Promise<FeatureTensors>;
	/** Logits, one row per input; the inputs of one call must have the same length. */
	logits(batch: FeatureTensors[]): Promise<Float32Array[]>;
	label(index: number): string;
}

/**
 * The model's input tensors for one clip or window, computed in slices (the event loop keeps
 * turning). `owned`: the samples are the caller's to give away (the extractor may overwrite them).
 */
export async function extractFeatures(spec: ModelSpec, samples: Float32Array, slicer: Slicer, owned = false): Promise<FeatureTensors> {
	return await runSliced(getFeatureExtractor(spec.preprocessor.feature_extractor_type).steps(samples, spec.preprocessor, owned), slicer);
}

/** How many input values (floats or ints) a clip's tensors hold: what a batch or a queue is bounded by. */
export function featureValues(features: FeatureTensors): number {
	return Object.values(features).reduce((n, t) => n + t.data.length, 0);
}

/** Runs `fn` with the model's classifier; the session stays leased (never released under it) until fn ends. */
export async function withClassifier<T>(spec: ModelSpec, options: ClassifierOptions, fn: (c: PreparedClassifier) => Promise<T>): Promise<T> {
	if (spec.config.model_type === 'clap') {
		throw new ModelConfigError(
			`${spec.name} is a CLAP model: it has no labels of its own, it compares audio with labels you write`,
			'Use the operation "Classify with Your Own Labels" and write the candidate labels.',
		);
	}
	const extractor = getFeatureExtractor(spec.preprocessor.feature_extractor_type);
	const slicer = new Slicer(options.signal);
	return await sessionCache.use(
		{ onnxPath: spec.onnxPath, device: options.device, threads: options.threads, backend: options.backend },
		async (session) =>
			await fn({
				spec,
				extractor,
				session,
				batches: batchingPays(session.bytes),
				features: (samples) => extractFeatures(spec, samples, slicer),
				async logits(batch) {
					if (options.signal?.aborted) throw new CancelledError();
					const rows = await runClassifierBatch(session.session, batch);
					await slicer.tick();
					return rows.map((r) => r.data);
				},
				label: (i) => labelOf(spec.config, i),
			}),
	);
}
