import { readFileSync } from 'node:fs';
import path from 'node:path';

import { UnsupportedFeatureExtractorError } from '../src/errors';
import { getFeatureExtractor } from '../src/features';
import { Fft, fftOfSize, RealFft } from '../src/features/fft';
import type { PreprocessorConfig } from '../src/features/types';
import { decodeWav, downmixToMono } from '../src/audio/wav';
import { AUDIO, MODELS, expected, maxAbsDiff, readF32 } from './helpers/fixtures';

const CLIP = 'speech-16k-mono-s16.wav';
const samples = downmixToMono(decodeWav(readFileSync(path.join(AUDIO, CLIP))).channels);
const preprocessor = (model: string) =>
	JSON.parse(readFileSync(path.join(MODELS, model, 'preprocessor_config.json'), 'utf8')) as PreprocessorConfig;

describe('FFT', () => {
	it.each([8, 12, 400, 512])('matches a direct DFT for n = %i', (n) => {
		const x = Float64Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) + ((i * 7919) % 13) / 13);
		const re = new Float64Array(n);
		const im = new Float64Array(n);
		new Fft(n).transform(x, new Float64Array(n), re, im);
		for (const k of [0, 1, 3, Math.floor(n / 2), n - 1]) {
			let dr = 0;
			let di = 0;
			for (let t = 0; t < n; t++) {
				dr += x[t] * Math.cos((2 * Math.PI * k * t) / n);
				di -= x[t] * Math.sin((2 * Math.PI * k * t) / n);
			}
			expect(Math.abs(re[k] - dr)).toBeLessThan(1e-9);
			expect(Math.abs(im[k] - di)).toBeLessThan(1e-9);
		}
	});

	it.each([8, 12, 400, 512, 1024])('the real-input power spectrum matches the complex FFT for n = %i', (n) => {
		const x = Float64Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) + ((i * 7919) % 13) / 13);
		const re = new Float64Array(n);
		const im = new Float64Array(n);
		new Fft(n).transform(x, new Float64Array(n), re, im);
		// ours for every size; what the extractors get (fft.js for powers of two) too
		for (const transform of [new RealFft(n), fftOfSize(n)]) {
			const power = new Float64Array(n / 2 + 1);
			transform.powerSpectrum(x, power);
			for (let k = 0; k <= n / 2; k++) {
				const ref = re[k] * re[k] + im[k] * im[k];
				expect(Math.abs(power[k] - ref)).toBeLessThan(1e-9 * Math.max(1, ref));
			}
		}
	});
});

describe('Wav2Vec2FeatureExtractor', () => {
	it('normalises to zero mean / unit variance like transformers (1e-4)', () => {
		const out = getFeatureExtractor('Wav2Vec2FeatureExtractor').extract(samples, preprocessor('tiny-wav2vec2'));
		expect(out.input_values.dims).toEqual([1, samples.length]);
		expect(maxAbsDiff(out.input_values.data as Float32Array, readF32('wav2vec2-normalized.f32'))).toBeLessThan(1e-4);
		expect(out.attention_mask.type).toBe('int64');
		// all ones: built in ONNX Runtime's thread, not on n8n's (fill), for the clip's length
		expect(out.attention_mask).toMatchObject({ fill: 1, dims: [1, samples.length] });
	});

	it('passes the raw waveform through when do_normalize is false', () => {
		const out = getFeatureExtractor('Wav2Vec2FeatureExtractor').extract(samples, preprocessor('tiny-multilabel'));
		expect(out.input_values.data).toBe(samples);
	});
});

describe('ASTFeatureExtractor', () => {
	it("equals torchaudio's kaldi fbank + AST normalisation (1e-4)", () => {
		const ref = expected.features[CLIP].ast;
		const out = getFeatureExtractor('ASTFeatureExtractor').extract(samples, preprocessor('tiny-ast'));
		expect(out.input_values.dims).toEqual(ref.shape);
		const data = out.input_values.data as Float32Array;
		const stored = readF32('ast-frames.f32');
		expect(maxAbsDiff(data.subarray(0, stored.length), stored)).toBeLessThan(1e-4);
		// everything after the real frames is the normalised zero padding
		for (let i = ref.frames * 128; i < data.length; i += 997) expect(data[i]).toBeCloseTo(ref.padValue, 6);
	});
});

describe('WhisperFeatureExtractor', () => {
	it("equals the reference log-mel (torch.stft + slaney filters) to 1e-4", () => {
		const ref = expected.features[CLIP].whisper;
		const out = getFeatureExtractor('WhisperFeatureExtractor').extract(samples, preprocessor('tiny-whisper'));
		expect(out.input_features.dims).toEqual(ref.shape);
		const data = out.input_features.data as Float32Array;
		const stored = readF32('whisper-first-150.f32'); // [80][150]
		let worst = 0;
		for (let m = 0; m < 80; m++) {
			for (let t = 0; t < ref.storedFrames; t++) {
				worst = Math.max(worst, Math.abs(data[m * 3000 + t] - stored[m * ref.storedFrames + t]));
			}
		}
		expect(worst).toBeLessThan(1e-4);
		expect(data[2999]).toBeCloseTo(ref.tailValue, 5);
		expect(data.reduce((a, b) => Math.max(a, b), -Infinity)).toBeCloseTo(ref.max, 4);
		expect(data.reduce((a, b) => Math.min(a, b), Infinity)).toBeCloseTo(ref.min, 4);
	});
});

describe('extractor registry', () => {
	it('names the unsupported type and the supported ones', () => {
		expect(() => getFeatureExtractor('SpeechT5FeatureExtractor')).toThrow(UnsupportedFeatureExtractorError);
		expect(() => getFeatureExtractor('SpeechT5FeatureExtractor')).toThrow(/SpeechT5FeatureExtractor/);
		try {
			getFeatureExtractor(undefined);
		} catch (e) {
			expect((e as UnsupportedFeatureExtractorError).hint).toMatch(/Wav2Vec2FeatureExtractor, ASTFeatureExtractor, WhisperFeatureExtractor/);
		}
	});
});
