/**
 * The second core for spectrogram features: a clip of a few hundred to a few
 * thousand frames (AST's 10 s, Whisper's 30 s window, CLAP's 10 s) has its
 * later half computed on a helper thread while n8n's thread computes the
 * first half; the results are the same numbers (the same code on the same
 * samples). n8n's thread then waits for the helper with Atomics.wait, so the
 * extractors stay synchronous; the helper's half is bounded (MAX_FRAMES) so
 * that wait stays under a time slice, and after WAIT_MS without an answer the
 * frames are computed here and the helper is dropped.
 *
 * Only one extraction uses the helper at a time (others run on n8n's thread),
 * the helper starts on first use (that call runs alone), and
 * N8N_AUDIO_CLASSIFICATION_FEATURE_THREAD=0 turns it off.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

import type { LogMelOptions } from './types';

/**
 * Fewer frames than this stay on n8n's thread. Measured in the real n8n (npm run bench:n8n,
 * tiny AST, 40 clips, warm): with the helper, 2 s clips (198 frames) took 1.20x as long, 10 s
 * (998 frames) 0.84x, 30 s 0.65x; the message and the helper's wake-up cost more than half of
 * a few hundred frames (~10 us each) saves.
 */
const MIN_FRAMES = 512;
/**
 * The helper starts at the START_AFTER-th extraction long enough for it, not the first: a
 * process's first executions (model load, WebAssembly compiles) then do not share the two
 * cores with a thread starting and its code running cold.
 */
const START_AFTER = 4;
let wanted = 0;
/** More frames than this: the helper's half would make the wait longer than a time slice. */
const MAX_FRAMES = 4096;
const WAIT_MS = 2000;
/** Longer signals stay on one thread: the helper's copy of the signal is kept (at most 4 or 8 MB). */
const MAX_SAMPLES = 1 << 20;

interface Helper {
	worker: import('node:worker_threads').Worker;
	/** [0]: 0 idle, 1 working, 2 done, 3 failed. */
	state: Int32Array;
	ready: boolean;
	/** An extraction owns the shared buffers from its request until it has copied its frames. */
	owned: boolean;
	/** The owner went away (cancelled): the buffers are free once the helper has stopped writing. */
	abandoned: boolean;
	/** Options objects already sent (cached tables: same object, same id). */
	sent: WeakMap<LogMelOptions, number>;
	signal32?: Float32Array;
	/** Whisper's wave is Float64. */
	signal64?: Float64Array;
	out?: Float32Array;
}

let helper: Helper | undefined;
let disabled = false;
let nextId = 1;

function start(): void {
	const file = path.join(__dirname, 'feature-worker.js');
	// Under ts-jest (src/) there is no compiled worker: features then run on one thread.
	if (process.env.N8N_AUDIO_CLASSIFICATION_FEATURE_THREAD === '0' || !existsSync(file)) {
		disabled = true;
		return;
	}
	const { Worker } = require('node:worker_threads') as typeof import('node:worker_threads');
	const state = new Int32Array(new SharedArrayBuffer(4));
	const worker = new Worker(file, { workerData: { state } });
	const h: Helper = { worker, state, ready: false, owned: false, abandoned: false, sent: new WeakMap() };
	worker.on('message', (m) => {
		if (m === 'ready') h.ready = true;
	});
	worker.on('error', () => drop(h));
	worker.on('exit', () => drop(h));
	worker.unref(); // after the listeners (adding one refs it again): never keeps a process alive
	helper = h;
}

let dropped = 0;

/** A helper that failed or did not answer is replaced on the next extraction; after three, none is started again. */
function drop(h: Helper): void {
	if (helper === h) {
		helper = undefined;
		if (++dropped >= 3) disabled = true;
	}
	void h.worker.terminate().catch(() => undefined);
}

function shared<T extends Float32Array | Float64Array>(current: T | undefined, length: number, Type: { new (b: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number }): T {
	if (current && current.length >= length) return current;
	return new Type(new SharedArrayBuffer(Type.BYTES_PER_ELEMENT * Math.max(length, 1 << 16)));
}

let runs = 0;
/** How many extractions the helper has shared (tests read it). */
export const helperRuns = () => runs;

/** Whether the next extraction could use the helper: started, ready, and not working for anyone (tests wait for it). */
export function helperFree(): boolean {
	const h = helper;
	return !!h && h.ready && (!h.owned || (h.abandoned && Atomics.load(h.state, 0) !== 1));
}

/**
 * Hands frames [from, first + count) to the helper, if it is there and free;
 * `finish()` waits for them and copies them into `out` (false: compute them
 * yourself); `abandon()` when the extraction stops before finishing.
 */
export function helperForFrames(
	signal: ArrayLike<number>,
	o: LogMelOptions,
	out: Float32Array,
	first: number,
	count: number,
): { from: number; finish(): boolean; abandon(): void } | undefined {
	const f32 = signal instanceof Float32Array;
	if (disabled || count < MIN_FRAMES || count > MAX_FRAMES || signal.length > MAX_SAMPLES || !(f32 || signal instanceof Float64Array)) return undefined;
	if (!helper) {
		if (++wanted < START_AFTER) return undefined;
		start();
	}
	const h = helper;
	if (!h || !h.ready) return undefined;
	if (h.owned && !(h.abandoned && Atomics.load(h.state, 0) !== 1)) return undefined;
	const from = first + (count >> 1);
	const to = first + count;
	let copy: Float32Array | Float64Array;
	if (f32) copy = h.signal32 = shared(h.signal32, signal.length, Float32Array);
	else copy = h.signal64 = shared(h.signal64, signal.length, Float64Array);
	copy.set(signal as Float32Array | Float64Array);
	h.out = shared(h.out, out.length, Float32Array);
	let id = h.sent.get(o);
	const fresh = id === undefined;
	if (fresh) {
		id = nextId++;
		h.sent.set(o, id);
	}
	h.owned = true;
	h.abandoned = false;
	Atomics.store(h.state, 0, 1);
	h.worker.postMessage({ id, options: fresh ? o : undefined, signal: copy, length: signal.length, out: h.out, first, from, to });
	return {
		from,
		abandon() {
			h.abandoned = true;
		},
		finish() {
			h.owned = false;
			const done = Atomics.wait(h.state, 0, 1, WAIT_MS) !== 'timed-out' && Atomics.load(h.state, 0) === 2;
			if (!done) {
				drop(h);
				return false;
			}
			copyFrames(h.out!, out, o, first, from, to);
			runs++;
			return true;
		},
	};
}

/** Frames [from, to) of `source` into `out`, in the layout logMelFrames writes. */
function copyFrames(source: Float32Array, out: Float32Array, o: LogMelOptions, first: number, from: number, to: number): void {
	const mels = o.filters.count;
	if (o.layout === 'frameMajor') {
		const base = (o.outFrame ?? 0) - first;
		out.set(source.subarray((base + from) * mels, (base + to) * mels), (base + from) * mels);
		return;
	}
	const stride = o.stride ?? 0;
	for (let m = 0; m < mels; m++) out.set(source.subarray(m * stride + from, m * stride + to), m * stride + from);
}
