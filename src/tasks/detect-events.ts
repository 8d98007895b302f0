/**
 * Detect Events: what was said or heard, and when. The decoded audio is cut
 * into windows (`window` seconds every `hop` seconds), each window is
 * classified (in batches through one session), and runs of windows whose
 * label passes `threshold` become events `{label, start, end, score,
 * meanScore}`; the edges are then tightened to where the sound is (10 ms
 * energy frames), so a spoken word gives one event at its own time.
 */
import { decodeAudioStream } from '../audio/decode';
import { AudioClassificationError } from '../errors';
import type { FeatureTensors } from '../features';
import type { BackendChoice } from '../inference/backends';
import { checkInferenceBudget } from '../inference/budget';
import type { Device } from '../inference/runtime';
import { labelOf, type ModelSpec } from '../model/spec';
import { type FunctionToApply, resolveFunction, scoresFromLogits } from '../postprocess';
import type { DecoderChoice } from '../audio/decode';
import { withClassifier } from './classifier';
import type { DetectedEvent } from './types';
import { renderTimeline } from './timeline';

export type { DetectedEvent } from './types';

export interface DetectOptions {
	/** Window length in seconds (default: the model's own span, see defaultWindow). */
	window?: number;
	/** Seconds between window starts (default: a quarter of the window). */
	hop?: number;
	/** Score a window's label needs to count (default 0.7). */
	threshold?: number;
	/** Events shorter than this (seconds) are dropped (default 0). */
	minDuration?: number;
	/** Events of one label closer than this (seconds) are merged (default: one hop). */
	mergeGap?: number;
	/** Labels that are never events (default: _silence_, _unknown_ and background labels). */
	ignoreLabels?: string[];
	/** Windows an event needs at least (default 2 when windows overlap by half or more: one stray window is not a sound). */
	minWindows?: number;
	/** Windows per session.run (results do not depend on it). */
	batchSize?: number;
	functionToApply?: FunctionToApply;
	device: Device;
	backend?: BackendChoice;
	decoder?: DecoderChoice;
	threads?: number;
	ffmpegPath?: string;
	maxDuration?: number;
	signal?: AbortSignal;
	/** Also return every window's scores. */
	includeWindows?: boolean;
	/** Also return a timeline picture (PNG) of the loudness and the events. */
	timeline?: boolean;
}


export interface WindowScores {
	start: number;
	end: number;
	scores: Array<{ label: string; score: number }>;
}

export interface Detection {
	events: DetectedEvent[];
	windows?: WindowScores[];
	/** PNG: loudness over time with the events as labelled spans (when asked). */
	timeline?: Buffer;
	/** Seconds of audio. */
	duration: number;
	window: number;
	hop: number;
	decoder: string;
	backend: string;
	provider: string;
	fallbackReason?: string;
}

/** A window's label must reach this score: above the built-in model's scores on other words and noise, below its scores on commands. */
export const DEFAULT_THRESHOLD = 0.6;

const BACKGROUND = /^(_?silence_?|_?unknown_?|_?background(_noise)?_?|noise|other|none)$/i;

/**
 * The window a model naturally sees: AST its max_length frames (10.24 s),
 * Whisper its 30 s; waveform models have no fixed span, so keyword spotters
 * (labels with _silence_/_unknown_, like the built-in model) get the 1 s they
 * were trained on, and other waveform classifiers (emotion, language,
 * speaker) 3 s: long enough for a phrase, short enough to place it.
 */
export function defaultWindow(spec: ModelSpec): number {
	const pre = spec.preprocessor;
	if (pre.feature_extractor_type === 'ASTFeatureExtractor') return ((pre.max_length ?? 1024) - 1) * 0.01 + 0.025;
	if (pre.feature_extractor_type === 'WhisperFeatureExtractor') return pre.chunk_length ?? 30;
	const labels = Object.values(spec.config.id2label ?? {});
	return labels.some((l) => /^_?(silence|unknown)_?$/i.test(l)) ? 1 : 3;
}

export function defaultIgnored(spec: ModelSpec): string[] {
	return Object.values(spec.config.id2label ?? {}).filter((l) => BACKGROUND.test(l));
}

