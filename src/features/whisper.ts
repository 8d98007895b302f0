/**
 * WhisperFeatureExtractor: log10-mel spectrogram (n_fft 400, hop 160, periodic
 * Hann, reflect-padded centred frames, slaney mel filters), waveform padded or
 * trimmed to 30 s, last frame dropped, floor at max - 8, then (x + 4) / 4.
 */
import { fftOfSize } from './fft';
import { applyFilter, cachedTable, slaneyMelBanks, sparsify } from './mel';
import { runSync, type Steps } from '../util/slicer';
import type { FeatureExtractor, FeatureTensors, PreprocessorConfig } from './types';

const MEL_FLOOR = 1e-10;

export const whisperFeatureExtractor: FeatureExtractor = {
	outputs: ['input_features'],
	extract(samples: Float32Array, config: PreprocessorConfig): FeatureTensors {
		return runSync(this.steps(samples, config));
	},
	*steps(samples: Float32Array, config: PreprocessorConfig): Steps<FeatureTensors> {
		const nFft = config.n_fft ?? 400;
		const hop = config.hop_length ?? 160;
		const sampleRate = config.sampling_rate ?? 16000;
		const nMels = config.feature_size ?? 80;
		const nSamples = config.n_samples ?? (config.chunk_length ?? 30) * sampleRate;
		const wave = new Float64Array(nSamples);
		for (let i = 0; i < Math.min(nSamples, samples.length); i++) wave[i] = samples[i];
		if (config.do_normalize) normalize(wave, Math.min(nSamples, samples.length));

		const half = nFft / 2;
		const reflect = (i: number): number => {
			if (i < 0) return wave[-i];
			if (i >= nSamples) return wave[2 * (nSamples - 1) - i];
			return wave[i];
		};
		const frames = Math.floor(nSamples / hop); // centred STFT gives one more; Whisper drops the last
		const bins = half + 1;
		const { banks, window } = cachedTable(`whisper:${nMels}:${nFft}:${sampleRate}`, () => {
			const hann = new Float64Array(nFft); // periodic Hann, as numpy's hanning(n + 1)[:-1]
			for (let i = 0; i < nFft; i++) hann[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / nFft);
			return { banks: sparsify(slaneyMelBanks(nMels, bins, sampleRate, 0, 8000)), window: hann };
		});
		const fft = fftOfSize(nFft);
		const frame = new Float64Array(nFft);
		const power = new Float64Array(bins);
		const logMel = new Float32Array(nMels * frames); // [mel][frame]
		let max = -Infinity;
		// Frames wholly inside the zero padding (most of the 30 s for a voice note)
		// have zero power: their value is the floor's, without an FFT.
		const real = Math.min(nSamples, samples.length);
		const silentFrom = real + nFft <= nSamples ? Math.max(0, Math.ceil((real + half) / hop)) : frames;
		if (silentFrom < frames) {
			const floorValue = Math.log10(MEL_FLOOR);
			for (let m = 0; m < nMels; m++) logMel.fill(floorValue, m * frames + silentFrom, (m + 1) * frames);
			max = floorValue;
		}
		for (let t = 0; t < Math.min(frames, silentFrom); t++) {
			if (t % 256 === 255) yield;
			const start = t * hop - half;
			for (let i = 0; i < nFft; i++) frame[i] = reflect(start + i) * window[i];
			fft.powerSpectrum(frame, power);
			for (let m = 0; m < nMels; m++) {
				const v = Math.log10(Math.max(applyFilter(banks[m], power), MEL_FLOOR));
				logMel[m * frames + t] = v;
				if (v > max) max = v;
			}
		}
		const floor = max - 8;
		for (let i = 0; i < logMel.length; i++) logMel[i] = (Math.max(logMel[i], floor) + 4) / 4;
		return { input_features: { type: 'float32', data: logMel, dims: [1, nMels, frames] } };
	},
};

function normalize(wave: Float64Array, length: number): void {
	// transformers normalises only the real (unpadded) part, then pads with 0.
	let mean = 0;
	for (let i = 0; i < length; i++) mean += wave[i];
	mean /= length || 1;
	let variance = 0;
	for (let i = 0; i < length; i++) variance += (wave[i] - mean) ** 2;
	variance /= length || 1;
	const scale = 1 / Math.sqrt(variance + 1e-7);
	for (let i = 0; i < length; i++) wave[i] = (wave[i] - mean) * scale;
}
