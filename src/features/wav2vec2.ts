/**
 * Wav2Vec2FeatureExtractor (wav2vec2, HuBERT, WavLM, data2vec-audio, UniSpeech,
 * SEW): the raw waveform, optionally normalised to zero mean and unit variance
 * over the whole clip, as transformers' zero_mean_unit_var_norm does.
 */
import { runSync, type Steps } from '../util/slicer';
import type { FeatureExtractor, FeatureTensors, PreprocessorConfig } from './types';

export const wav2vec2FeatureExtractor: FeatureExtractor = {
	outputs: ['input_values', 'attention_mask'],
	extract(samples: Float32Array, config: PreprocessorConfig): FeatureTensors {
		return runSync(this.steps(samples, config));
	},
	*steps(samples: Float32Array, config: PreprocessorConfig): Steps<FeatureTensors> {
		const CHUNK = 1 << 20;
		let values = samples;
		if (config.do_normalize) {
			const n = samples.length;
			let mean = 0;
			for (let from = 0; from < n; from += CHUNK) {
				for (let i = from; i < Math.min(n, from + CHUNK); i++) mean += samples[i];
				yield;
			}
			mean /= n;
			let variance = 0;
			for (let from = 0; from < n; from += CHUNK) {
				for (let i = from; i < Math.min(n, from + CHUNK); i++) variance += (samples[i] - mean) * (samples[i] - mean);
				yield;
			}
			variance /= n; // population variance, like numpy's var()
			const scale = 1 / Math.sqrt(variance + 1e-7);
			values = new Float32Array(n);
			for (let from = 0; from < n; from += CHUNK) {
				for (let i = from; i < Math.min(n, from + CHUNK); i++) values[i] = (samples[i] - mean) * scale;
				yield;
			}
		}
		const tensors: FeatureTensors = { input_values: { type: 'float32', data: values, dims: [1, values.length] } };
		// Built only when the graph asks for it: 8 bytes per sample.
		Object.defineProperty(tensors, 'attention_mask', {
			enumerable: true,
			get: () => ({ type: 'int64', data: new BigInt64Array(0), dims: [1, values.length], fill: 1 }),
		});
		return tensors;
	},
};
