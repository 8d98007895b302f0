/**
 * One detector for audio that arrives in blocks: a file (Detect Events: the
 * stream ends) or a live stream (the Audio Event Trigger: it may never end).
 * Blocks go in; windows (`winLen` samples every `hopLen`) are scored in
 * batches as soon as they are complete; runs of windows whose label passes
 * the threshold become events, each closed as soon as no later window can
 * join it, its edges tightened to where the sound is (10 ms energy frames),
 * and handed out once no later event can overlap it (of overlapping events of
 * a single-label model the stronger one wins, as it always has). Memory is
 * the window, the samples the next windows need and the energy frames an open
 * event may still use, whatever the stream's length (unless the caller keeps
 * every window or the whole loudness curve, as a file's timeline does).
 */
import type { DetectedEvent } from './types';

export interface StreamDetectorConfig {
	rate: number;
	/** Window length and hop, in samples. */
	winLen: number;
	hopLen: number;
	/** The hop as the user gave it (default hopLen / rate), for the grouping arithmetic. */
	hopSeconds?: number;
	threshold: number;
	/** The label of score index i. */
	label: (i: number) => string;
	/** Labels that are never events. */
	ignore: ReadonlySet<string>;
	/** Several labels per window (sigmoid scores); else the top label only, and overlapping events are resolved. */
	multiLabel: boolean;
	/** Events of one label whose windows are closer than this (seconds) are one event. */
	mergeGap: number;
	minWindows: number;
	/** Seconds. */
	minDuration: number;
	/** Per label: an event starting less than this many seconds after the end of the label's last event is dropped. */
	cooldown?: number;
	/** Windows per call of `score`. */
	perCall: number;
	/** Keep every window's scores (Detect Events' Include Windows). */
	keepWindows?: boolean;
	/** Keep the whole loudness curve (Detect Events' timeline image). */
	keepEnergy?: boolean;
	/** Every window's scores as they come (the trigger's "what was heard"). */
	onWindow?: (start: number, row: Float64Array) => void;
}

/** Scores of windows, one row per window, in order. */
export type WindowScorer = (windows: Float32Array[]) => Promise<Float64Array[]>;

interface Hit {
	w: number;
	score: number;
}

export class StreamDetector {
	private readonly hopS: number;
	private pending = new Float32Array(0);
	private pendingStart = 0; // absolute sample index of pending[0]
	private received = 0;
	private nextWindow = 0;
	private batch: Array<{ w: number; chunk: Float32Array }> = [];
	private ended = false;
	private readonly open = new Map<number, Hit[]>();
	private held: DetectedEvent[] = [];
	private readonly lastEnd = new Map<string, number>();
	private readonly energy: EnergyFrames;
	readonly windows: Float64Array[] = [];

	constructor(
		private readonly c: StreamDetectorConfig,
		private readonly score: WindowScorer,
	) {
		this.hopS = c.hopSeconds ?? c.hopLen / c.rate;
		this.energy = new EnergyFrames(c.rate, c.keepEnergy ?? false);
	}

	/** Seconds of audio received. */
	get duration(): number {
		return this.received / this.c.rate;
	}

	/** Feeds a block of samples; returns the events it completed. */
	async push(block: Float32Array): Promise<DetectedEvent[]> {
		if (this.ended) throw new Error('the stream has ended');
		if (!block.length) return [];
		const merged = new Float32Array(this.pending.length + block.length);
		merged.set(this.pending);
		merged.set(block, this.pending.length);
		this.pending = merged;
		this.energy.push(block);
		this.received += block.length;
		const out: DetectedEvent[] = [];
		while (this.nextWindow * this.c.hopLen + this.c.winLen <= this.received) out.push(...(await this.addWindow(this.nextWindow++)));
		const keepFrom = this.nextWindow * this.c.hopLen;
		if (keepFrom > this.pendingStart) {
			this.pending = this.pending.slice(Math.min(this.pending.length, keepFrom - this.pendingStart));
			this.pendingStart = keepFrom;
		}
		return out;
	}

	/**
	 * Audio that was not received (a reconnect, or classification skipping ahead): the windows
	 * so far are scored and every event closed, then the stream goes on from here as a new one
	 * whose times continue after the gap.
	 */
	async gap(seconds: number): Promise<DetectedEvent[]> {
		const out = await this.flushBatch();
		for (const i of [...this.open.keys()]) out.push(...this.close(i, this.duration));
		out.push(...this.release(Infinity));
		const skip = Math.max(0, Math.round(seconds * this.c.rate));
		this.energy.skip(skip);
		this.received += skip;
		// The next window starts on the hop grid, after the gap.
		this.pending = new Float32Array(0);
		this.pendingStart = this.received;
		this.nextWindow = Math.ceil(this.received / this.c.hopLen);
		return out;
	}

