#!/usr/bin/env node
// The Audio Event Trigger's engine under load (npm run bench:trigger), on the built-in model,
// against a loopback Icecast-style server that loops the committed recording of commands
// (64 kb/s MP3, paced by the clock):
//
//   (default)  1 stream, then 8 concurrent streams, in real time, for --seconds (default 60):
//              CPU per stream in % of one core (this process; with the FFmpeg source, its
//              ffmpeg children too), audio skipped (falling behind), events per minute,
//              the event loop's longest block; the in-process MP3 source beside the FFmpeg
//              source on the same stream, in the same run.
//   --long     one stream of --hours (default 6) hours at --speed (default 20) x real time:
//              RSS sampled all along; growth after the first 10 minutes of audio, events
//              in the first and the last hour (still detecting). --assert fails the run when
//              RSS grows more than 50 MB (the issue's bound).
'use strict';
const { execFileSync } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { createServer } = require('node:http');
const { tmpdir } = require('node:os');
const path = require('node:path');
const { monitorEventLoopDelay } = require('node:perf_hooks');

const ROOT = path.join(__dirname, '..');
const engine = require(path.join(ROOT, 'dist', 'src'));
const { makeRecording } = require('./events/make-recording.js');

const args = process.argv.slice(2);
const arg = (name, fallback) => {
	const i = args.indexOf(`--${name}`);
	return i >= 0 ? Number(args[i + 1]) : fallback;
};
const LONG = args.includes('--long');
const ASSERT = args.includes('--assert');

function ffmpegPath() {
	try {
		return engine.locateFfmpeg ? engine.locateFfmpeg().path : execFileSync('which', ['ffmpeg']).toString().trim();
	} catch {
		return undefined;
	}
}

