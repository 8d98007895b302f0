/**
 * Listening to a live stream: what the Audio Event Trigger runs. A source
 * kept connected (sources/live.ts) -> a live decoder (decoders/live.ts) ->
 * the streaming resampler -> the one streaming detector, with the model's
 * session leased for as long as it listens. Each event comes with wall-clock
 * times, its offset in the stream, and a WAV clip (seconds before and after).
 *
 * Real time or honest: when classification falls behind the stream by more
 * than `maxLagSeconds`, audio is skipped until it has caught up, and the
 * seconds skipped are reported (the detector's clock moves on by them).
 * Across a reconnect, the time the stream was away is a gap: no event joins
 * audio from both sides of it. Memory: the detector's window, the clip ring
 * (clip seconds + the detector's latency), one frame of undecoded bytes.
 */
import { LIVE_HEAD_BYTES, openLiveResampled, type LiveDecoder } from '../audio/decoders/live';
import { encodeOggOpus, encodeWav16 } from '../audio/encode';
import { openFfmpeg } from '../audio/sources/ffmpeg';
import { openHls } from '../audio/sources/hls';
import { displayUrl, openHttp } from '../audio/sources/http';
import { runLive } from '../audio/sources/live';
import { SourceError } from '../audio/sources/types';
import { AudioDecodeError } from '../errors';
import type { BackendChoice } from '../inference/types';
import type { Device } from '../inference/runtime';
import type { ModelSpec } from '../model/spec';
import { Slicer } from '../util/slicer';
import { type PreparedClassifier, withClassifier } from './classifier';
import { DEFAULT_HYPOTHESIS_TEMPLATE, isClap, withZeroShotClassifier } from './zero-shot';
import { createDetector, defaultIgnored, type DetectOptions, type HeardWindow } from './detect-events';
import type { DetectedEvent } from './types';

export type ClipFormat = 'wav' | 'ogg-opus';

/** Where the audio comes from: a progressive HTTP(S) stream, an HLS playlist, or anything ffmpeg opens. */
export type SourceKind = 'http' | 'hls' | 'ffmpeg';

export interface ListenOptions extends Pick<DetectOptions, 'window' | 'hop' | 'threshold' | 'minDuration' | 'mergeGap' | 'functionToApply'> {
	url: string;
	/** Default 'http'. */
	source?: SourceKind;
	headers?: Record<string, string>;
	device: Device;
	backend?: BackendChoice;
	threads?: number;
	/** Labels to report (default: every label that is not silence, unknown or noise). */
	labels?: string[];
	/** A CLAP model: the labels to listen for, and the sentence each is put in (default "This is a sound of {}."). */
	candidateLabels?: string[];
	hypothesisTemplate?: string;
	/** Per label, seconds after an event during which the same label is not reported again (default 3). */
	cooldown?: number;
	/** Seconds of audio before and after the event in its clip (default 1 and 0.5; 0 and 0: no clip). An event is handed out once its clip is complete. */
	clipBefore?: number;
	clipAfter?: number;
	/** 'wav' (16-bit, default) or 'ogg-opus' (32 kb/s, for voice messages). */
	clipFormat?: ClipFormat;
	/** Give up a connection that sends nothing for this long (default 15 s). */
	stallMs?: number;
	/** Skip ahead when classification is this many seconds behind the stream (default 5). */
	maxLagSeconds?: number;
	initialBackoffMs?: number;
	maxBackoffMs?: number;
	signal: AbortSignal;
	onEvent(e: HeardEvent): void | Promise<void>;
	/** Connections, drops, gaps and skips. */
	onStatus?(s: ListenStatus): void;
	/** Every window's top label (times on the stream's clock): what was heard, event or not. */
	onWindow?(w: HeardWindow): void;
	/** Wall clock, ms (tests pass their own). */
	now?: () => number;
}

export interface HeardEvent extends DetectedEvent {
	/** ISO wall-clock times of the event's start and end. */
	startedAt: string;
	endedAt: string;
	/** Seconds since the trigger first connected (the stream's own clock, gaps included). */
	streamOffset: number;
	source: string;
	model: string;
	/** The event with clipBefore / clipAfter around it, at the model's rate, mono: 16-bit WAV or Ogg Opus (clipFormat). */
	clip?: Buffer;
	clipFormat?: ClipFormat;
}

export type ListenStatus =
	| { kind: 'connected'; url: string; contentType?: string; decoder?: string; attempt: number }
	| { kind: 'disconnected'; error?: string; hint?: string; waitMs: number; downSeconds: number }
	| { kind: 'skipped'; seconds: number; lagSeconds: number }
	/** The time the stream was away, as a gap on the stream's clock. */
	| { kind: 'gap'; seconds: number; at: number };

type Stamped = DetectedEvent & { startedAt: string; endedAt: string };

