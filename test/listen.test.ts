/**
 * Listening to a live stream (src/tasks/listen.ts, what the Audio Event
 * Trigger runs) against a loopback Icecast-style server on the built-in model:
 * the spoken commands of the stream come out as events with their times and
 * clips; a dropped connection reconnects and the time away is a gap; falling
 * behind skips ahead and says how much; a stop ends it at once.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { sessionCache } from '../src/inference/session-cache';
import { resolveBuiltIn } from '../src/model/catalog';
import { loadModelSpec } from '../src/model/spec';
import { type HeardEvent, listen, type ListenStatus } from '../src/tasks/listen';
import { describeWithFfmpeg, systemFfmpeg } from './helpers/fixtures';
import { startStreamServer, type StreamServer } from './helpers/stream-server';

const { makeRecording } = require('../scripts/events/make-recording.js') as {
	makeRecording: (o?: { seed?: number }) => { wav: Buffer; truth: Array<{ label: string; start: number; end: number; distractor: boolean }>; duration: number };
};

const rec = makeRecording({ seed: 3 });
const commands = rec.truth.filter((t) => !t.distractor);
let mp3 = Buffer.alloc(0);
let server: StreamServer;

beforeAll(async () => {
	if (systemFfmpeg) {
		const dir = mkdtempSync(path.join(tmpdir(), 'listen-'));
		writeFileSync(path.join(dir, 'in.wav'), rec.wav);
		execFileSync(systemFfmpeg, ['-v', 'error', '-i', path.join(dir, 'in.wav'), '-c:a', 'libmp3lame', '-b:a', '64k', '-f', 'mp3', path.join(dir, 'out.mp3')]);
		mp3 = readFileSync(path.join(dir, 'out.mp3'));
		rmSync(dir, { recursive: true, force: true });
	}
	// 64 kb/s MP3: 8,000 bytes a second.
	server = await startStreamServer({ body: mp3, contentType: 'audio/mpeg', bytesPerSecond: 8000, path: '/live.mp3' });
});
afterAll(async () => {
	await server.close();
	await sessionCache.clear();
});

const builtIn = () => {
	const { dir, model } = resolveBuiltIn('speech-commands-dscnn');
	return loadModelSpec(dir, 'auto', model.id);
};

/** Listens until the stream has ended once (or `until` says so); returns events and statuses. */
async function listenOnce(o: { until?: (s: ListenStatus[]) => boolean; now?: () => number; maxLagSeconds?: number; url?: string } = {}) {
	const stop = new AbortController();
	const events: HeardEvent[] = [];
	const statuses: ListenStatus[] = [];
	const run = listen(builtIn(), {
		url: o.url ?? server.url,
		device: 'cpu',
		signal: stop.signal,
		initialBackoffMs: 50,
		maxBackoffMs: 100,
		clipBefore: 0.5,
		clipAfter: 0.5,
		now: o.now,
		maxLagSeconds: o.maxLagSeconds,
		onEvent: (e) => {
			events.push(e);
		},
		onStatus: (s) => {
			statuses.push(s);
			if ((o.until ?? ((all) => all.some((x) => x.kind === 'disconnected')))(statuses)) stop.abort();
		},
	});
	await run;
	return { events, statuses };
}

function matched(events: HeardEvent[], offset = 0) {
	return commands.filter((t) => events.some((e) => e.label === t.label && Math.abs(e.streamOffset - (t.start + offset)) <= 0.25 && Math.abs(e.end - (t.end + offset)) <= 0.25));
}

