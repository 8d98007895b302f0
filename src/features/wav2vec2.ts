/**
 * Wav2Vec2FeatureExtractor (wav2vec2, HuBERT, WavLM, data2vec-audio, UniSpeech,
 * SEW): the raw waveform, optionally normalised to zero mean and unit variance
 * over the whole clip, as transformers' zero_mean_unit_var_norm does.
 */
import type { FeatureExtractor, FeatureTensors, PreprocessorConfig } from './types';

export const wav2vec2FeatureExtractor: FeatureExtractor = {
	outputs: ['input_values', 'attention_mask'],
	extract(samples: Float32Array, config: PreprocessorConfig): FeatureTensors {
		let values = samples;
		if (config.do_normalize) {
			let mean = 0;
			for (const s of samples) mean += s;
			mean /= samples.length;
			let variance = 0;
			for (const s of samples) variance += (s - mean) * (s - mean);
			variance /= samples.length; // population variance, like numpy's var()
			const scale = 1 / Math.sqrt(variance + 1e-7);
			values = new Float32Array(samples.length);
			for (let i = 0; i < samples.length; i++) values[i] = (samples[i] - mean) * scale;
		}
		return {
			input_values: { type: 'float32', data: values, dims: [1, values.length] },
			attention_mask: {
				type: 'int64',
				data: new BigInt64Array(values.length).fill(1n),
				dims: [1, values.length],
			},
		};
	},
};