/** Listens until the signal aborts (resolves) or the source gives up (rejects with its SourceError). */
export async function listen(spec: ModelSpec, o: ListenOptions): Promise<void> {
	const now = o.now ?? Date.now;
	const rate = spec.samplingRate;
	const source = sourceDisplay(o.url, o.source);
	const clipBefore = Math.max(0, o.clipBefore ?? 1);
	const clipAfter = Math.max(0, o.clipAfter ?? 0.5);
	const maxLag = o.maxLagSeconds ?? 5;
	const watch = o.labels?.length ? new Set(o.labels) : undefined;
	// No signal here: a stop ends the source (below), and the windows already received are still scored.
	const prepared = { device: o.device, backend: o.backend, threads: o.threads };
	const classify = <T>(fn: (c: PreparedClassifier) => Promise<T>) =>
		isClap(spec) ? withZeroShotClassifier(spec, o.candidateLabels ?? [], o.hypothesisTemplate || DEFAULT_HYPOTHESIS_TEMPLATE, prepared, fn) : withClassifier(spec, prepared, fn);
	await classify(async (classifier) => {
		// CLAP: the user's labels are the model's labels here.
		const all = Object.values(classifier.spec.config.id2label ?? {});
		const ignore = watch ? all.filter((l) => !watch.has(l)) : defaultIgnored(classifier.spec);
		// batchSize 1: an event is handed out as soon as its windows are scored (latency over throughput).
		const detector = createDetector(classifier, {
			...o,
			ignoreLabels: ignore,
			batchSize: 1,
			cooldown: o.cooldown ?? 3,
			onWindow: o.onWindow && ((w) => o.onWindow!(w)),
		});
		const ring = new ClipRing(Math.ceil((clipBefore + clipAfter + 30) * rate));
		const waiting: Stamped[] = []; // events whose clip needs audio still to come
		let decoder: LiveDecoder | undefined;
		let head: Buffer[] = [];
		let headBytes = 0;
		let connectedAt = 0; // wall ms
		let audioSinceConnect = 0; // seconds fed since connecting (skipped included)
		let skipping = 0; // samples skipped (not yet reported to the detector)
		let lastDown = 0;
		let lastArrival = now();

		/**
		 * Wall-clock times, fixed when the detector hands the event out: the audio received so far
		 * (`duration` seconds on the stream's clock) ended arriving at `arrival`. Not when the event
		 * is emitted: by then a gap (a reconnect) may have moved the stream's clock on.
		 */
		const stamp = (events: DetectedEvent[], duration = detector.duration, arrival = lastArrival): Stamped[] =>
			events.map((e) => ({
				...e,
				startedAt: new Date(arrival - (duration - e.start) * 1000).toISOString(),
				endedAt: new Date(arrival - (duration - e.end) * 1000).toISOString(),
			}));
		const gap = async (seconds: number) => {
			const [duration, arrival] = [detector.duration, lastArrival];
			waiting.push(...stamp(await detector.gap(seconds), duration, arrival));
		};
		const emit = async (e: Stamped) => {
			let clip: Buffer | undefined;
			let clipFormat: ClipFormat | undefined;
			if (clipBefore + clipAfter > 0) {
				const x = ring.samples(Math.max(0, e.start - clipBefore), e.end + clipAfter, rate);
				// An Ogg Opus clip that cannot be made falls back to WAV: the event is not lost for its clip.
				clip = o.clipFormat === 'ogg-opus' ? await encodeOggOpus(x, rate).catch(() => undefined) : undefined;
				clipFormat = clip ? 'ogg-opus' : 'wav';
				clip ??= encodeWav16(x, rate);
			}
			await o.onEvent({ ...e, streamOffset: e.start, source, model: spec.name, clip, clipFormat });
		};
		const flushWaiting = async (force = false) => {
			while (waiting.length && (force || detector.duration >= waiting[0].end + clipAfter)) await emit(waiting.shift()!);
		};
		/** `arrived`: false for the resampler's tail at a disconnect (it came with the last bytes, not now). */
		const feed = async (block: Float32Array, arrived = true) => {
			if (arrived) lastArrival = now();
			audioSinceConnect += block.length / rate;
			const lag = (lastArrival - connectedAt) / 1000 - audioSinceConnect;
			const behind = lag > maxLag || (skipping > 0 && lag > maxLag / 2);
			if (behind) skipping += block.length;
			// Skipped audio is reported when the stream has caught up, and every 5 s while it has not.
			if (skipping && (!behind || skipping >= 5 * rate)) {
				const seconds = skipping / rate;
				skipping = 0;
				o.onStatus?.({ kind: 'skipped', seconds, lagSeconds: lag });
				await gap(seconds);
				ring.skip(Math.round(seconds * rate));
				await flushWaiting(true);
			}
			if (behind) return;
			ring.push(block);
			waiting.push(...stamp(await detector.push(block)));
			await flushWaiting();
		};
		const closeDecoder = async () => {
			await decoder?.close();
			decoder = undefined;
			head = [];
			headBytes = 0;
		};
		const hlsResume = {}; // where the playlist was left: a reconnect goes on from there
		try {
			await runLive({
				signal: o.signal,
				initialBackoffMs: o.initialBackoffMs,
				maxBackoffMs: o.maxBackoffMs,
				open: (signal) => {
					const stallMs = o.stallMs ?? 15_000;
					if (o.source === 'ffmpeg') return openFfmpeg({ url: o.url, headers: o.headers, samplingRate: rate, stallMs, signal });
					if (o.source === 'hls') return openHls({ url: o.url, headers: o.headers, stallMs, signal, resume: hlsResume });
					return openHttp({ url: o.url, headers: o.headers, stallMs, signal });
				},
				onConnect: async (c) => {
					if (lastDown) {
						// The time the stream was away: a gap on the detector's clock.
						const down = (now() - lastDown) / 1000;
						o.onStatus?.({ kind: 'gap', seconds: down, at: detector.duration });
						await gap(down);
						ring.skip(Math.round(down * rate));
						await flushWaiting(true);
					}
					connectedAt = now();
					audioSinceConnect = 0;
					o.onStatus?.({ kind: 'connected', url: c.url, contentType: c.contentType, attempt: c.attempt });
				},
				onBytes: async (chunk) => {
					if (!decoder) {
						// The stream's clock starts with its first bytes (ffmpeg probes a stream for seconds before writing any).
						if (!headBytes) connectedAt = now();
						head.push(Buffer.from(chunk));
						headBytes += chunk.length;
						if (headBytes < LIVE_HEAD_BYTES) return;
						const first = Buffer.concat(head);
						try {
							decoder = await openLiveResampled(first, rate, new Slicer(o.signal), feed);
						} catch (e) {
							if (e instanceof AudioDecodeError) throw new SourceError(e.message, e.hint, false, { kind: 'liveFormat' });
							throw e;
						}
						o.onStatus?.({ kind: 'connected', url: source, decoder: decoder.name, attempt: 0 });
						await decoder.push(first);
						return;
					}
					try {
						await decoder.push(chunk);
					} catch (e) {
						// A decoder that lost the stream (or trapped on it): reconnect, with a fresh decoder.
						if (e instanceof SourceError) throw e;
						const hint = e instanceof AudioDecodeError ? e.hint : 'It is reconnected.';
						throw new SourceError(`The stream could not be decoded (${String((e as Error)?.message ?? e).slice(0, 160)})`, hint, true, { kind: 'liveDecode' });
					}
				},
				onDisconnect: async (d) => {
					await closeDecoder();
					lastDown = now();
					o.onStatus?.({ kind: 'disconnected', error: d.error?.message, hint: d.error?.hint, waitMs: d.waitMs, downSeconds: d.waitMs / 1000 });
				},
			});
		} finally {
			await closeDecoder().catch(() => undefined);
		}
		// Stopped: the events already complete are still handed out.
		waiting.push(...stamp(await detector.end()));
		await flushWaiting(true);
	});
}