	/** The stream ended: the windows reaching past its end (zero-padded), then every event. */
	async end(): Promise<DetectedEvent[]> {
		this.ended = true;
		this.energy.flush();
		const out: DetectedEvent[] = [];
		// A recording shorter than a window is one zero-padded window.
		const count = this.received <= this.c.winLen ? 1 : 1 + Math.ceil((this.received - this.c.winLen) / this.c.hopLen);
		while (this.nextWindow < count) out.push(...(await this.addWindow(this.nextWindow++)));
		out.push(...(await this.flushBatch()));
		for (const i of [...this.open.keys()]) out.push(...this.close(i, this.duration));
		out.push(...this.release(Infinity));
		return out;
	}

	/** The loudness curve (all of it when kept, else the part still held). */
	energyFrames(): { rms: Float32Array; frame: number } {
		const e = this.energy.view();
		return { rms: Float32Array.from(e.rms), frame: e.frame };
	}

	/** Window w's center, seconds; windows past the end are clamped to it. */
	private center(w: number): number {
		const t = (w * this.c.hopLen + this.c.winLen / 2) / this.c.rate;
		return this.ended ? Math.min(this.duration, t) : t;
	}

	private async addWindow(w: number): Promise<DetectedEvent[]> {
		const chunk = new Float32Array(this.c.winLen); // zero-padded past the end
		const from = w * this.c.hopLen - this.pendingStart; // >= 0: pending starts at or before the next window
		chunk.set(this.pending.subarray(from, Math.min(this.pending.length, from + this.c.winLen)));
		this.batch.push({ w, chunk });
		return this.batch.length >= this.c.perCall ? await this.flushBatch() : [];
	}

	private async flushBatch(): Promise<DetectedEvent[]> {
		if (!this.batch.length) return [];
		const batch = this.batch;
		this.batch = [];
		const rows = await this.score(batch.map((b) => b.chunk));
		const out: DetectedEvent[] = [];
		rows.forEach((row, k) => out.push(...this.onScores(batch[k].w, row)));
		return out;
	}

	private onScores(w: number, row: Float64Array): DetectedEvent[] {
		if (this.c.keepWindows) this.windows.push(row);
		this.c.onWindow?.((w * this.c.hopLen) / this.c.rate, row);
		const hits = new Map<number, number>();
		if (this.c.multiLabel) {
			row.forEach((s, i) => s >= this.c.threshold && !this.c.ignore.has(this.c.label(i)) && hits.set(i, s));
		} else {
			let best = 0;
			for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
			if (row[best] >= this.c.threshold && !this.c.ignore.has(this.c.label(best))) hits.set(best, row[best]);
		}
		const out: DetectedEvent[] = [];
		const limit = this.hopS + this.c.mergeGap + 1e-9;
		// A group no later window can join closes now (centers only grow).
		for (const [i, group] of [...this.open]) {
			if (this.center(w) - this.center(group[group.length - 1].w) > limit) out.push(...this.close(i, Infinity));
		}
		for (const [i, score] of hits) {
			const group = this.open.get(i);
			if (group) group.push({ w, score });
			else this.open.set(i, [{ w, score }]);
		}
		out.push(...this.release(this.horizon(w + 1)));
		return out;
	}

	/** The earliest time a group still open, or one opening at window `next` or later, may start. */
	private horizon(next: number): number {
		let earliest = this.center(next);
		for (const group of this.open.values()) earliest = Math.min(earliest, this.center(group[0].w));
		// A group starts half a hop before its first center, and tightening may widen it by a hop.
		const t = earliest - 1.5 * this.hopS;
		this.energy.dropBefore(t - this.hopS);
		return t;
	}

	/**
	 * Ends label i's group. `duration`: where the audio ends (Infinity while it streams on: a
	 * group closed by a later window cannot reach past the audio received, hop <= window).
	 */
	private close(i: number, duration: number): DetectedEvent[] {
		const group = this.open.get(i)!;
		this.open.delete(i);
		const hop = this.hopS;
		let start = Math.max(0, this.center(group[0].w) - hop / 2);
		let end = Math.min(duration, this.center(group[group.length - 1].w) + hop / 2);
		// Then tighten (or widen, by up to a hop) to where the sound is.
		[start, end] = tighten(this.energy.view(), Math.max(0, start - hop), Math.min(duration, end + hop), start, end);
		if (group.length < this.c.minWindows || end - start < this.c.minDuration) return [];
		const score = Math.max(...group.map((g) => g.score));
		const meanScore = group.reduce((a, g) => a + g.score, 0) / group.length;
		this.held.push({ label: this.c.label(i), start: round(start), end: round(end), score, meanScore });
		return [];
	}

