import type { Steps } from '../util/slicer';

/** Tensors produced by a feature extractor, independent of ONNX Runtime. */
export interface FeatureTensor {
	type: 'float32' | 'int64' | 'bool';
	data: Float32Array | BigInt64Array | Uint8Array;
	dims: number[];
	/**
	 * Every value is this number, and `data` is empty: ONNX Runtime's thread
	 * builds the array (a 10-minute clip's all-ones attention mask is 77 MB,
	 * written outside n8n's event loop).
	 */
	fill?: number;
}

export type FeatureTensors = Record<string, FeatureTensor>;

/** preprocessor_config.json as the Hub stores it (fields we read). */
export interface PreprocessorConfig {
	feature_extractor_type?: string;
	sampling_rate?: number;
	do_normalize?: boolean;
	return_attention_mask?: boolean;
	feature_size?: number;
	// AST
	num_mel_bins?: number;
	max_length?: number;
	mean?: number;
	std?: number;
	// Whisper
	n_fft?: number;
	hop_length?: number;
	chunk_length?: number;
	n_samples?: number;
	nb_max_frames?: number;
	// CLAP
	fft_window_size?: number;
	frequency_min?: number;
	frequency_max?: number;
	max_length_s?: number;
	nb_max_samples?: number;
	padding?: string;
	truncation?: string;
	[key: string]: unknown;
}

export interface FeatureExtractor {
	/** Names of the tensors it can produce, e.g. input_values, attention_mask. */
	readonly outputs: readonly string[];
	extract(samples: Float32Array, config: PreprocessorConfig): FeatureTensors;
	/**
	 * The same computation in steps, so the pipeline can yield to n8n's event loop between them.
	 * `owned`: the caller hands the samples over, and they may be overwritten (no copy).
	 */
	steps(samples: Float32Array, config: PreprocessorConfig, owned?: boolean): Steps<FeatureTensors>;
}

/**
 * Mel filters with only their non-zero spans, flat: filter m weighs
 * `power[shift[m] + k]` by `weights[k]` for k in [starts[m], ends[m]). Built
 * once per config (in the cached tables); applying them skips the zeros.
 */
export interface SparseMel {
	count: number;
	starts: Int32Array;
	ends: Int32Array;
	shift: Int32Array;
	weights: Float64Array;
}

/** One log-mel spectrogram's settings (dsp.ts computes it; parallel.ts hands half of it to the helper thread). */
export interface LogMelOptions {
	/** FFT size; frames shorter than it are zero-padded at the end. */
	fftLength: number;
	frameLength: number;
	hop: number;
	/** frameLength values. */
	window: Float64Array;
	/** Centred frames: the signal reflect-padded by fftLength / 2 at both ends (torch.stft center=True). */
	center: boolean;
	/** Kaldi: subtract each frame's mean, then x[i] - k x[i-1] (the first sample against itself). */
	removeDcOffset?: boolean;
	preemphasis?: number;
	filters: SparseMel;
	/** Natural log, log10, or decibels (10 log10), of max(mel energy, floor). */
	log: 'log' | 'log10' | 'dB';
	floor: number;
	/** Where frame t, filter m goes: out[t * mels + m] (frame-major) or out[m * stride + t] (mel-major). */
	layout: 'frameMajor' | 'melMajor';
	/** Mel-major row length (the total frame count); frame-major ignores it. */
	stride?: number;
	/** Index of the first output frame in `out` (frame-major: crops write where they belong). */
	outFrame?: number;
}
