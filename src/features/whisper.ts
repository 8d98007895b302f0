/**
 * WhisperFeatureExtractor: log10-mel spectrogram (n_fft 400, hop 160, periodic
 * Hann, reflect-padded centred frames, slaney mel filters), waveform padded or
 * trimmed to 30 s, last frame dropped, floor at max - 8, then (x + 4) / 4.
 */
import { cachedTable, hannWindow, type LogMelOptions, logMelSteps, melFilterBank, sparsify } from './dsp';
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

		const frames = Math.floor(nSamples / hop); // centred STFT gives one more; Whisper drops the last
		const stft: LogMelOptions = {
			...cachedTable(`whisper:${nMels}:${nFft}:${hop}:${sampleRate}`, () => ({
				fftLength: nFft,
				frameLength: nFft,
				hop,
				window: hannWindow(nFft, true),
				center: true,
				filters: sparsify(
					melFilterBank({
						numFrequencyBins: nFft / 2 + 1,
						numMelFilters: nMels,
						minFrequency: 0,
						maxFrequency: 8000,
						samplingRate: sampleRate,
						melScale: 'slaney',
						norm: 'slaney',
					}),
				),
				log: 'log10' as const,
				floor: MEL_FLOOR,
				layout: 'melMajor' as const,
			})),
			stride: frames,
		};
		const logMel = new Float32Array(nMels * frames); // [mel][frame]
		// Frames wholly inside the zero padding (most of the 30 s for a voice note)
		// have zero power: their value is the floor's, without an FFT.
		const real = Math.min(nSamples, samples.length);
		const silentFrom = real + nFft <= nSamples ? Math.max(0, Math.ceil((real + nFft / 2) / hop)) : frames;
		if (silentFrom < frames) {
			const floorValue = Math.log10(MEL_FLOOR);
			for (let m = 0; m < nMels; m++) logMel.fill(floorValue, m * frames + silentFrom, (m + 1) * frames);
		}
		yield* logMelSteps(wave, stft, logMel, 0, Math.min(frames, silentFrom));
		let max = -Infinity;
		for (let i = 0; i < logMel.length; i++) if (logMel[i] > max) max = logMel[i];
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