function invalid(what: string, hint: string): AudioClassificationError {
	return new AudioClassificationError(what, hint, { kind: 'invalidDetectOption' });
}

export async function detectEvents(audio: Buffer, spec: ModelSpec, options: DetectOptions): Promise<Detection> {
	const window = options.window && options.window > 0 ? options.window : defaultWindow(spec);
	const hop = options.hop && options.hop > 0 ? options.hop : window / 4;
	const threshold = options.threshold ?? DEFAULT_THRESHOLD;
	if (hop > window) throw invalid(`The hop (${hop} s) is longer than the window (${window} s)`, 'Set a hop no longer than the window, so no audio is skipped.');
	if (window * spec.samplingRate > 60 * spec.samplingRate * 10) throw invalid(`The window (${window} s) is too long`, 'Use windows of at most 10 minutes.');
	const rate = spec.samplingRate;
	const winLen = Math.round(window * rate);
	const hopLen = Math.max(1, Math.round(hop * rate));
	const batchSize = Math.max(1, Math.floor(options.batchSize ?? 8));
	checkInferenceBudget(spec, winLen * batchSize);
	const fn = resolveFunction(options.functionToApply ?? 'auto', spec.config.problem_type);
	const scores: Float64Array[] = [];
	const energy = new EnergyFrames(rate);
	let decoded: { decoder: string; duration: number } = { decoder: '', duration: 0 };
	// The audio streams through: only the samples the next windows still need are kept.
	let pending = new Float32Array(0);
	let pendingStart = 0; // absolute index of pending[0]
	let received = 0;
	let nextWindow = 0;
	const loaded = await withClassifier(spec, options, async (classifier) => {
		let batch: FeatureTensors[] = [];
		const perCall = classifier.batches ? batchSize : 1; // large models: one window per call
		const runBatch = async () => {
			if (!batch.length) return;
			for (const row of await classifier.logits(batch)) scores.push(scoresFromLogits(row, fn));
			batch = [];
		};
		const addWindow = async (w: number) => {
			const chunk = new Float32Array(winLen); // zero-padded past the end
			const from = w * hopLen - pendingStart;
			chunk.set(pending.subarray(from, Math.min(pending.length, from + winLen)));
			batch.push(await classifier.features(chunk));
			if (batch.length >= perCall) await runBatch();
		};
		decoded = await decodeAudioStream(
			audio,
			{ samplingRate: rate, ffmpegPath: options.ffmpegPath, signal: options.signal, maxDuration: options.maxDuration, decoder: options.decoder },
			async (block) => {
				const merged = new Float32Array(pending.length + block.length);
				merged.set(pending);
				merged.set(block, pending.length);
				pending = merged;
				energy.push(block);
				received += block.length;
				while (nextWindow * hopLen + winLen <= received) await addWindow(nextWindow++);
				const keepFrom = nextWindow * hopLen;
				if (keepFrom > pendingStart) {
					pending = pending.slice(Math.min(pending.length, keepFrom - pendingStart));
					pendingStart = keepFrom;
				}
			},
		);
		// The windows that reach past the end (zero-padded); a recording shorter than a window is one.
		const count = received <= winLen ? 1 : 1 + Math.ceil((received - winLen) / hopLen);
		while (nextWindow < count) await addWindow(nextWindow++);
		await runBatch();
		return classifier.session;
	});
	energy.flush();
	const energyFrames = energy.result();
	const duration = received / rate;
	const count = scores.length;
	const labels = scores[0] ? Array.from(scores[0], (_, i) => labelOf(spec.config, i)) : [];
	const ignore = new Set(options.ignoreLabels ?? defaultIgnored(spec));
	const centers = Array.from({ length: count }, (_, w) => Math.min(duration, (w * hopLen + winLen / 2) / rate));
	const active: Array<Array<{ w: number; score: number }>> = labels.map(() => []);
	scores.forEach((row, w) => {
		if (fn === 'sigmoid') {
			row.forEach((s, i) => s >= threshold && !ignore.has(labels[i]) && active[i].push({ w, score: s }));
		} else {
			let best = 0;
			for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
			if (row[best] >= threshold && !ignore.has(labels[best])) active[best].push({ w, score: row[best] });
		}
	});
	const events: DetectedEvent[] = [];
	const mergeGap = options.mergeGap ?? hop;
	const minWindows = options.minWindows ?? (hop <= window / 2 ? 2 : 1);
	active.forEach((hits, i) => {
		let group: Array<{ w: number; score: number }> = [];
		const close = () => {
			if (!group.length) return;
			let start = Math.max(0, centers[group[0].w] - hop / 2);
			let end = Math.min(duration, centers[group[group.length - 1].w] + hop / 2);
			// Then tighten (or widen, by up to a hop) to where the sound is.
			[start, end] = tighten(energyFrames, Math.max(0, start - hop), Math.min(duration, end + hop), start, end);
			const score = Math.max(...group.map((g) => g.score));
			const meanScore = group.reduce((a, g) => a + g.score, 0) / group.length;
			if (group.length >= minWindows && end - start >= (options.minDuration ?? 0)) events.push({ label: labels[i], start: round(start), end: round(end), score, meanScore });
			group = [];
		};
		for (const hit of hits) {
			const last = group[group.length - 1];
			if (last && centers[hit.w] - centers[last.w] > hop + mergeGap + 1e-9) close();
			group.push(hit);
		}
		close();
	});
	// One sound, one event: with a single-label model, windows that catch only part of a word
	// may pass the threshold with a neighbouring label; the stronger of overlapping events wins.
	const kept = fn === 'sigmoid' ? events : suppressOverlaps(events);
	kept.sort((a, b) => a.start - b.start || b.score - a.score);
	const windows = options.includeWindows
		? scores.map((row, w) => ({
				start: round((w * hopLen) / rate),
				end: round(Math.min(duration, (w * hopLen + winLen) / rate)),
				scores: Array.from(row, (score, i) => ({ label: labels[i], score })).sort((a, b) => b.score - a.score),
			}))
		: undefined;
	return {
		events: kept,
		windows,
		timeline: options.timeline ? renderTimeline({ duration, energy: energyFrames, events: kept }) : undefined,
		duration,
		window,
		hop,
		decoder: decoded.decoder,
		backend: loaded.backend,
		provider: loaded.provider,
		fallbackReason: loaded.fallbackReason,
	};
}

