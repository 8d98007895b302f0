/**
 * A loopback Icecast-style stream server for the live tests: serves a recording
 * at a pace (real time or faster), and per connection can cut it, stall it,
 * answer an HTTP error instead, or send garbage mid-stream. Counts open
 * connections and records the request headers it was sent.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ConnectionPlan {
	/** Byte offset the connection starts at (default 0). */
	from?: number;
	/** Cut the connection (socket destroyed) at this byte offset. */
	dropAt?: number;
	/** Stop sending at this byte offset, keeping the connection open. */
	stallAt?: number;
	/** Send this many bytes of garbage at this byte offset, then go on. */
	garbageAt?: number;
	garbageBytes?: number;
	/** Answer this HTTP status instead of the stream. */
	status?: number;
}

export interface StreamServer {
	url: string;
	/** Connections open now. */
	open(): number;
	/** Requests received (every attempt), with their headers. */
	requests: IncomingHttpHeaders[];
	/** Connections that got the stream: the byte they started at and when (ms): when byte b went out is at + (b - from) / rate. */
	served: Array<{ from: number; at: number; rate: number }>;
	/** What the next connections do, in turn; after them, `fallback`. */
	plan: ConnectionPlan[];
	fallback: ConnectionPlan;
	/** Times real time (bytes per second: `bytesPerSecond`). */
	speed: number;
	close(): Promise<void>;
}

export async function startStreamServer(o: { body: Buffer; contentType: string; bytesPerSecond: number; path?: string; speed?: number }): Promise<StreamServer> {
	const route = o.path ?? '/live';
	let open = 0;
	const state: StreamServer = {
		url: '',
		open: () => open,
		requests: [],
		served: [],
		plan: [],
		fallback: {},
		speed: o.speed ?? 1,
		close: async () => {
			server.closeAllConnections();
			await new Promise((r) => server.close(r));
		},
	};
	const server: Server = createServer((req, res) => {
		state.requests.push(req.headers);
		if (req.url?.split('?')[0] !== route) {
			res.writeHead(404).end();
			return;
		}
		const next = state.plan.shift() ?? state.fallback;
		if (next.status) {
			res.writeHead(next.status, { 'content-type': 'text/plain', connection: 'close' }).end(`status ${next.status}`);
			return;
		}
		open++;
		res.on('close', () => open--);
		// As Icecast answers: one stream per connection, none kept alive.
		res.writeHead(200, { 'content-type': o.contentType, 'icy-name': 'test stream', connection: 'close' });
		state.served.push({ from: next.from ?? 0, at: Date.now(), rate: o.bytesPerSecond * state.speed });
		pace(res, o.body, o.bytesPerSecond * state.speed, next);
	});
	await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
	state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${route}`;
	return state;
}

/** Sends `body` from `plan.from` at `rate` bytes a second, every 20 ms what is due by the clock (late timers do not slow it). */
function pace(res: ServerResponse, body: Buffer, rate: number, plan: ConnectionPlan): void {
	const from = plan.from ?? 0;
	const started = Date.now();
	let at = from;
	let garbageSent = false;
	const t = setInterval(() => {
		if (plan.dropAt !== undefined && at >= plan.dropAt) {
			clearInterval(t);
			res.socket?.destroy();
			return;
		}
		if (plan.stallAt !== undefined && at >= plan.stallAt) return; // connected, silent
		if (at >= body.length) {
			clearInterval(t);
			res.end();
			return;
		}
		if (plan.garbageAt !== undefined && !garbageSent && at >= plan.garbageAt) {
			garbageSent = true;
			const junk = Buffer.alloc(plan.garbageBytes ?? 4096);
			for (let i = 0; i < junk.length; i++) junk[i] = (i * 131 + 17) & 0xff;
			res.write(junk);
		}
		let due = from + Math.floor(((Date.now() - started) / 1000) * rate);
		for (const limit of [plan.dropAt, plan.stallAt]) if (limit !== undefined && limit > at) due = Math.min(due, limit);
		if (due > at) res.write(body.subarray(at, due));
		at = Math.max(at, due);
	}, 20);
	res.on('close', () => clearInterval(t));
}
