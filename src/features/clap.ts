/**
 * ClapFeatureExtractor (CLAP, LAION's audio-text model): 10 s at 48 kHz as
 * a dB mel spectrogram (periodic Hann, n_fft 1024, hop 480, centred frames,
 * 64 mel filters between 50 Hz and 14 kHz), as transformers computes it:
 *
 * - shorter clips are padded to max_length: `repeatpad` (whole repeats, then
 *   zeros), `repeat` (repeats cut at max_length) or zeros;
 * - `rand_trunc` (the unfused models): slaney-normalised slaney-scale filters,
 *   one channel. A longer clip is cropped to max_length. Python picks the crop
 *   at random; here it is the **loudest** max_length window (on a hop grid,
 *   plus the very end; the earliest of those within 1e-9 of the loudest wins),
 *   so a run is repeatable and the part with the event is the part the model hears;
 * - `fusion` (laion/clap-htsat-fused): htk filters without norm, four
 *   channels. A short clip is the same mel four times; a longer one is the
 *   whole clip's mel shrunk to max_length (bilinear, as torch's interpolate)
 *   plus three crops, one from each third of the possible starts. Python picks
 *   each crop at random; here it is the **middle** start of each third.
 *
 * `is_longer` is true for fusion (Python's rule for a batch of one) and, for
 * rand_trunc, when the clip was cropped.
 */
import { cachedTable, frameCount, hannWindow, type LogMelOptions, logMelSteps, melFilterBank, sparsify } from './dsp';
import { runSync, type Steps } from '../util/slicer';
import type { FeatureExtractor, FeatureTensors, PreprocessorConfig } from './types';

const MEL_FLOOR = 1e-10;

interface ClapConfig {
	samplingRate: number;
	mels: number;
	fft: number;
	hop: number;
	maxLength: number;
	truncation: 'rand_trunc' | 'fusion';
	padding: string;
	fmin: number;
	fmax: number;
}

export function clapConfig(config: PreprocessorConfig): ClapConfig {
	const samplingRate = Number(config.sampling_rate ?? 48000);
	const maxLength = Number(config.nb_max_samples ?? Number(config.max_length_s ?? 10) * samplingRate);
	const truncation = String(config.truncation ?? 'fusion');
	return {
		samplingRate,
		mels: Number(config.feature_size ?? 64),
		fft: Number(config.fft_window_size ?? 1024),
		hop: Number(config.hop_length ?? 480),
		maxLength,
		truncation: truncation === 'fusion' ? 'fusion' : 'rand_trunc',
		padding: String(config.padding ?? 'repeatpad'),
		fmin: Number(config.frequency_min ?? 0),
		fmax: Number(config.frequency_max ?? 14000),
	};
}

function stftOf(c: ClapConfig): LogMelOptions {
	const scale = c.truncation === 'fusion' ? 'htk' : 'slaney';
	return cachedTable(`clap:${scale}:${c.mels}:${c.fft}:${c.hop}:${c.samplingRate}:${c.fmin}:${c.fmax}`, () => ({
		fftLength: c.fft,
		frameLength: c.fft,
		hop: c.hop,
		window: hannWindow(c.fft, true),
		center: true,
		filters: sparsify(
			melFilterBank({
				numFrequencyBins: c.fft / 2 + 1,
				numMelFilters: c.mels,
				minFrequency: c.fmin,
				maxFrequency: c.fmax,
				samplingRate: c.samplingRate,
				melScale: scale,
				norm: scale === 'slaney' ? 'slaney' : null,
			}),
		),
		log: 'dB',
		floor: MEL_FLOOR,
		layout: 'frameMajor',
	}));
}

/** A clip shorter than max_length, padded the configured way (Python's repeatpad / repeat / zeros). */
function padded(samples: Float32Array, c: ClapConfig): Float64Array {
	const out = new Float64Array(c.maxLength);
	const n = samples.length;
	if (n === 0) return out;
	let end = n;
	if (c.padding === 'repeat') end = c.maxLength;
	else if (c.padding === 'repeatpad') end = Math.floor(c.maxLength / n) * n;
	for (let i = 0; i < end; i++) out[i] = samples[i % n];
	return out;
}

/**
 * The documented crop for rand_trunc: the max_length window with the most
 * energy, among starts on the hop grid plus the very end; the earliest of the
 * windows within 1e-9 of the most wins (so float rounding cannot move it).
 * Energies come from per-hop block sums: memory is len / hop values, not len.
 */
