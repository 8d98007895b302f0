/**
 * Band-limited resampling (Kaiser-windowed sinc), with the parameters of
 * ffmpeg's default swresample filter (32 taps at the lower rate, cutoff 0.97,
 * beta 9) so in-process WAV decoding stays close to what `ffmpeg -ar` gives
 * the Python pipeline. Rational rates use an exact polyphase table; rates
 * whose table would be too large use the nearest of a bounded number of
 * phases (swresample itself uses 1,024).
 *
 * It reads its input block by block from a SampleSource (or, streaming, in
 * pieces keeping only the filter's history), so a long WAV is never held at
 * its own rate in memory, and the async forms yield between blocks.
 */
import type { Slicer } from '../util/slicer';
import { runKernel } from './resample-kernel';

const FILTER_SIZE = 32;
const CUTOFF = 0.97;
const KAISER_BETA = 9;
/** Largest phase table: phases x taps coefficients (4 Mi doubles = 32 MB). */
const MAX_TABLE = 4 * 2 ** 20;
const MAX_PHASES = 8192;
const BLOCK = 8192; // output samples per block

/** Random access to mono samples; positions outside [0, length) read as 0. */
export interface SampleSource {
	readonly length: number;
	read(start: number, into: Float32Array): void;
	/** The caller is done reading: the source may reuse its memory (optional). */
	release?(): void;
}

export function arraySource(samples: Float32Array): SampleSource {
	return {
		length: samples.length,
		read(start, into) {
			into.fill(0);
			const from = Math.max(0, start);
			const to = Math.min(samples.length, start + into.length);
			if (to > from) into.set(samples.subarray(from, to), from - start);
		},
	};
}

/**
 * Samples held as the decoder's blocks, read in place: joining a long file's
 * thousands of blocks into one array was one uninterrupted copy (a 5-minute
 * Opus note: 15,000 blocks, 57 MB, 170-240 ms of n8n's thread here).
 */
export function chunkedSource(chunks: readonly Float32Array[], release?: () => void): SampleSource {
	const starts = new Float64Array(chunks.length + 1);
	for (let i = 0; i < chunks.length; i++) starts[i + 1] = starts[i] + chunks[i].length;
	const length = starts[chunks.length];
	let cursor = 0; // reads are mostly sequential: start the search where the last one ended
	return {
		length,
		release,
		read(start, into) {
			into.fill(0);
			let at = Math.max(0, start);
			const end = Math.min(length, start + into.length);
			if (end <= at) return;
			if (!(starts[cursor] <= at && at < starts[cursor + 1])) {
				let lo = 0;
				let hi = chunks.length - 1;
				while (lo < hi) {
					const mid = (lo + hi + 1) >> 1;
					if (starts[mid] <= at) lo = mid;
					else hi = mid - 1;
				}
				cursor = lo;
			}
			while (at < end) {
				while (starts[cursor + 1] <= at) cursor++;
				const c = chunks[cursor];
				const from = at - starts[cursor];
				const n = Math.min(c.length - from, end - at);
				into.set(c.subarray(from, from + n), at - start);
				at += n;
			}
		},
	};
}

function besselI0(x: number): number {
	let sum = 1;
	let term = 1;
	const half = x / 2;
	for (let k = 1; k < 50; k++) {
		term *= (half / k) * (half / k);
		sum += term;
		if (term < sum * 1e-12) break;
	}
	return sum;
}

function gcd(a: number, b: number): number {
	while (b) [a, b] = [b, a % b];
	return a;
}

interface Plan {
	/** The shared table's state: filled once, then reused. */
	filled: { filled: boolean };
	fc: number;
	outLength: number;
	up: number;
	down: number;
	halfWidth: number;
	taps: number;
	phases: number;
	table: Float64Array;
}

/** Coefficient tables depend on the two rates only: kept for the few pairs in use. */
const tables = new Map<string, { table: Float64Array; filled: boolean }>();
const MAX_CACHED_TABLES = 8;

function cachedTable(fromRate: number, toRate: number, size: number): { table: Float64Array; filled: boolean } {
	const key = `${fromRate}:${toRate}`;
	let entry = tables.get(key);
	if (entry) {
		tables.delete(key); // most recently used goes last
	} else {
		entry = { table: new Float64Array(size), filled: false };
		if (tables.size >= MAX_CACHED_TABLES) tables.delete(tables.keys().next().value as string);
	}
	tables.set(key, entry);
	return entry;
}