const round = (t: number) => Math.round(t * 1000) / 1000;

function suppressOverlaps(events: DetectedEvent[]): DetectedEvent[] {
	const kept: DetectedEvent[] = [];
	for (const e of [...events].sort((a, b) => b.score - a.score || a.start - b.start)) {
		if (!kept.some((k) => e.start < k.end && e.end > k.start)) kept.push(e);
	}
	return kept;
}

/** RMS of 10 ms frames, computed as the audio streams by (4 bytes per 10 ms). */
class EnergyFrames {
	private readonly frame: number;
	private values: number[] = [];
	private sum = 0;
	private filled = 0;

	constructor(private readonly rate: number) {
		this.frame = Math.max(1, Math.round(rate / 100));
	}

	push(block: Float32Array): void {
		for (let i = 0; i < block.length; i++) {
			this.sum += block[i] * block[i];
			if (++this.filled === this.frame) this.close();
		}
	}

	private close(): void {
		this.values.push(Math.sqrt(this.sum / this.filled));
		this.sum = 0;
		this.filled = 0;
	}

	flush(): void {
		if (this.filled) this.close();
	}

	result(): { rms: Float32Array; frame: number } {
		return { rms: Float32Array.from(this.values), frame: this.frame / this.rate };
	}
}

/**
 * The loud part (within 30 dB of the loudest 10 ms) of [spanStart, spanEnd]
 * (the center-based estimate [start, end] give or take a hop); kept only
 * when it overlaps that estimate, else the estimate stands.
 */
function tighten(e: { rms: Float32Array; frame: number }, spanStart: number, spanEnd: number, start: number, end: number): [number, number] {
	const a = Math.max(0, Math.floor(spanStart / e.frame));
	const b = Math.min(e.rms.length, Math.ceil(spanEnd / e.frame));
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
	const s = first * e.frame;
	const t = (last + 1) * e.frame;
	return t > start && s < end ? [s, t] : [start, end];
}
