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
	*steps(samples: Float32Array, config: PreprocessorConfig, owned = false): Steps<FeatureTensors> {
		const CHUNK = 1 << 20;
		let values = samples;
		if (config.do_normalize) {
			// The loops are plain functions (fully optimised); the generator only slices long clips.
			const n = samples.length;
			let sum = 0;
			for (let from = 0; from < n; from += CHUNK) {
				sum += sumOf(samples, from, Math.min(n, from + CHUNK));
				yield;
			}
			const mean = sum / n;
			let squares = 0;
			for (let from = 0; from < n; from += CHUNK) {
				squares += squaredDeviations(samples, mean, from, Math.min(n, from + CHUNK));
				yield;
			}
			const variance = squares / n; // population variance, like numpy's var()
			const scale = 1 / Math.sqrt(variance + 1e-7);
			values = owned ? samples : new Float32Array(n); // element by element: in place is the same
			for (let from = 0; from < n; from += CHUNK) {
				normalise(samples, values, mean, scale, from, Math.min(n, from + CHUNK));
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

function sumOf(x: Float32Array, from: number, to: number): number {
	let s = 0;
	for (let i = from; i < to; i++) s += x[i];
	return s;
}

function squaredDeviations(x: Float32Array, mean: number, from: number, to: number): number {
	let s = 0;
	for (let i = from; i < to; i++) s += (x[i] - mean) * (x[i] - mean);
	return s;
}

function normalise(x: Float32Array, out: Float32Array, mean: number, scale: number, from: number, to: number): void {
	for (let i = from; i < to; i++) out[i] = (x[i] - mean) * scale;
}