function plan(inLength: number, fromRate: number, toRate: number): Plan {
	const ratio = toRate / fromRate;
	const scale = Math.min(1, ratio);
	const fc = CUTOFF * scale; // cutoff as a fraction of the input Nyquist
	const halfWidth = Math.ceil(FILTER_SIZE / 2 / scale); // in input samples
	const taps = 2 * halfWidth;
	const g = gcd(fromRate, toRate);
	const up = toRate / g; // output samples per `down` input samples
	const down = fromRate / g;
	const phases = Math.min(up, MAX_PHASES, Math.max(1, Math.floor(MAX_TABLE / taps)));
	const cached = cachedTable(fromRate, toRate, phases * taps);
	const table = cached.table;
	return { filled: cached, fc, outLength: Math.round(inLength * ratio), up, down, halfWidth, taps, phases, table };
}

const I0_BETA = besselI0(KAISER_BETA);

/** Fills phases [from, to) of the coefficient table. */
function fillPhases(p: Plan, from: number, to: number): void {
	const { taps, halfWidth, phases, fc, table } = p;
	for (let ph = from; ph < to; ph++) {
		const frac = ph / phases;
		let sum = 0;
		for (let j = 0; j < taps; j++) {
			const x = frac - (j - halfWidth + 1); // taps k = -halfWidth+1 .. halfWidth around floor(t)
			const r = x / halfWidth;
			let w = 0;
			if (r > -1 && r < 1) {
				const arg = Math.PI * fc * x;
				const sinc = x === 0 ? 1 : Math.sin(arg) / arg;
				w = sinc * (besselI0(KAISER_BETA * Math.sqrt(1 - r * r)) / I0_BETA);
			}
			table[ph * taps + j] = w;
			sum += w;
		}
		for (let j = 0; j < taps; j++) table[ph * taps + j] /= sum; // unit DC gain
	}
}

/** Output samples [n0, n1) into out, reading the input they need through scratch. */
function resampleBlock(src: SampleSource, p: Plan, out: Float32Array, n0: number, n1: number, scratch: { buf: Float32Array }, outOffset = 0): void {
	const { up, down, halfWidth, taps, phases, table } = p;
	const firstBase = Math.floor((n0 * down) / up);
	const lastBase = Math.floor(((n1 - 1) * down) / up);
	const inStart = firstBase - halfWidth + 1;
	const need = lastBase + halfWidth + 1 - inStart;
	if (scratch.buf.length < need) scratch.buf = new Float32Array(need);
	const input = scratch.buf.subarray(0, need);
	src.read(inStart, input);
	// The SIMD kernel when it can (the first output's input starts at input[0], its phase exact).
	if (runKernel({ table, taps, phases, up, down, input, phase: n0 * down - firstBase * up, out: out.subarray(n0 - outOffset, n1 - outOffset) })) return;
	for (let n = n0; n < n1; n++) {
		// Exact input position n * down / up, split into integer and phase.
		const num = n * down;
		const base = Math.floor(num / up);
		let phase = num - base * up;
		let offset = base - halfWidth + 1 - inStart;
		if (phases !== up) {
			phase = Math.round((phase * phases) / up);
			if (phase === phases) {
				phase = 0;
				offset++;
			}
		}
		const w = phase * taps;
		const jTo = Math.min(taps, need - offset);
		// Four running sums: one would wait on each addition's latency (the loop was latency-bound).
		let a0 = 0;
		let a1 = 0;
		let a2 = 0;
		let a3 = 0;
		let j = 0;
		for (; j + 3 < jTo; j += 4) {
			a0 += table[w + j] * input[offset + j];
			a1 += table[w + j + 1] * input[offset + j + 1];
			a2 += table[w + j + 2] * input[offset + j + 2];
			a3 += table[w + j + 3] * input[offset + j + 3];
		}
		for (; j < jTo; j++) a0 += table[w + j] * input[offset + j];
		out[n - outOffset] = a0 + a1 + (a2 + a3);
	}
}

export function resample(input: Float32Array, fromRate: number, toRate: number): Float32Array {
	if (fromRate === toRate || input.length === 0) return input;
	const src = arraySource(input);
	const p = plan(input.length, fromRate, toRate);
	if (!p.filled.filled) {
		fillPhases(p, 0, p.phases);
		p.filled.filled = true;
	}
	const out = new Float32Array(p.outLength);
	const scratch = { buf: new Float32Array(0) };
	for (let n = 0; n < p.outLength; n += BLOCK) resampleBlock(src, p, out, n, Math.min(p.outLength, n + BLOCK), scratch);
	return out;
}

