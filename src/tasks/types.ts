/**
 * Types the tasks share with the facade (pipeline.ts) and with each other,
 * in a file that imports no task: no two files import each other.
 */
import type { DecoderChoice } from '../audio/decode';
import type { FeatureTensors } from '../features';
import type { Backend, BackendChoice } from '../inference/types';
import type { Device } from '../inference/runtime';
import type { FunctionToApply, LabelScore } from '../postprocess';

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

/** A clip decoded and turned into the model's input tensors, ready to be batched with others. */
export interface PreparedAudio {
	features: FeatureTensors;
	/** Seconds of audio after decoding. */
	duration: number;
	decoder: string;
	/** Per-clip post-processing (Top K, Minimum Score, Function to Apply); the call's options otherwise. */
	post?: Pick<ClassifyOptions, 'topK' | 'minScore' | 'functionToApply'>;
}

export interface DetectedEvent {
	label: string;
	/** Seconds from the start of the recording. */
	start: number;
	end: number;
	/** Highest window score of the event. */
	score: number;
	/** Mean window score of the event. */
	meanScore: number;
}
