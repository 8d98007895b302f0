import type { Steps } from '../util/slicer';

/** Tensors produced by a feature extractor, independent of ONNX Runtime. */
export interface FeatureTensor {
	type: 'float32' | 'int64';
	data: Float32Array | BigInt64Array;
	dims: number[];
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
	[key: string]: unknown;
}

export interface FeatureExtractor {
	/** Names of the tensors it can produce, e.g. input_values, attention_mask. */
	readonly outputs: readonly string[];
	extract(samples: Float32Array, config: PreprocessorConfig): FeatureTensors;
	/** The same computation in steps, so the pipeline can yield to n8n's event loop between them. */
	steps(samples: Float32Array, config: PreprocessorConfig): Steps<FeatureTensors>;
}