describeWithFfmpeg('listening to a live stream', () => {
	it('an Icecast-style MP3 stream: each spoken command once, with its times, source and clip', async () => {
		server.speed = 8;
		server.plan = [];
		const started = Date.now();
		const { events, statuses } = await listenOnce();
		expect(statuses[0]).toMatchObject({ kind: 'connected', url: server.url, contentType: 'audio/mpeg' });
		expect(statuses.some((s) => s.kind === 'connected' && s.decoder === 'mp3 (mpg123-decoder)')).toBe(true);
		const hits = matched(events);
		const precision = events.filter((e) => commands.some((t) => t.label === e.label && e.start < t.end && e.end > t.start)).length / events.length;
		console.log(`listen: ${events.length} events in ${((Date.now() - started) / 1000).toFixed(1)} s (stream at 8x), precision ${precision.toFixed(2)}, ${hits.length}/${commands.length} commands with both edges within 0.25 s`);
		expect(precision).toBeGreaterThanOrEqual(0.9);
		expect(hits.length / commands.length).toBeGreaterThanOrEqual(0.85);
		for (const e of events) {
			expect(e.source).toBe(server.url);
			expect(e.model).toBe('speech-commands-dscnn');
			expect(Date.parse(e.endedAt) - Date.parse(e.startedAt)).toBeCloseTo((e.end - e.start) * 1000, -1);
			// 16 kHz 16-bit mono: the event and 0.5 s either side (less at the stream's very start).
			const seconds = (e.clip!.length - 44) / 32000;
			expect(seconds).toBeCloseTo(Math.min(e.end + 0.5, rec.duration) - Math.max(0, e.start - 0.5), 1);
			expect(e.clip!.toString('latin1', 0, 4)).toBe('RIFF');
		}
	}, 60_000);

	it('a connection dropped mid-stream reconnects (mid-frame), the time away is a gap, no event is doubled', async () => {
		const cut = Math.floor(mp3.length * 0.45);
		server.speed = 8;
		server.plan = [{ from: 0, dropAt: cut }, { from: cut }];
		const { events, statuses } = await listenOnce({ until: (s) => s.filter((x) => x.kind === 'disconnected').length >= 2 });
		const down = statuses.find((s) => s.kind === 'disconnected')!;
		expect(down).toMatchObject({ kind: 'disconnected' });
		expect(statuses.filter((s) => s.kind === 'connected' && s.attempt > 0).map((s) => (s as { attempt: number }).attempt)).toEqual([1, 2]);
		// Before the cut: at the stream's own times; after it: the same words, later by the time away.
		const gap = statuses.find((s) => s.kind === 'gap') as { seconds: number; at: number };
		const cutAt = gap.at;
		const before = events.filter((e) => e.end <= cutAt + 1e-6);
		const after = events.filter((e) => e.start >= cutAt + gap.seconds - 1e-6);
		console.log(`listen: dropped at ${cutAt.toFixed(1)} s of audio, away ${gap.seconds.toFixed(2)} s; ${before.length} events before, ${after.length} after`);
		// (The cut's byte offset, as a share of the file, places it to within a frame or two of audio.)
		const cutInAudio = (cut / mp3.length) * rec.duration;
		expect(Math.abs(cutAt - cutInAudio)).toBeLessThan(1);
		expect(gap.seconds).toBeGreaterThan(0.04);
		// No event spans the gap.
		expect(before.length + after.length).toBe(events.length);
		expect(matched(before).length + matched(after, gap.seconds).length).toBeGreaterThanOrEqual(Math.floor(commands.length * 0.8));
		// No label reported twice for one word.
		const labels = events.map((e) => `${e.label}@${Math.round(e.streamOffset)}`);
		expect(new Set(labels).size).toBe(labels.length);
	}, 60_000);

	it('when classification falls behind the stream it skips ahead and says how much', async () => {
		server.speed = 1;
		server.plan = [];
		// A clock running 4x fast: the stream seems to fall further behind every second.
		const t0 = Date.now();
		const fast = () => t0 + (Date.now() - t0) * 4;
		const { statuses } = await listenOnce({ now: fast, maxLagSeconds: 1, until: (s) => s.some((x) => x.kind === 'skipped') });
		const skipped = statuses.find((s) => s.kind === 'skipped') as { seconds: number; lagSeconds: number };
		console.log(`listen: skipped ${skipped.seconds.toFixed(2)} s of audio when ${skipped.lagSeconds.toFixed(2)} s behind`);
		expect(skipped.seconds).toBeGreaterThan(0);
	}, 60_000);

	it('8 KB of garbage mid-stream (a broken relay): the words after it are still heard, on the same connection', async () => {
		server.speed = 8;
		const at = Math.floor(mp3.length * 0.5);
		server.plan = [{ from: 0, garbageAt: at, garbageBytes: 8192 }];
		const { events, statuses } = await listenOnce();
		// One connection to the end: the garbage did not need a reconnect.
		expect(statuses.filter((s) => s.kind === 'connected' && s.attempt > 0)).toHaveLength(1);
		const half = rec.duration * 0.5;
		const after = commands.filter((t) => t.start > half + 1.5);
		const heard = after.filter((t) => events.some((e) => e.label === t.label && Math.abs(e.start - t.start) <= 1));
		console.log(`listen: garbage at ${half.toFixed(1)} s: ${heard.length}/${after.length} of the commands after it heard`);
		expect(heard.length).toBeGreaterThanOrEqual(Math.ceil(after.length * 0.8));
	}, 60_000);

	it('a stop ends listening at once and closes the connection', async () => {
		server.speed = 1;
		server.plan = [];
		const stop = new AbortController();
		let connected = 0;
		const run = listen(builtIn(), {
			url: server.url,
			device: 'cpu',
			signal: stop.signal,
			onEvent: () => undefined,
			onStatus: (s) => {
				if (s.kind === 'connected') connected++;
			},
		});
		while (connected < 2) await new Promise((r) => setTimeout(r, 20)); // connected, decoder open
		expect(server.open()).toBe(1);
		const t = Date.now();
		stop.abort();
		await run;
		while (server.open() > 0 && Date.now() - t < 2000) await new Promise((r) => setTimeout(r, 10));
		// The server saw the connection go (waited for up to 2 s; it goes in a few ms).
		expect(server.open()).toBe(0);
	}, 30_000);

	it('a web page instead of a stream is refused with what to do, not retried', async () => {
		const html = createServer((_req, res) => {
			res.writeHead(200, { 'content-type': 'text/html' });
			res.end('<!doctype html><title>Radio</title>'.repeat(500));
		});
		await new Promise<void>((r) => html.listen(0, '127.0.0.1', r));
		const url = `http://127.0.0.1:${(html.address() as AddressInfo).port}/`;
		const error = await listen(builtIn(), { url, device: 'cpu', signal: new AbortController().signal, initialBackoffMs: 10, onEvent: () => undefined }).catch((e) => e);
		html.close();
		expect(error.message).toMatch(/not audio this can decode live/);
		expect(error.retry).toBe(false);
	}, 30_000);
});
