/**
 * The Audio Event Trigger's other sources, on the built-in model and a
 * recording with known commands: an HLS playlist read in-process (MPEG-TS
 * and fragmented-MP4 segments, a rolling live playlist served by a loopback
 * server, a reconnect that neither repeats nor skips segments), and the
 * FFmpeg source (RTMP and SRT served by an ffmpeg on loopback, HLS through
 * ffmpeg). And the hostile cases: playlists pointing at file: or encrypted,
 * ffmpeg URLs for local files, concat: or subfile:, a playlist that makes
 * ffmpeg reach for a file, capture devices without the instance's consent,
 * credentials in ffmpeg's errors; and a stop that leaves no ffmpeg running.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { ffmpegTarget } from '../src/audio/sources/ffmpeg';
import { SegmentDemuxer } from '../src/audio/sources/hls';
import { sessionCache } from '../src/inference/session-cache';
import { resolveBuiltIn } from '../src/model/catalog';
import { loadModelSpec } from '../src/model/spec';
import { type HeardEvent, listen, type ListenStatus, type SourceKind } from '../src/tasks/listen';
import { describeWithFfmpeg, systemFfmpeg } from './helpers/fixtures';

const { makeRecording } = require('../scripts/events/make-recording.js') as {
	makeRecording: (o?: { seed?: number }) => { wav: Buffer; truth: Array<{ label: string; start: number; end: number; distractor: boolean }>; duration: number };
};

const rec = makeRecording({ seed: 3 });
const commands = rec.truth.filter((t) => !t.distractor);
let dir: string;
let server: Server;
let base = '';
/** Rolling live playlist state: segments become available at `speed` x real time from `liveStart`. */
const live = { start: 0, speed: 4, segments: [] as Array<{ name: string; duration: number }>, requests: [] as string[], fail503: new Set<string>() };

function hls(kind: 'ts' | 'fmp4'): void {
	const out = path.join(dir, kind);
	execFileSync('mkdir', ['-p', out]);
	execFileSync(systemFfmpeg!, [
		'-v', 'error', '-i', path.join(dir, 'in.wav'), '-c:a', 'aac', '-b:a', '48k', '-f', 'hls', '-hls_time', '2', '-hls_list_size', '0',
		'-hls_playlist_type', 'vod', ...(kind === 'fmp4' ? ['-hls_segment_type', 'fmp4'] : []), path.join(out, 'index.m3u8'),
	]);
}

