/**
 * Keeps a live source connected: drops, 5xx answers, stalls and decoder
 * errors mid-stream reconnect with exponential backoff and jitter; answers
 * that retrying cannot fix (401, 403, 404) give up after `fatalTries`
 * consecutive tries, with the server's answer and what to do. Bytes are
 * handed on one chunk at a time and awaited (backpressure: a slow consumer
 * slows the reading, nothing piles up here).
 */
import { SourceError } from './types';

export interface Connection {
	/** The URL without credentials, and what the server said the audio is. */
	url: string;
	contentType?: string;
	chunks: AsyncIterable<Uint8Array>;
}

export interface LiveOptions {
	open(signal: AbortSignal): Promise<Connection>;
	signal: AbortSignal;
	/** First wait before reconnecting; doubles per failed try up to maxBackoffMs; +-30% jitter. */
	initialBackoffMs?: number;
	maxBackoffMs?: number;
	/** Consecutive failures that retrying cannot fix before giving up (default 3). */
	fatalTries?: number;
	onConnect?(c: { url: string; contentType?: string; attempt: number }): void | Promise<void>;
	/** Awaited: backpressure. A SourceError with retry (e.g. the decoder lost the stream) reconnects. */
	onBytes(chunk: Uint8Array): Promise<void>;
	/** The connection ended (error undefined: the server closed it); the next try comes after waitMs. */
	onDisconnect?(d: { error?: SourceError; waitMs: number; attempt: number }): void | Promise<void>;
	/** Random number in [0, 1) for the jitter (tests pass a fixed one). */
	random?: () => number;
}

const sleep = (ms: number, signal: AbortSignal) =>
	new Promise<void>((resolve) => {
		if (signal.aborted) return resolve();
		const t = setTimeout(done, ms);
		function done() {
			clearTimeout(t);
			signal.removeEventListener('abort', done);
			resolve();
		}
		signal.addEventListener('abort', done, { once: true });
	});

/** Runs until the signal aborts (resolves) or the source gives up (rejects with a SourceError). */
export async function runLive(o: LiveOptions): Promise<void> {
	const initial = o.initialBackoffMs ?? 1000;
	const max = o.maxBackoffMs ?? 60_000;
	const fatalTries = o.fatalTries ?? 3;
	const random = o.random ?? Math.random;
	let failures = 0; // consecutive tries that delivered no audio
	let fatal = 0;
	for (let attempt = 1; !o.signal.aborted; attempt++) {
		let error: SourceError | undefined;
		let delivered = 0;
		try {
			const c = await o.open(o.signal);
			await o.onConnect?.({ url: c.url, contentType: c.contentType, attempt });
			for await (const chunk of c.chunks) {
				if (o.signal.aborted) break;
				delivered += chunk.length;
				await o.onBytes(chunk);
			}
		} catch (e) {
			if (!(e instanceof SourceError)) throw e;
			error = e;
		}
		if (o.signal.aborted) return;
		if (error && !error.retry) {
			fatal++;
			if (fatal >= fatalTries) throw error;
		} else {
			fatal = 0;
		}
		failures = delivered > 0 ? 0 : failures + 1;
		const base = Math.min(max, initial * 2 ** Math.max(0, failures - 1));
		const waitMs = Math.round(base * (0.7 + 0.6 * random()));
		await o.onDisconnect?.({ error, waitMs, attempt });
		await sleep(waitMs, o.signal);
	}
}