	/**
	 * Hands out the held events no later event can overlap: with a single-label model, of
	 * overlapping events the stronger wins (greedy by score over each set of events that overlap
	 * one another, the same result as over the whole recording at once).
	 */
	private release(horizon: number): DetectedEvent[] {
		if (!this.held.length) return [];
		const components = overlapping(this.held);
		const out: DetectedEvent[] = [];
		this.held = [];
		for (const component of components) {
			if (Math.max(...component.map((e) => e.end)) > horizon) {
				this.held.push(...component);
				continue;
			}
			const kept = this.c.multiLabel ? component : strongest(component);
			for (const e of kept.sort((a, b) => a.start - b.start || b.score - a.score)) {
				const last = this.lastEnd.get(e.label);
				if (this.c.cooldown && last !== undefined && e.start < last + this.c.cooldown) continue;
				this.lastEnd.set(e.label, e.end);
				out.push(e);
			}
		}
		return out;
	}

	/** What it holds now (memory is bounded by these, whatever the stream's length). */
	retained(): { samples: number; energyFrames: number; heldEvents: number; openGroups: number; windows: number } {
		return {
			samples: this.pending.length + this.batch.length * this.c.winLen,
			energyFrames: this.energy.view().rms.length,
			heldEvents: this.held.length,
			openGroups: [...this.open.values()].reduce((n, g) => n + g.length, 0),
			windows: this.windows.length,
		};
	}
}

const round = (t: number) => Math.round(t * 1000) / 1000;

/** Sets of events that overlap one another (directly or through others). */
function overlapping(events: DetectedEvent[]): DetectedEvent[][] {
	const out: DetectedEvent[][] = [];
	let reach = -Infinity;
	for (const e of [...events].sort((a, b) => a.start - b.start)) {
		if (out.length && e.start < reach) out[out.length - 1].push(e);
		else {
			out.push([e]);
			reach = -Infinity;
		}
		reach = Math.max(reach, e.end);
	}
	return out;
}

function strongest(events: DetectedEvent[]): DetectedEvent[] {
	const kept: DetectedEvent[] = [];
	for (const e of [...events].sort((a, b) => b.score - a.score || a.start - b.start)) {
		if (!kept.some((k) => e.start < k.end && e.end > k.start)) kept.push(e);
	}
	return kept;
}

interface EnergyView {
	rms: ArrayLike<number>;
	/** Seconds per frame. */
	frame: number;
	/** Index of rms[0]. */
	base: number;
}

/** RMS of 10 ms frames, computed as the audio streams by (4 bytes per 10 ms), from `base` on. */
class EnergyFrames {
	private readonly frame: number;
	private values: number[] = [];
	private base = 0; // index of values[0]
	private sum = 0;
	private filled = 0;

	constructor(
		private readonly rate: number,
		private readonly keepAll: boolean,
	) {
		this.frame = Math.max(1, Math.round(rate / 100));
	}

	push(block: Float32Array): void {
		for (let i = 0; i < block.length; i++) {
			this.sum += block[i] * block[i];
			if (++this.filled === this.frame) this.close();
		}
	}

	/** Samples that were not received count as silent frames. */
	skip(samples: number): void {
		this.flush();
		for (let n = Math.floor(samples / this.frame); n > 0; n--) this.values.push(0);
	}

	private close(): void {
		this.values.push(Math.sqrt(this.sum / this.filled));
		this.sum = 0;
		this.filled = 0;
	}

	flush(): void {
		if (this.filled) this.close();
	}

	/** Frames before `seconds` are not needed again (kept when the whole curve is). */
	dropBefore(seconds: number): void {
		if (this.keepAll) return;
		const first = Math.floor((seconds * this.rate) / this.frame);
		const n = first - this.base;
		if (n > 4096) {
			this.values = this.values.slice(n);
			this.base = first;
		}
	}

	/** The frames from `base` on, frame f at index f - base (not a copy). */
	view(): EnergyView {
		return { rms: this.values, frame: this.frame / this.rate, base: this.base };
	}
}

/**
 * The loud part (within 30 dB of the loudest 10 ms) of [spanStart, spanEnd]
 * (the center-based estimate [start, end] give or take a hop); kept only
 * when it overlaps that estimate, else the estimate stands.
 */
function tighten(e: EnergyView, spanStart: number, spanEnd: number, start: number, end: number): [number, number] {
	const a = Math.max(0, Math.floor(spanStart / e.frame) - e.base);
	const b = Math.min(e.rms.length, Math.ceil(spanEnd / e.frame) - e.base);
	let peak = 0;
	for (let f = a; f < b; f++) peak = Math.max(peak, e.rms[f]);
	if (peak <= 0) return [start, end];
	const floor = peak * 10 ** (-30 / 20);
	let first = -1;
	let last = -1;
	for (let f = a; f < b; f++) {
		if (e.rms[f] >= floor) {
			if (first < 0) first = f;
			last = f;
		}
	}
	const s = (first + e.base) * e.frame;
	const t = (last + 1 + e.base) * e.frame;
	return t > start && s < end ? [s, t] : [start, end];
}
