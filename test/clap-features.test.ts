/**
 * ClapFeatureExtractor against the references computed independently in
 * scripts/fixtures/make_clap_fixture.py (numpy, after transformers'
 * feature_extraction_clap.py), on the deterministic paths and on the
 * documented crop rules for long clips.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { decodeAudio } from '../src/audio/decode';
import { getFeatureExtractor } from '../src/features';
import { fusionStarts, loudestWindow } from '../src/features/clap';
import type { PreprocessorConfig } from '../src/features/types';
import { AUDIO, MODELS, readF32, REFERENCE } from './helpers/fixtures';

interface FeatureCase {
	clip: string;
	truncation: string;
	padding: string;
	shape: number[];
	isLonger: boolean;
	offset: number;
	values: number;
	cropStart?: number;
	cropStarts?: number[];
}
const reference = JSON.parse(readFileSync(path.join(REFERENCE, 'clap.json'), 'utf8')) as { features: FeatureCase[] };
const stored = readF32('clap-features.f32');
const pre = JSON.parse(readFileSync(path.join(MODELS, 'tiny-clap', 'preprocessor_config.json'), 'utf8')) as PreprocessorConfig;

const clips = new Map<string, Float32Array>();
beforeAll(async () => {
	for (const c of new Set(reference.features.map((f) => f.clip))) {
		clips.set(c, (await decodeAudio(readFileSync(path.join(AUDIO, c)), { samplingRate: 48000, decoder: 'builtIn' })).samples);
	}
});

/** The rows the generator keeps of [C, frames, mels]: frames 0-7, 500-507, the last 8, each channel's per-mel mean. */
function sampleRows(data: Float32Array, channels: number, frames: number, mels: number): Float32Array {
	const out: number[] = [];
	for (let c = 0; c < channels; c++) {
		const plane = data.subarray(c * frames * mels, (c + 1) * frames * mels);
		for (const from of [0, 500, frames - 8]) out.push(...plane.subarray(from * mels, (from + 8) * mels));
		for (let m = 0; m < mels; m++) {
			let s = 0;
			for (let t = 0; t < frames; t++) s += plane[t * mels + m];
			out.push(s / frames);
		}
	}
	return Float32Array.from(out);
}

describe('ClapFeatureExtractor', () => {
	it.each(reference.features.map((f) => [`${f.clip} ${f.truncation} ${f.padding}`, f] as const))(
		'%s: equal to the reference to 1e-4 dB',
		(_name, f) => {
			const samples = clips.get(f.clip)!;
			const out = getFeatureExtractor('ClapFeatureExtractor').extract(samples, { ...pre, truncation: f.truncation, padding: f.padding });
			const [, channels, frames, mels] = f.shape;
			expect(out.input_features.dims).toEqual(f.shape);
			expect(Array.from(out.is_longer.data as Uint8Array)).toEqual([f.isLonger ? 1 : 0]);
			const mine = sampleRows(out.input_features.data as Float32Array, channels, frames, mels);
			const ref = stored.subarray(f.offset, f.offset + f.values);
			expect(mine.length).toBe(ref.length);
			let worst = 0;
			for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(mine[i] - ref[i]));
			expect(worst).toBeLessThan(1e-4);
		},
	);

	it('crops a long clip to its loudest 10 s (the loud burst at 11-13 s of 16 s: start 3.0 s, the first of the tied windows)', () => {
		const samples = clips.get('clap-bursts-48k.flac')!;
		expect(samples.length).toBe(16 * 48000);
		const start = loudestWindow(samples, 480000, 480);
		expect(start).toBe(reference.features.find((f) => f.cropStart !== undefined)!.cropStart);
		expect(start).toBe(3 * 48000);
		// the same clip reversed: the burst now at 3-5 s, so the window starts at 0
		expect(loudestWindow(samples.slice().reverse(), 480000, 480)).toBe(0);
	});

	it('fusion takes the middle start of each third of the possible starts', () => {
		expect(fusionStarts(1601, 1001)).toEqual(reference.features.find((f) => f.cropStarts)!.cropStarts);
		expect(fusionStarts(1002, 1001)).toEqual([0, 1, 0]); // two starts: the third third is empty, as numpy gives [0]
		expect(fusionStarts(1001, 1001)).toEqual([0, 0, 0]);
	});

	it('is the same clip after clip: tables are built once and reused', () => {
		const samples = clips.get('clap-speech-48k.wav')!;
		const a = getFeatureExtractor('ClapFeatureExtractor').extract(samples, pre).input_features.data as Float32Array;
		const b = getFeatureExtractor('ClapFeatureExtractor').extract(samples, pre).input_features.data as Float32Array;
		expect(b).toEqual(a);
	});
});
