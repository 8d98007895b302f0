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