/** The recording as a headerless MP3 (whole frames, no ID3/Xing), so copies can follow each other. */
function mp3Recording() {
	const rec = makeRecording({ seed: 3 });
	const dir = mkdtempSync(path.join(tmpdir(), 'bench-trigger-'));
	try {
		writeFileSync(path.join(dir, 'in.wav'), rec.wav);
		const ffmpeg = ffmpegPath();
		if (!ffmpeg) throw new Error('bench:trigger needs ffmpeg to encode its stream (apt-get install ffmpeg)');
		execFileSync(ffmpeg, ['-v', 'error', '-i', path.join(dir, 'in.wav'), '-c:a', 'libmp3lame', '-b:a', '64k', '-write_xing', '0', '-id3v2_version', '0', '-f', 'mp3', path.join(dir, 'out.mp3')]);
		return { mp3: readFileSync(path.join(dir, 'out.mp3')), rec };
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

/** Serves the MP3 looped without end, `speed` x real time (8,000 bytes a second at 1x), to every client. */
async function startServer(mp3, speed) {
	const bytesPerSecond = 8000 * speed;
	const server = createServer((req, res) => {
		res.writeHead(200, { 'content-type': 'audio/mpeg', 'cache-control': 'no-cache' });
		const started = Date.now();
		let sent = 0;
		let stopped = false;
		const pump = () => {
			if (stopped) return;
			const due = Math.floor(((Date.now() - started) / 1000) * bytesPerSecond) + 8000; // 1 s ahead, as Icecast bursts
			while (sent < due) {
				const at = sent % mp3.length;
				const n = Math.min(due - sent, mp3.length - at, 16384);
				sent += n;
				if (!res.write(mp3.subarray(at, at + n))) return void res.once('drain', pump);
			}
			setTimeout(pump, 50);
		};
		res.on('close', () => (stopped = true));
		pump();
	});
	await new Promise((r) => server.listen(0, '127.0.0.1', r));
	return { url: `http://127.0.0.1:${server.address().port}/live.mp3`, close: () => new Promise((r) => (server.closeAllConnections(), server.close(r))) };
}

/** utime + stime of this process and of its finished children (ffmpeg), in seconds (Linux /proc). */
function cpuSeconds() {
	const f = readFileSync('/proc/self/stat', 'utf8');
	const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
	const tick = 100; // USER_HZ
	return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / tick;
}

function builtIn() {
	const { dir, model } = engine.resolveBuiltIn('speech-commands-dscnn');
	return engine.loadModelSpec(dir, 'auto', model.id);
}

/** n streams at once for `seconds`: CPU per stream, skipped audio, events, event-loop blocks. */
async function load(url, n, seconds, source = 'http') {
	const spec = builtIn();
	const stop = new AbortController();
	const stats = { events: 0, skipped: 0, disconnects: 0 };
	const runs = [];
	for (let i = 0; i < n; i++) {
		runs.push(
			engine.listen(spec, {
				url,
				source,
				device: 'cpu',
				threads: 1,
				hop: 0.1,
				threshold: 0.85,
				signal: stop.signal,
				onEvent: () => void stats.events++,
				onStatus: (s) => {
					if (s.kind === 'skipped') stats.skipped += s.seconds;
					if (s.kind === 'disconnected') stats.disconnects++;
				},
			}),
		);
	}
	// The first 5 s (model load, sessions, connections) are not counted.
	await new Promise((r) => setTimeout(r, 5000));
	const loop = monitorEventLoopDelay({ resolution: 10 });
	loop.enable();
	const cpu0 = cpuSeconds();
	const t0 = Date.now();
	const events0 = stats.events;
	await new Promise((r) => setTimeout(r, seconds * 1000));
	stop.abort();
	await Promise.all(runs);
	const wall = (Date.now() - t0) / 1000;
	loop.disable();
	const cpu = cpuSeconds() - cpu0;
	return {
		n,
		source,
		perStream: (100 * cpu) / wall / n,
		total: (100 * cpu) / wall,
		skipped: stats.skipped,
		disconnects: stats.disconnects,
		eventsPerMinute: ((stats.events - events0) / wall / n) * 60,
		loopMaxMs: loop.max / 1e6,
	};
}

async function long(mp3, recDuration) {
	const hours = arg('hours', 6);
	const speed = arg('speed', 20);
	const server = await startServer(mp3, speed);
	const spec = builtIn();
	const stop = new AbortController();
	const samples = [];
	let audio = 0;
	const eventsByHour = [];
	let skipped = 0;
	const t0 = Date.now();
	const run = engine.listen(spec, {
		url: server.url,
		device: 'cpu',
		hop: 0.1,
		threshold: 0.85,
		signal: stop.signal,
		onEvent: (e) => {
			const h = Math.floor(e.streamOffset / 3600);
			eventsByHour[h] = (eventsByHour[h] ?? 0) + 1;
			audio = Math.max(audio, e.end);
			if (e.end >= hours * 3600) stop.abort();
		},
		onWindow: (w) => {
			audio = Math.max(audio, w.end);
			if (audio >= hours * 3600) stop.abort();
		},
		onStatus: (s) => {
			if (s.kind === 'skipped') skipped += s.seconds;
		},
	});
	const timer = setInterval(() => {
		global.gc?.();
		samples.push({ audio, rss: process.memoryUsage().rss / 2 ** 20 });
		if (samples.length % 6 === 0) console.log(`  ${(audio / 3600).toFixed(2)} h of audio in ${((Date.now() - t0) / 60000).toFixed(1)} min, RSS ${samples[samples.length - 1].rss.toFixed(0)} MB`);
	}, 10_000);
	await run;
	clearInterval(timer);
	await server.close();
	const wall = (Date.now() - t0) / 1000;
	const settled = samples.filter((s) => s.audio >= 600);
	const base = settled[0]?.rss ?? samples[0]?.rss;
	const max = Math.max(...settled.map((s) => s.rss));
	const last = settled[settled.length - 1]?.rss;
	const growth = max - base;
	const perRecording = recDuration / 3600;
	console.log(`\nlong stream: ${(audio / 3600).toFixed(2)} h of audio at ${speed}x (${(audio / wall).toFixed(1)}x achieved) in ${(wall / 60).toFixed(1)} min; skipped ${skipped.toFixed(1)} s`);
	console.log(`RSS after 10 min of audio ${base.toFixed(0)} MB, max ${max.toFixed(0)} MB, at the end ${last.toFixed(0)} MB: growth ${growth.toFixed(1)} MB (bound: 50 MB)`);
	console.log(`events per hour of audio: ${eventsByHour.map((e) => e ?? 0).join(', ')} (the recording repeats every ${(perRecording * 3600).toFixed(1)} s)`);
	if (ASSERT && !(growth <= 50)) {
		console.error(`FAIL: RSS grew ${growth.toFixed(1)} MB over ${hours} h of audio (bound 50 MB)`);
		process.exit(1);
	}
	if (ASSERT && eventsByHour.length >= 2 && eventsByHour[eventsByHour.length - 1] < 0.8 * eventsByHour[0] * Math.min(1, (audio / 3600) % 1 || 1)) {
		console.error('FAIL: fewer events in the last hour than the first (detection stopped?)');
		process.exit(1);
	}
}

async function main() {
	const { mp3, rec } = mp3Recording();
	if (LONG) return long(mp3, rec.duration);
	const seconds = arg('seconds', 60);
	const server = await startServer(mp3, 1);
	const rows = [];
	try {
		rows.push(await load(server.url, 1, seconds));
		rows.push(await load(server.url, 8, seconds));
		if (ffmpegPath()) rows.push(await load(server.url, 1, seconds, 'ffmpeg'));
	} finally {
		await server.close();
	}
	console.log(`\nAudio Event Trigger engine, built-in model, hop 0.1 s, 64 kb/s MP3 streams in real time, ${seconds} s measured per row (${require('node:os').cpus().length} cores)\n`);
	console.log('| streams | source | CPU per stream (% of one core) | CPU total | audio skipped | events/min per stream | event loop longest block |');
	console.log('|---|---|---|---|---|---|---|');
	for (const r of rows) {
		console.log(`| ${r.n} | ${r.source === 'ffmpeg' ? 'FFmpeg (its process counted)' : 'HTTP, in-process MP3'} | ${r.perStream.toFixed(1)}% | ${r.total.toFixed(1)}% | ${r.skipped.toFixed(1)} s | ${r.eventsPerMinute.toFixed(1)} | ${r.loopMaxMs.toFixed(0)} ms |`);
	}
	const [one, eight, ff] = rows;
	console.log(`\n8 streams cost ${(eight.perStream / one.perStream).toFixed(2)}x one stream's CPU per stream${ff ? `; the FFmpeg source costs ${(ff.perStream / one.perStream).toFixed(2)}x the in-process MP3 source` : ''}.`);
	console.log(`target: <= 5% of one core per stream with 8 streams: ${eight.perStream <= 5 ? 'met' : 'NOT met'}; real time (no audio skipped): ${eight.skipped === 0 ? 'yes' : 'no'}`);
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
