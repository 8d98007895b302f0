#!/usr/bin/env node
/**
 * How a voice note's decode fares inside a heap the size of n8n's (npm run bench:decode-heap):
 * the same 1 s Ogg/Opus note and 1 s WAV decoded 300 times each, in this process with a small
 * heap, then again with about 230 MB of live objects held (what n8n carries), as the ratio of
 * the two. Garbage collection started by buffers outside V8's heap grows with that heap.
 * Session 12 (BENCHMARKS.md): the decoders' sink reuses its blocks since; with the build before
 * that change the Ogg/Opus note took 3.0-3.2 ms with the large heap, with it 2.0 ms.
 */
'use strict';
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const { decodeAudio } = require('../dist/src');

const SPEECH = path.join(__dirname, '..', 'test', 'fixtures', 'audio', 'speech-16k-mono-s16.wav');
const note = (args) => execFileSync('ffmpeg', ['-v', 'error', '-stream_loop', '-1', '-i', SPEECH, '-t', '1', '-ac', '1', ...args, 'pipe:1'], { maxBuffer: 1 << 24 });
const NOTES = {
	'Ogg/Opus 48 kHz': note(['-ar', '48000', '-c:a', 'libopus', '-b:a', '24k', '-f', 'ogg']),
	'WAV 16 kHz': note(['-ar', '16000', '-c:a', 'pcm_s16le', '-f', 'wav']),
};

async function perNote(bytes, count = 300) {
	for (let i = 0; i < 20; i++) await decodeAudio(bytes, { samplingRate: 16000, decoder: 'builtIn' });
	const t = performance.now();
	for (let i = 0; i < count; i++) await decodeAudio(bytes, { samplingRate: 16000, decoder: 'builtIn' });
	return (performance.now() - t) / count;
}

(async () => {
	const small = {};
	for (const [name, bytes] of Object.entries(NOTES)) small[name] = await perNote(bytes);
	const live = Array.from({ length: 2_000_000 }, (_, i) => ({ i, s: `x${i}`, a: [i] }));
	const heapMB = Math.round(process.memoryUsage().heapUsed / 2 ** 20);
	console.log(`| note | small heap | ${heapMB} MB heap | ratio |\n|---|---|---|---|`);
	for (const [name, bytes] of Object.entries(NOTES)) {
		const big = await perNote(bytes);
		console.log(`| ${name} | ${small[name].toFixed(2)} ms | ${big.toFixed(2)} ms | ${(big / small[name]).toFixed(2)}x |`);
	}
	if (live.length === 0) console.log(); // keeps the objects alive to here
})();
