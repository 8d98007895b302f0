/**
 * A live HTTP(S) audio stream (Icecast/Shoutcast and other progressive
 * streams): one connection, its bytes as they arrive. Redirects are followed
 * by hand (at most MAX_REDIRECTS, http and https only: never file:, data: or
 * another scheme), credentials travel in headers only and never appear in an
 * error, and a connection that sends nothing for `stallMs` is given up.
 * Reconnecting is the caller's (live.ts); this file is one connection.
 */
import { SourceError } from './types';

export const MAX_REDIRECTS = 5;

export interface HttpSourceOptions {
	url: string;
	/** Extra request headers (e.g. Authorization from n8n's generic credentials). */
	headers?: Record<string, string>;
	/** Give up the connection when no byte arrives for this long. */
	stallMs: number;
	signal: AbortSignal;
}

/**
 * The URL as it may be shown (logs, errors, the trigger's `source`): no user name or password,
 * no fragment, and query values masked (stream servers often take a token there).
 */
export function displayUrl(url: string): string {
	try {
		const u = new URL(url);
		u.username = '';
		u.password = '';
		u.hash = '';
		const keys = [...u.searchParams.keys()];
		u.search = keys.length ? `?${keys.map((k) => `${encodeURIComponent(k)}=***`).join('&')}` : '';
		return u.toString();
	} catch {
		return '(an invalid URL)';
	}
}

/** Checks a stream URL: http or https only. */
export function checkHttpUrl(url: string): URL {
	let u: URL;
	try {
		u = new URL(url);
	} catch {
		throw new SourceError('The stream URL is not a valid URL', 'Enter the full address, e.g. https://radio.example.com/live.mp3.', false);
	}
	if (u.protocol !== 'http:' && u.protocol !== 'https:') {
		throw new SourceError(`The stream URL must start with http:// or https:// (it starts with ${u.protocol})`, 'Use the stream\'s web address (Icecast, Shoutcast or a progressive HTTP stream). RTSP, RTMP and SRT sources are not supported yet.', false);
	}
	return u;
}

/** Basic credentials in the URL (https://user:pass@host/) move to a header, as browsers do. */
function credentialHeaders(u: URL): Record<string, string> {
	if (!u.username && !u.password) return {};
	const basic = Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64');
	return { authorization: `Basic ${basic}` };
}

export interface HttpConnection {
	/** The Content-Type the server sent (lower case, no parameters), if any. */
	contentType?: string;
	/** The URL after redirects, without credentials. */
	url: string;
	/** The body, chunk by chunk; ends when the server closes the stream. */
	chunks: AsyncGenerator<Uint8Array, void, void>;
}

/** Opens one connection; throws SourceError (retryable or not) when it cannot. */
export async function openHttp(o: HttpSourceOptions): Promise<HttpConnection> {
	let u = checkHttpUrl(o.url);
	const auth = credentialHeaders(u);
	const origin = u.origin;
	const controller = new AbortController();
	const abort = () => controller.abort();
	o.signal.addEventListener('abort', abort, { once: true });
	const cleanup = () => o.signal.removeEventListener('abort', abort);
	try {
		for (let hop = 0; ; hop++) {
			const clean = new URL(u.toString());
			clean.username = '';
			clean.password = '';
			// Credentials go to the origin the user named, never to another host a redirect names.
			const headers = { 'user-agent': 'n8n-nodes-audio-classification', ...(clean.origin === origin ? { ...auth, ...o.headers } : {}) };
			let response: Response;
			const connectTimer = setTimeout(() => controller.abort(), o.stallMs);
			try {
				response = await fetch(clean, { headers, redirect: 'manual', signal: controller.signal });
			} catch (error) {
				if (o.signal.aborted) throw new SourceError('Stopped', '', false, { kind: 'stopped' });
				throw new SourceError(`Could not connect to ${displayUrl(clean.toString())} (${(error as Error)?.cause ? String(((error as Error).cause as Error).message ?? (error as Error).cause) : (error as Error).message})`, 'Check the address and that the stream is on air; it is retried.', true);
			} finally {
				clearTimeout(connectTimer);
			}
			if (response.status >= 300 && response.status < 400 && response.headers.get('location')) {
				await response.body?.cancel().catch(() => undefined);
				if (hop >= MAX_REDIRECTS) throw new SourceError(`The stream redirected more than ${MAX_REDIRECTS} times`, 'Use the final address of the stream.', false);
				u = checkHttpUrl(new URL(response.headers.get('location')!, clean).toString());
				continue;
			}
			if (!response.ok || !response.body) {
				await response.body?.cancel().catch(() => undefined);
				const status = response.status;
				const fatal = status === 401 || status === 403 || status === 404 || status === 410;
				const hint =
					status === 401 || status === 403
						? 'Check the credential (Basic or Header Auth) the trigger uses.'
						: status === 404 || status === 410
							? 'Check the stream address: the server does not have it.'
							: 'The server is busy or down; it is retried.';
				throw new SourceError(`The stream server answered HTTP ${status} for ${displayUrl(clean.toString())}`, hint, !fatal, { kind: 'http', status });
			}
			const contentType = response.headers.get('content-type')?.split(';')[0].trim().toLowerCase() || undefined;
			return { contentType, url: displayUrl(clean.toString()), chunks: bodyChunks(response, controller, o, cleanup) };
		}
	} catch (error) {
		cleanup();
		controller.abort();
		throw error;
	}
}

async function* bodyChunks(response: Response, controller: AbortController, o: HttpSourceOptions, cleanup: () => void): AsyncGenerator<Uint8Array, void, void> {
	const reader = response.body!.getReader();
	let stalled = false;
	let timer = setTimeout(() => {
		stalled = true;
		controller.abort();
	}, o.stallMs);
	try {
		for (;;) {
			let r: Awaited<ReturnType<typeof reader.read>>;
			try {
				r = await reader.read();
			} catch (error) {
				if (o.signal.aborted) return;
				if (stalled) throw new SourceError(`No audio arrived for ${(o.stallMs / 1000).toFixed(o.stallMs < 10_000 ? 1 : 0)} s`, 'The stream stalled; it is reconnected.', true, { kind: 'stall' });
				throw new SourceError(`The stream connection broke (${(error as Error).message})`, 'It is reconnected.', true);
			}
			if (r.done) return;
			clearTimeout(timer);
			timer = setTimeout(() => {
				stalled = true;
				controller.abort();
			}, o.stallMs);
			yield r.value;
		}
	} finally {
		clearTimeout(timer);
		cleanup();
		controller.abort();
		reader.releaseLock?.();
	}
}
