#!/usr/bin/env node
// Detect Events over long recordings on the built-in model (npm run bench:events):
// one hour of 16 kHz WAV and three hours of MP3 (made by repeating the committed
// recording of commands and other words), streamed through the engine. Prints the
// speed as a multiple of real time, the events found, and the peak RSS growth
// against the size of the decoded audio had it been held whole.
'use strict';
const { execFileSync } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const engine = require(path.join(ROOT, 'dist', 'src'));
const { encodeWav, makeRecording } = require('./events/make-recording.js');

/** The samples of a 16-bit mono WAV made by encodeWav (44-byte header). */
function readWav16FromBuffer(b) {
	const x = new Float32Array((b.length - 44) / 2);
	for (let i = 0; i < x.length; i++) x[i] = b.readInt16LE(44 + 2 * i) / 32768;
	return x;
}

function repeat(samples, seconds) {
	const out = new Float32Array(seconds * 16000);
	for (let at = 0; at < out.length; at += samples.length) out.set(samples.subarray(0, Math.min(samples.length, out.length - at)), at);
	return out;
}

async function measure(name, bytes, seconds) {
	const { dir, model } = engine.resolveBuiltIn('speech-commands-dscnn');
	const spec = engine.loadModelSpec(dir, 'auto', model.id);
	global.gc?.();
	// Typed arrays and Buffers live outside the JS heap: arrayBuffers is where decoded audio would show.
	const mem = () => process.memoryUsage();
	const before = mem();
	let peakRss = before.rss;
	let peakBuffers = before.arrayBuffers;
	const timer = setInterval(() => {
		const m = mem();
		peakRss = Math.max(peakRss, m.rss);
		peakBuffers = Math.max(peakBuffers, m.arrayBuffers);
	}, 10);
	const t = Date.now();
	const r = await engine.detectEvents(bytes, spec, { device: 'cpu', maxDuration: 4 * 3600 });
	const ms = Date.now() - t;
	clearInterval(timer);
	const wholeMb = (seconds * 16000 * 4) / 2 ** 20;
	console.log(
		`${name.padEnd(26)} ${(seconds / 60).toFixed(0)} min in ${(ms / 1000).toFixed(1)} s = ${(seconds / (ms / 1000)).toFixed(0)}x real time; ` +
			`${r.events.length} events; decoder ${r.decoder}; peak growth: buffers +${((peakBuffers - before.arrayBuffers) / 2 ** 20).toFixed(0)} MB, ` +
			`RSS +${((peakRss - before.rss) / 2 ** 20).toFixed(0)} MB ` +
			`(input file ${(bytes.length / 2 ** 20).toFixed(0)} MB; the decoded audio whole would be ${wholeMb.toFixed(0)} MB)`,
	);
	await engine.sessionCache.clear();
}

async function main() {
	const rec = readWav16FromBuffer(makeRecording({ seed: 3 }).wav);
	await measure('1 h WAV 16 kHz', encodeWav(repeat(rec, 3600)), 3600);
	const dir = mkdtempSync(path.join(tmpdir(), 'bench-events-'));
	try {
		const mp3 = path.join(dir, 'long.mp3');
		const wav = path.join(dir, 'one.wav');
		require('node:fs').writeFileSync(wav, encodeWav(rec));
		execFileSync(process.env.FFMPEG_PATH || 'ffmpeg', ['-v', 'error', '-stream_loop', '-1', '-i', wav, '-t', '10800', '-b:a', '32k', mp3]);
		await measure('3 h MP3 32 kbit/s', readFileSync(mp3), 10800);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