beforeAll(async () => {
	dir = mkdtempSync(path.join(tmpdir(), 'listen-sources-'));
	if (!systemFfmpeg) return;
	writeFileSync(path.join(dir, 'in.wav'), rec.wav);
	hls('ts');
	hls('fmp4');
	// The TS playlist's segments, for the rolling live playlist.
	const vod = readFileSync(path.join(dir, 'ts', 'index.m3u8'), 'utf8').split('\n');
	for (let i = 0; i < vod.length; i++) if (vod[i].startsWith('#EXTINF:')) live.segments.push({ duration: Number.parseFloat(vod[i].slice(8)), name: vod[i + 1] });
	server = createServer((req, res) => {
		const url = req.url ?? '';
		live.requests.push(url);
		if (url === '/live/index.m3u8') {
			// A sliding window of 3 segments; a segment is listed once its audio has "happened".
			const elapsed = ((Date.now() - live.start) / 1000) * live.speed;
			let t = 0;
			let available = 0;
			for (const s of live.segments) if ((t += s.duration) <= elapsed + 2) available++;
			const from = Math.max(0, available - 3);
			const lines = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:2', `#EXT-X-MEDIA-SEQUENCE:${from}`];
			for (const s of live.segments.slice(from, available)) lines.push(`#EXTINF:${s.duration.toFixed(3)},`, s.name);
			if (available === live.segments.length) lines.push('#EXT-X-ENDLIST');
			res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl' }).end(lines.join('\n'));
			return;
		}
		if (url.startsWith('/hostile/')) {
			const body: Record<string, string> = {
				'/hostile/file.m3u8': '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n',
				'/hostile/key.m3u8': '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example/k"\n#EXTINF:2,\n/ts/index0.ts\n#EXT-X-ENDLIST\n',
				'/hostile/master.m3u8': '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nfile:///etc/hosts\n',
			};
			if (body[url]) res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl' }).end(body[url]);
			else res.writeHead(404).end();
			return;
		}
		if (live.fail503.delete(url)) {
			res.writeHead(503).end();
			return;
		}
		const file = path.join(dir, url.replace(/^\/live\//, '/ts/').replace(/\.\./g, ''));
		try {
			res.writeHead(200).end(readFileSync(file));
		} catch {
			res.writeHead(404).end();
		}
	});
	await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
	base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
	rmSync(dir, { recursive: true, force: true });
	server?.closeAllConnections();
	await new Promise((r) => (server ? server.close(r) : r(undefined)));
	await sessionCache.clear();
});

const builtIn = () => {
	const { dir: modelDir, model } = resolveBuiltIn('speech-commands-dscnn');
	return loadModelSpec(modelDir, 'auto', model.id);
};

/** Listens until `until` says so (default: the first disconnect, i.e. the stream ended), or `timeoutMs`. */
async function listenTo(url: string, source: SourceKind, o: { until?: (s: ListenStatus[]) => boolean; timeoutMs?: number; stop?: AbortController } = {}) {
	const stop = o.stop ?? new AbortController();
	const events: HeardEvent[] = [];
	const statuses: ListenStatus[] = [];
	const timer = setTimeout(() => stop.abort(), o.timeoutMs ?? 60_000);
	let error: Error | undefined;
	await listen(builtIn(), {
		url,
		source,
		device: 'cpu',
		signal: stop.signal,
		initialBackoffMs: 50,
		maxBackoffMs: 100,
		stallMs: 5000,
		clipBefore: 0,
		clipAfter: 0,
		onEvent: (e) => {
			events.push(e);
		},
		onStatus: (s) => {
			if (process.env.LISTEN_DEBUG) console.log(Date.now(), JSON.stringify(s));
			statuses.push(s);
			if ((o.until ?? ((all) => all.some((x) => x.kind === 'disconnected')))(statuses)) stop.abort();
		},
	}).catch((e) => {
		error = e;
	});
	clearTimeout(timer);
	return { events, statuses, error: error as (Error & { hint?: string; retry?: boolean }) | undefined };
}

/** Commands found with both edges within 0.25 s (times on the stream's clock, from `offset`), and precision. */
function score(events: HeardEvent[], offset = 0) {
	const hits = commands.filter((t) => events.some((e) => e.label === t.label && Math.abs(e.start - (t.start - offset)) <= 0.25 && Math.abs(e.end - (t.end - offset)) <= 0.25));
	const right = events.filter((e) => commands.some((t) => t.label === e.label && e.start < t.end - offset && e.end > t.start - offset));
	return { recall: hits.length / commands.length, precision: events.length ? right.length / events.length : 0 };
}

describeWithFfmpeg('HLS, in-process', () => {
	it.each([['MPEG-TS', 'ts'], ['fragmented MP4', 'fmp4']])('a finished %s playlist: every command, at its time', async (_name, kind) => {
		const { events, statuses, error } = await listenTo(`${base}/${kind}/index.m3u8`, 'hls');
		expect(error).toBeUndefined();
		expect(statuses.some((s) => s.kind === 'connected' && s.decoder?.startsWith('aac'))).toBe(true);
		const { recall, precision } = score(events);
		console.log(`listen-sources: HLS ${_name}: ${events.length} events, precision ${precision.toFixed(2)}, recall ${recall.toFixed(2)} (edges within 0.25 s)`);
		expect(precision).toBeGreaterThanOrEqual(0.9);
		expect(recall).toBeGreaterThanOrEqual(0.85);
	}, 60_000);

	it('a rolling live playlist: segments as they appear, from the live edge, none twice', async () => {
		// The stream has been on air for 12 s (3 s at 4x): the playlist lists segments 3-5 of 20.
		live.start = Date.now() - 3000;
		live.speed = 4;
		live.requests = [];
		const { events, error } = await listenTo(`${base}/live/index.m3u8`, 'hls', { timeoutMs: 40_000 });
		expect(error).toBeUndefined();
		const segments = live.requests.filter((u) => u.endsWith('.ts'));
		const playlists = live.requests.filter((u) => u.endsWith('.m3u8')).length;
		console.log(`listen-sources: rolling HLS: ${playlists} playlist polls, ${segments.length} of ${live.segments.length} segments fetched, ${events.length} events`);
		expect(playlists).toBeGreaterThan(3);
		expect(new Set(segments).size).toBe(segments.length);
		// Started at the live edge (the first segment then listed), then every later one in order.
		const order = segments.map((u) => live.segments.findIndex((s) => u.endsWith(`/${s.name}`)));
		expect(order).toEqual(order.map((_, i) => order[0] + i));
		expect(order[order.length - 1]).toBe(live.segments.length - 1);
		expect(order[0]).toBeGreaterThanOrEqual(4);
		const offset = live.segments.slice(0, order[0]).reduce((t, s) => t + s.duration, 0);
		const { precision, recall } = score(events, offset);
		// Commands said after the first second of what was received (the detector's first window fills then).
		const expected = commands.filter((t) => t.start >= offset + 1).length / commands.length;
		console.log(`listen-sources: rolling HLS from segment ${order[0]} (${offset.toFixed(1)} s into the recording): precision ${precision.toFixed(2)}, recall ${recall.toFixed(2)} of ${expected.toFixed(2)} possible`);
		expect(precision).toBeGreaterThanOrEqual(0.9);
		expect(recall).toBeGreaterThanOrEqual(expected * 0.8);
	}, 60_000);

	it('a segment answered 503 once: reconnected, and the playlist goes on where it was (no segment twice, none skipped)', async () => {
		live.start = Date.now() - 3000;
		live.speed = 4;
		live.requests = [];
		live.fail503 = new Set([`/live/${live.segments[9].name}`]);
		const { statuses, error } = await listenTo(`${base}/live/index.m3u8`, 'hls', { timeoutMs: 40_000, until: (s) => s.filter((x) => x.kind === 'disconnected').length >= 2 });
		expect(error).toBeUndefined();
		expect(statuses.find((s) => s.kind === 'disconnected')).toMatchObject({ error: expect.stringMatching(/HTTP 503/) });
		const served = live.requests.filter((u) => u.endsWith('.ts'));
		const order = served.map((u) => live.segments.findIndex((s) => u.endsWith(`/${s.name}`)));
		// Segment 9 twice (the 503, then its retry), every other once, in order, to the end.
		expect(order.filter((i) => i === 9)).toHaveLength(2);
		const once = order.filter((i, k) => i !== 9 || order.indexOf(9) !== k);
		expect(once).toEqual(once.map((_, i) => once[0] + i));
		expect(once[once.length - 1]).toBe(live.segments.length - 1);
	}, 60_000);

	it('playlists pointing at file:, or encrypted, are refused with what to do, and not retried', async () => {
		for (const [name, pattern, hint] of [
			['file.m3u8', /points outside http\(s\) \(file:\)/, /must be http\(s\)/],
			['master.m3u8', /points outside http\(s\) \(file:\)/, /must be http\(s\)/],
			['key.m3u8', /encryption \(AES-128\) is not read in-process/, /FFmpeg source/],
		] as const) {
			const { error } = await listenTo(`${base}/hostile/${name}`, 'hls', { timeoutMs: 20_000, until: () => false });
			expect(error?.message).toMatch(pattern);
			expect(error?.hint).toMatch(hint);
			expect(error?.retry).toBe(false);
		}
		// Never fetched anything but the playlists.
		expect(live.requests.some((u) => u.includes('passwd') || u.includes('hosts'))).toBe(false);
	}, 60_000);

	it('an MPEG-TS segment without AAC or MP3 audio says which source reads it', () => {
		const pat = Buffer.alloc(188, 0xff);
		pat.set([0x47, 0x40, 0x00, 0x10, 0x00, 0x00, 0xb0, 0x0d, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xf0, 0x00, 0, 0, 0, 0]);
		const pmt = Buffer.alloc(188, 0xff);
		// PMT on PID 0x1000: one AC-3 stream (type 0x81) on PID 0x101.
		pmt.set([0x47, 0x50, 0x00, 0x10, 0x00, 0x02, 0xb0, 0x12, 0x00, 0x01, 0xc1, 0x00, 0x00, 0xe1, 0x01, 0xf0, 0x00, 0x81, 0xe1, 0x01, 0xf0, 0x00, 0, 0, 0, 0]);
		expect(() => new SegmentDemuxer().audio(Buffer.concat([pat, pmt]))).toThrow(/audio codec \(MPEG-TS stream type 0x81\) is not read in-process/);
	});
});

/** An ffmpeg serving the recording on loopback (RTMP or SRT listener); killed after the test. */
function serveWithFfmpeg(output: string[]): ChildProcess {
	return spawn(systemFfmpeg!, ['-v', 'error', '-re', '-i', path.join(dir, 'in.wav'), '-c:a', 'aac', '-b:a', '64k', ...output], { stdio: 'ignore' });
}

/**
 * Kills a child and waits for it to be gone. The serving ffmpeg may already have
 * exited by itself (an RTMP listener quits when its one client disconnects), and
 * then its 'close' has been emitted already and waiting for it would hang.
 */
async function killAndWait(child: ChildProcess): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) return;
	const gone = new Promise((r) => child.once('exit', r));
	child.kill('SIGKILL');
	await gone;
}

