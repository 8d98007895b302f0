/**
 * The audio-classification pipeline, free of n8n: bytes -> decode -> features
 * -> ONNX Runtime -> labels. The node maps parameters to this call.
 */
import { decodeAudio, type DecoderChoice } from './audio/decode';
import { CancelledError } from './errors';
import { getFeatureExtractor } from './features';
import { checkInferenceBudget } from './inference/budget';
import { runSliced, Slicer } from './util/slicer';
import type { Backend, BackendChoice } from './inference/backends';
import type { Device } from './inference/runtime';
import { runClassifier } from './inference/run';
import { sessionCache } from './inference/session-cache';
import { labelOf, type ModelSpec } from './model/spec';
import { type FunctionToApply, type LabelScore, postprocess } from './postprocess';

export interface ClassifyOptions {
	topK: number;
	functionToApply: FunctionToApply;
	minScore?: number;
	device: Device;
	/** ONNX Runtime to use: `auto` (native when it loads here, else WASM), `native` or `wasm`. */
	backend?: BackendChoice;
	threads?: number;
	ffmpegPath?: string;
	signal?: AbortSignal;
	/** Longest audio accepted, in seconds (default 600). */
	maxDuration?: number;
	/** Which decoders may run: `auto` (built-in first, then ffmpeg), `builtIn` or `ffmpeg`. */
	decoder?: DecoderChoice;
}

export interface Classification {
	labels: LabelScore[];
	/** Seconds of audio after decoding. */
	duration: number;
	decoder: string;
	/** The ONNX Runtime that ran the model: 'native' or 'wasm'. */
	backend: Backend;
	provider: string;
	fallbackReason?: string;
}

export async function classifyAudio(
	audio: Buffer,
	spec: ModelSpec,
	options: ClassifyOptions,
): Promise<Classification> {
	const extractor = getFeatureExtractor(spec.preprocessor.feature_extractor_type);
	const decoded = await decodeAudio(audio, {
		samplingRate: spec.samplingRate,
		ffmpegPath: options.ffmpegPath,
		signal: options.signal,
		maxDuration: options.maxDuration,
		decoder: options.decoder,
	});
	checkInferenceBudget(spec, decoded.samples.length);
	const features = await runSliced(extractor.steps(decoded.samples, spec.preprocessor), new Slicer(options.signal));
	return await sessionCache.use(
		{ onnxPath: spec.onnxPath, device: options.device, threads: options.threads, backend: options.backend },
		async (loaded) => {
			if (options.signal?.aborted) throw new CancelledError();
			const logits = await runClassifier(loaded.session, features);
			const labels = postprocess(logits.data, {
				functionToApply: options.functionToApply,
				problemType: spec.config.problem_type,
				topK: options.topK,
				minScore: options.minScore,
				labelOf: (i) => labelOf(spec.config, i),
			});
			return {
				labels,
				duration: decoded.duration,
				decoder: decoded.decoder,
				backend: loaded.backend,
				provider: loaded.provider,
				fallbackReason: loaded.fallbackReason,
			};
		},
	);
}
