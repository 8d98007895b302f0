/**
 * ASTFeatureExtractor (Audio Spectrogram Transformer): Kaldi fbank as
 * torchaudio.compliance.kaldi.fbank computes it with AST's arguments
 * (hanning window, no dither), padded/truncated to max_length frames, then
 * (x - mean) / (2 * std).
 */
import { cachedTable, frameCount, hannWindow, type LogMelOptions, logMelSteps, melFilterBank, sparsify } from './dsp';
import { runSync, type Steps } from '../util/slicer';
import type { FeatureExtractor, FeatureTensors, PreprocessorConfig } from './types';

const FRAME_LENGTH = 400; // 25 ms at 16 kHz
const FRAME_SHIFT = 160; // 10 ms
const PREEMPHASIS = 0.97;
const LOG_FLOOR = 1.1920928955078125e-7; // float32 epsilon, Kaldi's floor

/** Kaldi fbank's framing at this rate: 25 ms frames, 10 ms apart, FFT to the next power of two. */
function kaldiFbank(sampleRate: number, numMelBins: number): LogMelOptions {
	const frameLength = Math.round((sampleRate * FRAME_LENGTH) / 16000);
	const fftLength = 2 ** Math.ceil(Math.log2(frameLength));
	return cachedTable(`ast:${numMelBins}:${sampleRate}`, () => ({
		fftLength,
		frameLength,
		hop: Math.round((sampleRate * FRAME_SHIFT) / 16000),
		window: hannWindow(frameLength, false), // Kaldi's "hanning" is the symmetric window
		center: false,
		removeDcOffset: true,
		preemphasis: PREEMPHASIS,
		// torchaudio.compliance.kaldi's banks: mel = 1127 ln(1 + f/700), triangles in mel space, no Nyquist bin
		filters: sparsify(
			melFilterBank({
				numFrequencyBins: fftLength / 2,
				numMelFilters: numMelBins,
				minFrequency: 20,
				maxFrequency: sampleRate / 2,
				samplingRate: sampleRate,
				melScale: 'kaldi',
				triangularizeInMelSpace: true,
				zeroBinsAfter: 1,
			}),
		),
		log: 'log',
		floor: LOG_FLOOR,
		layout: 'frameMajor',
	}));
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
		const fbank = kaldiFbank(config.sampling_rate ?? 16000, numMelBins);
		// at most max_length frames are computed: AST truncates there
		yield* logMelSteps(samples, fbank, data, 0, Math.min(maxLength, frameCount(samples.length, fbank)));
		if (doNormalize) {
			for (let i = 0; i < data.length; i++) data[i] = (data[i] - mean) / (std * 2);
		}
		return { input_values: { type: 'float32', data, dims: [1, maxLength, numMelBins] } };
	},
};
