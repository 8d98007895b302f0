/**
 * Live HTTP sources against a loopback server that drops connections, answers
 * 503 for a while, stalls, refuses credentials and redirects where it must not:
 * the stream reconnects with backoff, gives up with a clear error when retrying
 * cannot help, never shows or forwards credentials, and a stop closes the
 * connection at once.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { displayUrl, openHttp } from '../src/audio/sources/http';
import { runLive } from '../src/audio/sources/live';
import { SourceError } from '../src/audio/sources/types';

let server: Server;
let base: string;
const hits = new Map<string, number>();
const authSeen: Array<string | undefined> = [];
let openSockets = 0;

function handler(req: IncomingMessage, res: ServerResponse): void {
	const url = new URL(req.url!, 'http://x');
	const n = (hits.get(url.pathname) ?? 0) + 1;
	hits.set(url.pathname, n);
	authSeen.push(req.headers.authorization);
	const audio = (chunks: number, end = true) => {
		res.writeHead(200, { 'content-type': 'audio/mpeg; charset=binary' });
		for (let i = 0; i < chunks; i++) res.write(Buffer.alloc(1000, i + 1));
		if (end) res.end();
	};
	switch (url.pathname) {
		case '/ok':
			return audio(3);
		case '/drop':
			// Each connection sends 2 KB, then the connection is cut.
			res.writeHead(200, { 'content-type': 'audio/mpeg' });
			res.write(Buffer.alloc(2000, n));
			setTimeout(() => res.socket?.destroy(), 20);
			return;
		case '/busy':
			if (n <= 2) {
				res.writeHead(503).end();
				return;
			}
			return audio(2);
		case '/stall':
			audio(1, false); // then nothing, connection open
			return;
		case '/denied':
			res.writeHead(401, { 'www-authenticate': 'Basic' }).end();
			return;
		case '/needs-auth':
			if (req.headers.authorization !== `Basic ${Buffer.from('radio:s3cret-pass').toString('base64')}`) {
				res.writeHead(401).end();
				return;
			}
			return audio(1);
		case '/to-file':
			res.writeHead(302, { location: 'file:///etc/passwd' }).end();
			return;
		case '/loop':
			res.writeHead(302, { location: '/loop' }).end();
			return;
		case '/to-other-host':
			res.writeHead(302, { location: base.replace('127.0.0.1', 'localhost') + '/ok' }).end();
			return;
		case '/forever':
			// A live stream: a chunk every 10 ms until the client goes away.
			res.writeHead(200, { 'content-type': 'audio/ogg' });
			openSockets++;
			res.on('close', () => openSockets--);
			{
				const t = setInterval(() => res.write(Buffer.alloc(500, 7)), 10);
				res.on('close', () => clearInterval(t));
			}
			return;
		default:
			res.writeHead(404).end();
	}
}

beforeAll(async () => {
	server = createServer(handler);
	await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
	base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
	server.closeAllConnections();
	await new Promise((r) => server.close(r));
});

async function collect(url: string, o: { stallMs?: number; stopAfterBytes?: number; fatalTries?: number } = {}) {
	const stop = new AbortController();
	let bytes = 0;
	const connects: number[] = [];
	const drops: Array<{ error?: string; retry?: boolean; waitMs: number }> = [];
	const run = runLive({
		signal: stop.signal,
		initialBackoffMs: 20,
		maxBackoffMs: 200,
		fatalTries: o.fatalTries ?? 3,
		random: () => 0.5,
		open: (signal) => openHttp({ url, stallMs: o.stallMs ?? 2000, signal }),
		onConnect: (c) => {
			connects.push(c.attempt);
		},
		onBytes: async (chunk) => {
			bytes += chunk.length;
			if (o.stopAfterBytes && bytes >= o.stopAfterBytes) stop.abort();
		},
		onDisconnect: (d) => {
			drops.push({ error: d.error?.message, retry: d.error?.retry, waitMs: d.waitMs });
			if (!o.stopAfterBytes && drops.length >= 4) stop.abort();
		},
	});
	const error = await run.then(() => undefined, (e) => e as SourceError);
	return { bytes, connects, drops, error };
}

describe('live HTTP source', () => {
	it('reads a stream, and reconnects when the server ends it', async () => {
		const r = await collect(`${base}/ok`, { stopAfterBytes: 9000 });
		expect(r.bytes).toBe(9000); // three connections of 3,000 bytes
		expect(r.connects).toEqual([1, 2, 3]);
		expect(r.drops.every((d) => d.error === undefined)).toBe(true);
	});

	it('a dropped connection reconnects and keeps reading', async () => {
		const r = await collect(`${base}/drop`, { stopAfterBytes: 6000 });
		expect(r.bytes).toBe(6000);
		expect(r.connects).toEqual([1, 2, 3]);
	});

	it('503 for a while: retried with growing waits, then read', async () => {
		hits.delete('/busy');
		const r = await collect(`${base}/busy`, { stopAfterBytes: 2000 });
		expect(r.bytes).toBe(2000);
		expect(r.drops.slice(0, 2).map((d) => [d.retry, d.waitMs])).toEqual([
			[true, 20],
			[true, 40],
		]);
		expect(r.drops[0].error).toMatch(/HTTP 503/);
	});

	it('a stream that stops sending is given up after the stall time and reconnected', async () => {
		const r = await collect(`${base}/stall`, { stallMs: 300 });
		expect(r.drops.length).toBe(4);
		expect(r.drops[0]).toMatchObject({ retry: true });
		expect(r.drops[0].error).toMatch(/^No audio arrived for 0\.3 s$/);
		expect(r.bytes).toBe(4000);
	});

	it('401 gives up after three tries with what to do, never showing the password', async () => {
		const r = await collect(`http://radio:s3cret-pass@127.0.0.1:${new URL(base).port}/denied`);
		expect(r.error).toBeInstanceOf(SourceError);
		expect(r.error!.retry).toBe(false);
		expect(r.error!.message).toMatch(/answered HTTP 401/);
		expect(r.error!.hint).toMatch(/credential/);
		expect(r.drops).toHaveLength(2);
		expect(JSON.stringify([r.error!.message, r.error!.hint, r.drops])).not.toMatch(/s3cret|radio:/);
	});

	it('credentials in the URL go in a header to that server only, never to a host it redirects to', async () => {
		const port = new URL(base).port;
		const ok = await collect(`http://radio:s3cret-pass@127.0.0.1:${port}/needs-auth`, { stopAfterBytes: 1000 });
		expect(ok.bytes).toBe(1000);
		authSeen.length = 0;
		const c = await openHttp({ url: `http://radio:s3cret-pass@127.0.0.1:${port}/to-other-host`, stallMs: 2000, signal: new AbortController().signal });
		for await (const _ of c.chunks) void _;
		expect(c.url).toBe(`http://localhost:${port}/ok`);
		expect(authSeen).toEqual([expect.stringMatching(/^Basic /), undefined]);
	});

	it('redirects: never to file:, at most five', async () => {
		const signal = new AbortController().signal;
		const toFile = await openHttp({ url: `${base}/to-file`, stallMs: 2000, signal }).catch((e) => e);
		expect(toFile).toBeInstanceOf(SourceError);
		expect(toFile.message).toMatch(/must start with http:\/\/ or https:\/\/ \(it starts with file:\)/);
		expect(toFile.retry).toBe(false);
		const loop = await openHttp({ url: `${base}/loop`, stallMs: 2000, signal }).catch((e) => e);
		expect(loop.message).toMatch(/redirected more than 5 times/);
		for (const bad of ['file:///etc/passwd', 'ftp://x/y', 'not a url']) {
			const e = await openHttp({ url: bad, stallMs: 2000, signal }).catch((x) => x);
			expect(e).toBeInstanceOf(SourceError);
		}
	});

	it('a stop closes the connection at once (the server sees it go)', async () => {
		const stop = new AbortController();
		let bytes = 0;
		const run = runLive({
			signal: stop.signal,
			open: (signal) => openHttp({ url: `${base}/forever`, stallMs: 2000, signal }),
			onBytes: async (c) => {
				bytes += c.length;
			},
		});
		while (bytes < 5000) await new Promise((r) => setTimeout(r, 10));
		expect(openSockets).toBe(1);
		const stopped = Date.now();
		stop.abort();
		await run;
		while (openSockets > 0 && Date.now() - stopped < 2000) await new Promise((r) => setTimeout(r, 10));
		// The server saw the connection go (waited for up to 2 s; it goes in a few ms).
		expect(openSockets).toBe(0);
	});

	it('shows URLs without credentials', () => {
		expect(displayUrl('https://user:pw@radio.example.com:8000/live.mp3?x=1#f')).toBe('https://radio.example.com:8000/live.mp3?x=***');
		expect(displayUrl('https://radio.example.com/live?token=s3cret&ch=2')).toBe('https://radio.example.com/live?token=***&ch=***');
	});
});
