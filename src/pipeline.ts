/**
 * The audio-classification pipeline, free of n8n: bytes -> decode -> features
 * -> ONNX Runtime -> labels. The node maps parameters to this call.
 */
import { decodeAudio, type DecoderChoice } from './audio/decode';
import { checkInferenceBudget } from './inference/budget';
import type { Backend, BackendChoice } from './inference/backends';
import type { Device } from './inference/runtime';
import type { ModelSpec } from './model/spec';
import { withClassifier } from './tasks/classifier';
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
	const decoded = await decodeAudio(audio, {
		samplingRate: spec.samplingRate,
		ffmpegPath: options.ffmpegPath,
		signal: options.signal,
		maxDuration: options.maxDuration,
		decoder: options.decoder,
	});
	checkInferenceBudget(spec, decoded.samples.length);
	return await withClassifier(spec, options, async (classifier) => {
		const [logits] = await classifier.logits([await classifier.features(decoded.samples)]);
		const labels = postprocess(logits, {
			functionToApply: options.functionToApply,
			problemType: spec.config.problem_type,
			topK: options.topK,
			minScore: options.minScore,
			labelOf: classifier.label,
		});
		return {
			labels,
			duration: decoded.duration,
			decoder: decoded.decoder,
			backend: classifier.session.backend,
			provider: classifier.session.provider,
			fallbackReason: classifier.session.fallbackReason,
		};
	});
}