export function loudestWindow(samples: Float32Array, length: number, hop: number): number {
	const overflow = samples.length - length;
	if (overflow <= 0) return 0;
	const blocks = new Float64Array(Math.ceil(samples.length / hop));
	for (let i = 0; i < samples.length; i++) blocks[(i / hop) | 0] += samples[i] * samples[i];
	const span = length / hop; // whole blocks per window when hop divides length (CLAP: 1000)
	const candidates: Array<{ start: number; energy: number }> = [];
	if (Number.isInteger(span)) {
		let e = 0;
		for (let k = 0; k < span; k++) e += blocks[k];
		for (let start = 0, k = 0; start <= overflow; start += hop, k++) {
			if (k > 0) e += blocks[k + span - 1] - blocks[k - 1];
			candidates.push({ start, energy: e });
		}
	} else {
		for (let start = 0; start <= overflow; start += hop) candidates.push({ start, energy: windowEnergy(samples, start, length) });
	}
	if (overflow % hop !== 0) candidates.push({ start: overflow, energy: windowEnergy(samples, overflow, length) });
	const most = Math.max(...candidates.map((c) => c.energy));
	return candidates.find((c) => c.energy >= most * (1 - 1e-9))!.start;
}

function windowEnergy(samples: Float32Array, start: number, length: number): number {
	let e = 0;
	for (let i = start; i < start + length; i++) e += samples[i] * samples[i];
	return e;
}

/** The middle start of each third of the possible crop starts (numpy's array_split into 3). */
export function fusionStarts(total: number, chunk: number): number[] {
	const n = total - chunk + 1;
	const base = Math.floor(n / 3);
	const extra = n % 3;
	const starts: number[] = [];
	let from = 0;
	for (let k = 0; k < 3; k++) {
		const size = base + (k < extra ? 1 : 0);
		starts.push(size ? from + Math.floor(size / 2) : 0);
		from += size;
	}
	return starts;
}

/** torch's bilinear interpolate (align_corners=False) of [frames][mels] to `rows` frames, mels unchanged. */
function shrinkFrames(mel: Float32Array, frames: number, mels: number, rows: number, out: Float32Array, at: number): void {
	const ratio = frames / rows;
	for (let r = 0; r < rows; r++) {
		const src = Math.max(0, ratio * (r + 0.5) - 0.5);
		const i0 = Math.min(Math.floor(src), frames - 1);
		const i1 = Math.min(i0 + 1, frames - 1);
		const w = src - i0;
		for (let m = 0; m < mels; m++) out[at + r * mels + m] = (1 - w) * mel[i0 * mels + m] + w * mel[i1 * mels + m];
	}
}

export const clapFeatureExtractor: FeatureExtractor = {
	outputs: ['input_features', 'is_longer'],
	extract(samples: Float32Array, config: PreprocessorConfig): FeatureTensors {
		return runSync(this.steps(samples, config));
	},
	*steps(samples: Float32Array, config: PreprocessorConfig): Steps<FeatureTensors> {
		const c = clapConfig(config);
		const stft = stftOf(c);
		const chunk = frameCount(c.maxLength, stft); // 1001 for 10 s
		const plane = chunk * c.mels;
		const channels = c.truncation === 'fusion' ? 4 : 1;
		const data = new Float32Array(channels * plane);
		let longer = c.truncation === 'fusion';
		if (samples.length > c.maxLength && c.truncation === 'rand_trunc') {
			longer = true;
			const start = loudestWindow(samples, c.maxLength, c.hop);
			yield* logMelSteps(samples.subarray(start, start + c.maxLength), stft, data, 0, chunk);
		} else if (samples.length > c.maxLength) {
			const total = frameCount(samples.length, stft);
			const mel = new Float32Array(total * c.mels);
			yield* logMelSteps(samples, stft, mel, 0, total);
			if (total === chunk) {
				for (let k = 0; k < 4; k++) data.set(mel.subarray(0, plane), k * plane);
			} else {
				shrinkFrames(mel, total, c.mels, chunk, data, 0);
				fusionStarts(total, chunk).forEach((s, k) => data.set(mel.subarray(s * c.mels, (s + chunk) * c.mels), (k + 1) * plane));
			}
		} else {
			const wave = samples.length < c.maxLength ? padded(samples, c) : samples;
			yield* logMelSteps(wave, stft, data, 0, chunk);
			for (let k = 1; k < channels; k++) data.copyWithin(k * plane, 0, plane);
		}
		return {
			input_features: { type: 'float32', data, dims: [1, channels, chunk, c.mels] },
			is_longer: { type: 'bool', data: Uint8Array.of(longer ? 1 : 0), dims: [1, 1] },
		};
	},
};