/** Fills the rate pair's table if needed, yielding between rows (odd rates build millions of coefficients). */
async function ensureTable(p: Plan, slicer: Slicer): Promise<void> {
	if (p.filled.filled) return;
	// Filled aside while other items may run: a concurrent user of the same pair
	// sees filled === false and fills it again (same values), never a partial table.
	const table = new Float64Array(p.table.length);
	const local = { ...p, table };
	const rows = Math.max(1, Math.floor(65536 / p.taps));
	for (let ph = 0; ph < p.phases; ph += rows) {
		fillPhases(local, ph, Math.min(p.phases, ph + rows));
		await slicer.tick();
	}
	p.table.set(table);
	p.filled.filled = true;
}

/** The same as resample(), reading the source block by block and yielding between blocks. */
export async function resampleSource(src: SampleSource, fromRate: number, toRate: number, slicer: Slicer): Promise<Float32Array> {
	if (fromRate === toRate) {
		const out = new Float32Array(src.length);
		for (let n = 0; n < src.length; n += BLOCK * 8) {
			src.read(n, out.subarray(n, Math.min(src.length, n + BLOCK * 8)));
			await slicer.tick();
		}
		return out;
	}
	const p = plan(src.length, fromRate, toRate);
	await ensureTable(p, slicer);
	const out = new Float32Array(p.outLength);
	const scratch = { buf: new Float32Array(0) };
	for (let n = 0; n < p.outLength; n += BLOCK) {
		resampleBlock(src, p, out, n, Math.min(p.outLength, n + BLOCK), scratch);
		await slicer.tick();
	}
	return out;
}

/**
 * The same filter over input that arrives in pieces (decoders that stream):
 * push() returns the output samples the input so far determines; flush()
 * the rest. Only the filter's history is kept between pieces.
 */
export class StreamingResampler {
	private readonly p: Plan;
	/** The filter's history: the last input samples later outputs still read, from absolute index histStart. */
	private hist = new Float32Array(0);
	private histStart = 0;
	/** The piece being consumed, from absolute index curStart (= histStart + hist.length). */
	private cur: Float32Array<ArrayBufferLike> = new Float32Array(0);
	private inCount = 0;
	private next = 0; // next output index
	private readonly scratch = { buf: new Float32Array(0) };

	private constructor(
		private readonly fromRate: number,
		private readonly toRate: number,
	) {
		this.p = plan(0, fromRate, toRate);
	}

	static async create(fromRate: number, toRate: number, slicer: Slicer): Promise<StreamingResampler> {
		const r = new StreamingResampler(fromRate, toRate);
		if (fromRate !== toRate) await ensureTable(r.p, slicer);
		return r;
	}

	/** Input by absolute index over [history, current piece], zeros outside: no copy of the piece. */
	private source(): SampleSource {
		const { hist, histStart, cur } = this;
		const curStart = histStart + hist.length;
		const end = curStart + cur.length;
		return {
			length: end,
			read(start, into) {
				for (let k = 0; k < into.length; k++) {
					const i = start + k;
					into[k] = i >= curStart && i < end ? cur[i - curStart] : i >= histStart && i < curStart ? hist[i - histStart] : 0;
				}
			},
		};
	}

	private produce(upTo: number): Float32Array {
		if (upTo <= this.next) return new Float32Array(0);
		const out = new Float32Array(upTo - this.next);
		const src = this.source();
		for (let n = this.next; n < upTo; n += 8192) resampleBlock(src, this.p, out, n, Math.min(upTo, n + 8192), this.scratch, this.next);
		this.next = upTo;
		return out;
	}

	/** Keeps as history only the input that later outputs still read (a few dozen samples). */
	private keepHistory(): void {
		const keepFrom = Math.max(this.histStart, Math.floor((this.next * this.p.down) / this.p.up) - this.p.halfWidth + 1);
		const kept = new Float32Array(Math.max(0, this.inCount - keepFrom));
		this.source().read(keepFrom, kept);
		this.hist = kept;
		this.histStart = keepFrom;
		this.cur = new Float32Array(0);
	}

	push(input: Float32Array): Float32Array {
		if (this.fromRate === this.toRate) return input;
		this.cur = input;
		this.inCount += input.length;
		// Output n needs input up to floor(n * down / up) + halfWidth.
		const { up, down, halfWidth } = this.p;
		const ready = Math.max(0, Math.floor(((this.inCount - halfWidth) * up) / down));
		const out = this.produce(Math.min(ready, Math.round((this.inCount * this.toRate) / this.fromRate)));
		this.keepHistory();
		return out;
	}

	flush(): Float32Array {
		if (this.fromRate === this.toRate) return new Float32Array(0);
		return this.produce(Math.round((this.inCount * this.toRate) / this.fromRate));
	}
}
