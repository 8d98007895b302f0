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

/** Fbank frames of the clip; at most maxFrames (the ones the model keeps: AST truncates to max_length). */
function* kaldiFbankSteps(samples: Float32Array, sampleRate: number, numMelBins: number, maxFrames: number): Steps<Float32Array[]> {
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
	const out: Float32Array[] = [];
	for (let t = 0; t < frames; t++) {
		if (t % 64 === 63) yield;
		const start = t * frameShift;
		let mean = 0;
		for (let i = 0; i < frameLength; i++) mean += samples[start + i];
		mean /= frameLength;
		for (let i = 0; i < frameLength; i++) frame[i] = samples[start + i] - mean;
		for (let i = frameLength - 1; i > 0; i--) frame[i] -= PREEMPHASIS * frame[i - 1];
		frame[0] -= PREEMPHASIS * frame[0];
		for (let i = 0; i < frameLength; i++) frame[i] *= window[i];
		frame.fill(0, frameLength);
		fft.powerSpectrum(frame, power);
		const row = new Float32Array(numMelBins);
		for (let b = 0; b < numMelBins; b++) row[b] = Math.log(Math.max(applyFilter(banks[b], power), LOG_FLOOR));
		out.push(row);
	}
	return out;
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
		const fbank = yield* kaldiFbankSteps(samples, config.sampling_rate ?? 16000, numMelBins, maxLength);
		const data = new Float32Array(maxLength * numMelBins); // zero padding, as AST pads
		for (let t = 0; t < Math.min(maxLength, fbank.length); t++) data.set(fbank[t], t * numMelBins);
		if (doNormalize) {
			for (let i = 0; i < data.length; i++) data[i] = (data[i] - mean) / (std * 2);
		}
		return { input_values: { type: 'float32', data, dims: [1, maxLength, numMelBins] } };
	},
};