/** How a source may be shown: a URL without credentials or query values; a capture device (alsa:default) as it is. */
export function sourceDisplay(url: string, kind: SourceKind = 'http'): string {
	return kind === 'ffmpeg' && /^[a-z]+:(?!\/\/)/i.test(url.trim()) ? url.trim() : displayUrl(url);
}

/** The last `capacity` samples, with absolute positions, for event clips. */
class ClipRing {
	private readonly buf: Float32Array;
	private total = 0; // samples ever pushed (or skipped)

	constructor(capacity: number) {
		this.buf = new Float32Array(Math.max(1, capacity));
	}

	push(block: Float32Array): void {
		const cap = this.buf.length;
		const from = Math.max(0, block.length - cap);
		for (let i = from; i < block.length; i++) this.buf[(this.total + i) % cap] = block[i];
		this.total += block.length;
	}

	skip(samples: number): void {
		for (let n = 0; n < Math.min(samples, this.buf.length); n++) this.buf[(this.total + n) % this.buf.length] = 0;
		this.total += samples;
	}

	/** The samples of [start, end) seconds, as much of it as is still held. */
	samples(start: number, end: number, rate: number): Float32Array {
		const cap = this.buf.length;
		const a = Math.max(this.total - cap, Math.round(start * rate));
		const b = Math.min(this.total, Math.round(end * rate));
		const out = new Float32Array(Math.max(0, b - a));
		for (let i = 0; i < out.length; i++) out[i] = this.buf[(a + i) % cap];
		return out;
	}
}
