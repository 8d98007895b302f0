/**
 * The DSP every spectrogram extractor is built from (AST, Whisper, CLAP):
 * windows, mel filter banks on the htk / slaney / kaldi scales with optional
 * slaney normalisation, and one framed power-spectrum -> mel -> log routine
 * with the options those extractors differ in. Float64 throughout, as
 * transformers' numpy code computes it. Tables are built once per config.
 */
import { fftOfSize } from './fft';
import { helperForFrames } from './parallel';
import type { Steps } from '../util/slicer';
import type { LogMelOptions, SparseMel } from './types';

export type { LogMelOptions, SparseMel } from './types';

const tables = new Map<string, unknown>();

/** Filter banks and windows depend only on the config: build them once, not per item. */
export function cachedTable<T>(key: string, build: () => T): T {
	let table = tables.get(key) as T | undefined;
	if (table === undefined) {
		table = build();
		tables.set(key, table);
	}
	return table;
}

// ------------------------------------------------------------------ windows

/** Hann window; periodic (numpy's hanning(n + 1)[:-1], torch's default) or symmetric (Kaldi's "hanning"). */
export function hannWindow(length: number, periodic: boolean): Float64Array {
	const w = new Float64Array(length);
	const denominator = periodic ? length : length - 1;
	for (let i = 0; i < length; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / denominator);
	return w;
}

// --------------------------------------------------------------- mel scales

export type MelScale = 'htk' | 'slaney' | 'kaldi';

const MIN_LOG_HZ = 1000;
const MIN_LOG_MEL = 15;
const LOGSTEP = 27 / Math.log(6.4);

export function hzToMel(f: number, scale: MelScale): number {
	if (scale === 'htk') return 2595 * Math.log10(1 + f / 700);
	if (scale === 'kaldi') return 1127 * Math.log(1 + f / 700);
	return f >= MIN_LOG_HZ ? MIN_LOG_MEL + Math.log(f / MIN_LOG_HZ) * LOGSTEP : (3 * f) / 200;
}

export function melToHz(m: number, scale: MelScale): number {
	if (scale === 'htk') return 700 * (10 ** (m / 2595) - 1);
	if (scale === 'kaldi') return 700 * (Math.exp(m / 1127) - 1);
	return m >= MIN_LOG_MEL ? MIN_LOG_HZ * Math.exp((m - MIN_LOG_MEL) / LOGSTEP) : (200 * m) / 3;
}

export interface MelBankOptions {
	/** FFT bins the filters span (n_fft / 2 + 1; Kaldi: n_fft / 2, plus a zero Nyquist bin). */
	numFrequencyBins: number;
	numMelFilters: number;
	minFrequency: number;
	maxFrequency: number;
	samplingRate: number;
	melScale: MelScale;
	/** 'slaney': each filter scaled to constant energy per Hz (librosa's default). */
	norm?: 'slaney' | null;
	/** Kaldi: triangles drawn in mel space over bins `samplingRate / (2 * numFrequencyBins)` apart. */
	triangularizeInMelSpace?: boolean;
	/** Zero bins appended to every filter (Kaldi's Nyquist bin). */
	zeroBinsAfter?: number;
}

/** Triangular mel filters, laid out [numMelFilters][numFrequencyBins (+ zeroBinsAfter)], as transformers' mel_filter_bank. */
export function melFilterBank(o: MelBankOptions): Float64Array[] {
	const { numFrequencyBins: bins, numMelFilters: n, melScale: scale } = o;
	const melMin = hzToMel(o.minFrequency, scale);
	const melMax = hzToMel(o.maxFrequency, scale);
	const melEdges = Array.from({ length: n + 2 }, (_, i) => melMin + ((melMax - melMin) * i) / (n + 1));
	let edges: number[];
	let frequency: (i: number) => number;
	if (o.triangularizeInMelSpace) {
		const binWidth = o.samplingRate / (bins * 2);
		edges = melEdges;
		frequency = (i) => hzToMel(binWidth * i, scale);
	} else {
		const top = Math.floor(o.samplingRate / 2);
		edges = melEdges.map((m) => melToHz(m, scale));
		frequency = (i) => (top * i) / (bins - 1);
	}
	const banks: Float64Array[] = [];
	for (let b = 0; b < n; b++) {
		const row = new Float64Array(bins + (o.zeroBinsAfter ?? 0));
		const scaleBy = o.norm === 'slaney' ? 2 / (edges[b + 2] - edges[b]) : 1;
		for (let i = 0; i < bins; i++) {
			const f = frequency(i);
			const rising = (f - edges[b]) / (edges[b + 1] - edges[b]);
			const falling = (edges[b + 2] - f) / (edges[b + 2] - edges[b + 1]);
			row[i] = Math.max(0, Math.min(rising, falling)) * scaleBy;
		}
		banks.push(row);
	}
	return banks;
}

export function sparsify(banks: Float64Array[]): SparseMel {
	const spans = banks.map((row) => {
		let start = 0;
		while (start < row.length && row[start] === 0) start++;
		let end = row.length;
		while (end > start && row[end - 1] === 0) end--;
		return { start, end };
	});
	const count = banks.length;
	const starts = new Int32Array(count);
	const ends = new Int32Array(count);
	const shift = new Int32Array(count);
	const weights = new Float64Array(spans.reduce((n, sp) => n + sp.end - sp.start, 0));
	let at = 0;
	spans.forEach(({ start, end }, m) => {
		weights.set(banks[m].subarray(start, end), at);
		starts[m] = at;
		shift[m] = start - at;
		at += end - start;
		ends[m] = at;
	});
	return { count, starts, ends, shift, weights };
}

