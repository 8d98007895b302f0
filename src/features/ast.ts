/**
 * ASTFeatureExtractor (Audio Spectrogram Transformer): Kaldi fbank as
 * torchaudio.compliance.kaldi.fbank computes it with AST's arguments
 * (hanning window, no dither), padded/truncated to max_length frames, then
 * (x - mean) / (2 * std).
 */
import { fftOfSize } from './fft';
import { applyFilter, cachedTable, kaldiMelBanks, sparsify } from './mel';
import { runSync, type Steps } from '../util/slicer';
import type { FeatureExtractor, FeatureTensors, PreprocessorConfig } from './types';

const FRAME_LENGTH = 400; // 25 ms at 16 kHz
const FRAME_SHIFT = 160; // 10 ms
const PREEMPHASIS = 0.97;
const LOG_FLOOR = 1.1920928955078125e-7; // float32 epsilon, Kaldi's floor

/**
 * Fbank frames of the clip, written row by row into `out` ([maxFrames][numMelBins],
 * zero beyond the clip, as AST pads); at most maxFrames (AST truncates to max_length).
 */
function* kaldiFbankSteps(samples: Float32Array, sampleRate: number, numMelBins: number, maxFrames: number, out: Float32Array): Steps<number> {
	const frameLength = Math.round((sampleRate * FRAME_LENGTH) / 16000);
	const frameShift = Math.round((sampleRate * FRAME_SHIFT) / 16000);
	const padded = 2 ** Math.ceil(Math.log2(frameLength));
	const frames = Math.min(maxFrames, samples.length < frameLength ? 0 : 1 + Math.floor((samples.length - frameLength) / frameShift));
	const { banks, window } = cachedTable(`kaldi:${numMelBins}:${padded}:${sampleRate}:${frameLength}`, () => {
		const hann = new Float64Array(frameLength); // Kaldi's "hanning" is the symmetric window
		for (let i = 0; i < frameLength; i++) hann[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (frameLength - 1));
		return { banks: sparsify(kaldiMelBanks(numMelBins, padded, sampleRate)), window: hann };
	});
	const fft = fftOfSize(padded);
	const frame = new Float64Array(padded);
	const power = new Float64Array(padded / 2 + 1);
	for (let t = 0; t < frames; t++) {
		if (t % 64 === 63) yield;
		const start = t * frameShift;
		let mean = 0;
		for (let i = 0; i < frameLength; i++) mean += samples[start + i];
		mean /= frameLength;
		// remove DC, pre-emphasis (x[i] - 0.97 x[i-1], the first sample against itself), window
		let previous = samples[start] - mean;
		frame[0] = (previous - PREEMPHASIS * previous) * window[0];
		for (let i = 1; i < frameLength; i++) {
			const x = samples[start + i] - mean;
			frame[i] = (x - PREEMPHASIS * previous) * window[i];
			previous = x;
		}
		fft.powerSpectrum(frame, power); // the tail past frameLength stays zero
		const row = t * numMelBins;
		for (let b = 0; b < numMelBins; b++) out[row + b] = Math.log(Math.max(applyFilter(banks[b], power), LOG_FLOOR));
	}
	return frames;
}

export const astFeatureExtractor: FeatureExtractor = {
	outputs: ['input_values'],
	extract(samples: Float32Array, config: PreprocessorConfig): FeatureTensors {
		return runSync(this.steps(samples, config));
	},
	*steps(samples: Float32Array, config: PreprocessorConfig): Steps<FeatureTensors> {
		const numMelBins = config.num_mel_bins ?? 128;
		const maxLength = config.max_length ?? 1024;
		const mean = config.mean ?? -4.2677393;
		const std = config.std ?? 4.5689974;
		const doNormalize = config.do_normalize ?? true;
		const data = new Float32Array(maxLength * numMelBins); // zero padding, as AST pads
		yield* kaldiFbankSteps(samples, config.sampling_rate ?? 16000, numMelBins, maxLength, data);
		if (doNormalize) {
			for (let i = 0; i < data.length; i++) data[i] = (data[i] - mean) / (std * 2);
		}
		return { input_values: { type: 'float32', data, dims: [1, maxLength, numMelBins] } };
	},
};