/** This process's ffmpeg children, but for `except` (the serving one). */
const childFfmpegs = (except?: number) => {
	try {
		return execFileSync('pgrep', ['-P', String(process.pid), 'ffmpeg']).toString().trim().split('\n').filter((pid) => pid && Number(pid) !== except).length;
	} catch {
		return 0;
	}
};

describeWithFfmpeg('the FFmpeg source', () => {
	it.each([
		['RTMP', 19461, (p: number) => ['-f', 'flv', '-listen', '1', `rtmp://127.0.0.1:${p}/live/door`], (p: number) => `rtmp://127.0.0.1:${p}/live/door`],
		['SRT', 19462, (p: number) => ['-f', 'mpegts', `srt://127.0.0.1:${p}?mode=listener`], (p: number) => `srt://127.0.0.1:${p}`],
	])('%s from an ffmpeg on loopback: the commands in real time; a stop leaves no ffmpeg running', async (_name, port, out, url) => {
		const serving = serveWithFfmpeg(out(port));
		try {
			await new Promise((r) => setTimeout(r, 700));
			const stop = new AbortController();
			// Real time: listen for 16 s, then stop while the stream is still going.
			const timer = setTimeout(() => stop.abort(), 16_000);
			const running: number[] = [];
			const sampler = setInterval(() => running.push(childFfmpegs(serving.pid)), 1000);
			const { events, statuses, error } = await listenTo(url(port), 'ffmpeg', { stop, until: () => false });
			const stoppedAt = Date.now();
			clearTimeout(timer);
			clearInterval(sampler);
			expect(error).toBeUndefined();
			expect(statuses[0]).toMatchObject({ kind: 'connected', url: url(port) });
			expect(statuses.some((s) => s.kind === 'connected' && s.decoder === 'wav')).toBe(true);
			const heard = commands.filter((t) => t.end < 15);
			const found = heard.filter((t) => events.some((e) => e.label === t.label && Math.abs(e.start - t.start) < 1.5));
			console.log(`listen-sources: ${_name} via ffmpeg: ${events.length} events in 16 s, ${found.length}/${heard.length} commands of the first 15 s; our ffmpeg children while listening ${Math.max(...running)}, after stop ${childFfmpegs(serving.pid)} (listen returned ${Date.now() - stoppedAt} ms after stop)`);
			expect(Math.max(...running)).toBeGreaterThanOrEqual(1);
			expect(childFfmpegs(serving.pid)).toBe(0);
			expect(found.length).toBeGreaterThanOrEqual(Math.floor(heard.length * 0.8));
		} finally {
			await killAndWait(serving);
		}
		// Our ffmpeg is gone once listen has returned.
		expect(childFfmpegs()).toBe(0);
	}, 60_000);

	it('an HLS playlist through ffmpeg (http, https, tcp, tls, crypto, hls only)', async () => {
		const { events, error } = await listenTo(`${base}/ts/index.m3u8`, 'ffmpeg');
		expect(error).toBeUndefined();
		const { precision, recall } = score(events);
		expect(precision).toBeGreaterThanOrEqual(0.9);
		expect(recall).toBeGreaterThanOrEqual(0.85);
	}, 60_000);

	it('local files, concat:, subfile:, data: and unknown schemes are refused before ffmpeg runs', async () => {
		for (const url of ['file:///etc/passwd', '/etc/passwd', 'concat:/etc/passwd|/etc/hosts', 'subfile:,,start,0,end,100,,:/etc/passwd', 'data:audio/wav;base64,AAAA', 'gopher://x/', 'unix:/tmp/socket', 'pipe:0']) {
			const before = childFfmpegs();
			const { error } = await listenTo(url, 'ffmpeg', { timeoutMs: 10_000, until: () => false });
			expect(error?.message).toMatch(/does not open|not a valid URL|not enabled/);
			expect(error?.retry).toBe(false);
			expect(childFfmpegs()).toBe(before);
		}
	}, 60_000);

	it('a playlist that points ffmpeg at a local file is stopped by the protocol whitelist', async () => {
		const { events, error } = await listenTo(`${base}/hostile/file.m3u8`, 'ffmpeg', { timeoutMs: 20_000, until: () => false });
		expect(events).toEqual([]);
		expect(error?.message).toMatch(/ffmpeg could not read/);
		expect(error?.retry).toBe(false);
	}, 30_000);

	it('capture devices only when the instance enables them', () => {
		const saved = process.env.N8N_AUDIO_CLASSIFICATION_CAPTURE_DEVICES;
		try {
			delete process.env.N8N_AUDIO_CLASSIFICATION_CAPTURE_DEVICES;
			expect(() => ffmpegTarget('alsa:default')).toThrow(/Capture devices \(alsa:\) are not enabled/);
			process.env.N8N_AUDIO_CLASSIFICATION_CAPTURE_DEVICES = 'true';
			expect(ffmpegTarget('alsa:default').input).toEqual(['-f', 'alsa', '-i', 'default']);
			expect(ffmpegTarget('pulse:').input).toEqual(['-f', 'pulse', '-i', 'default']);
			// Enabling devices does not open files.
			expect(() => ffmpegTarget('file:///etc/passwd')).toThrow(/does not open file: addresses/);
		} finally {
			if (saved === undefined) delete process.env.N8N_AUDIO_CLASSIFICATION_CAPTURE_DEVICES;
			else process.env.N8N_AUDIO_CLASSIFICATION_CAPTURE_DEVICES = saved;
		}
	});

	it('credentials in the URL or a header never appear in an error', async () => {
		const { error, statuses } = await listenTo('rtsp://door:s3cret-pass@127.0.0.1:1/stream1?token=t0ken-value', 'ffmpeg', { until: (s) => s.filter((x) => x.kind === 'disconnected').length >= 2 });
		const shown = JSON.stringify({ message: error?.message, statuses });
		expect(shown).toMatch(/rtsp:\/\/127\.0\.0\.1:1\/stream1\?token=\*\*\*/);
		expect(shown).not.toMatch(/s3cret|t0ken-value|door:/);
		expect(ffmpegTarget('https://radio.example/live.m3u8', { authorization: 'Bearer abc123' }).secrets).toContain('Bearer abc123');
	}, 30_000);
});