// -------------------------------------------------------------- spectrogram


/** How many frames a signal of `length` samples gives (centred: 1 + length / hop; else whole frames only). */
export function frameCount(length: number, o: Pick<LogMelOptions, 'center' | 'frameLength' | 'hop' | 'fftLength'>): number {
	if (o.center) return 1 + Math.floor(length / o.hop);
	return length < o.frameLength ? 0 : 1 + Math.floor((length - o.frameLength) / o.hop);
}

/** What one framing run reuses: the FFT and its buffers. */
export interface Work {
	fft: ReturnType<typeof fftOfSize>;
	frame: Float64Array;
	power: Float64Array;
}

export function newWork(fftLength: number): Work {
	return { fft: fftOfSize(fftLength), frame: new Float64Array(fftLength), power: new Float64Array(fftLength / 2 + 1) };
}

/** Frames [from, to): a plain function (V8 optimises it fully; the generator only slices). */
export function logMelFrames(signal: ArrayLike<number>, o: LogMelOptions, w: Work, out: Float32Array, first: number, from: number, to: number): void {
	const { fft, frame, power } = w;
	const { count: mels, starts, ends, shift, weights } = o.filters;
	const n = signal.length;
	const offset = o.center ? -(o.fftLength >> 1) : 0;
	const { window, frameLength, hop, floor } = o;
	const preemphasis = o.preemphasis ?? 0;
	const removeDc = o.removeDcOffset === true;
	const frameMajor = o.layout === 'frameMajor';
	const stride = o.stride ?? 0;
	const base = (o.outFrame ?? 0) - first;
	const scale = o.log === 'dB' ? 10 : 1;
	const natural = o.log === 'log';
	for (let t = from; t < to; t++) {
		const start = t * hop + offset;
		const inside = start >= 0 && start + frameLength <= n;
		if (inside && !removeDc && !preemphasis) {
			// the common case (Whisper, CLAP): copy and window in one pass
			for (let i = 0; i < frameLength; i++) frame[i] = signal[start + i] * window[i];
		} else if (inside && removeDc) {
			// Kaldi (AST) inside the signal: the mean in one pass, then DC removal, pre-emphasis
			// and window in a second (the same values as the general path below, in fewer passes).
			kaldiFrame(signal, start, frameLength, preemphasis, window, frame);
		} else {
			for (let i = 0; i < frameLength; i++) {
				let j = start + i;
				if (j < 0) j = -j; // reflect, edge sample not repeated
				if (j >= n) j = 2 * (n - 1) - j;
				frame[i] = signal[j];
			}
			if (removeDc) {
				let mean = 0;
				for (let i = 0; i < frameLength; i++) mean += frame[i];
				mean /= frameLength;
				for (let i = 0; i < frameLength; i++) frame[i] -= mean;
			}
			if (preemphasis) {
				for (let i = frameLength - 1; i > 0; i--) frame[i] -= preemphasis * frame[i - 1];
				frame[0] -= preemphasis * frame[0];
			}
			for (let i = 0; i < frameLength; i++) frame[i] *= window[i];
		}
		fft.powerSpectrum(frame, power); // the tail past frameLength stays zero
		for (let m = 0; m < mels; m++) {
			let e = 0;
			const s = shift[m];
			for (let k = starts[m]; k < ends[m]; k++) e += weights[k] * power[s + k];
			if (e < floor) e = floor;
			const v = natural ? Math.log(e) : scale * Math.log10(e);
			if (frameMajor) out[(base + t) * mels + m] = v;
			else out[m * stride + t] = v;
		}
	}
}

function kaldiFrame(signal: ArrayLike<number>, start: number, length: number, preemphasis: number, window: Float64Array, frame: Float64Array): void {
	let sum = 0;
	for (let i = 0; i < length; i++) sum += signal[start + i];
	const mean = sum / length;
	// frame[i] = ((x[i] - mean) - k (x[i-1] - mean)) w[i], the first sample against itself
	let previous = signal[start] - mean;
	for (let i = 0; i < length; i++) {
		const v = signal[start + i] - mean;
		frame[i] = (v - preemphasis * previous) * window[i];
		previous = v;
	}
}

/**
 * Log-mel frames [first, first + count) of `signal` into `out`, yielding every
 * 64 frames so the caller can slice the work.
 */
export function* logMelSteps(signal: ArrayLike<number>, o: LogMelOptions, out: Float32Array, first: number, count: number): Steps<void> {
	const work = newWork(o.fftLength);
	// A clip of a few hundred to a few thousand frames: the later half on the helper thread, at the same time.
	const helper = helperForFrames(signal, o, out, first, count);
	const end = helper ? helper.from : first + count;
	let finished = false;
	try {
		for (let from = first; from < end; from += 64) {
			logMelFrames(signal, o, work, out, first, from, Math.min(end, from + 64));
			if (from + 64 < end) yield;
		}
		finished = true;
	} finally {
		if (helper && !finished) helper.abandon(); // cancelled: the helper's frames are not waited for
	}
	if (helper && !helper.finish()) logMelFrames(signal, o, work, out, first, helper.from, first + count);
}
