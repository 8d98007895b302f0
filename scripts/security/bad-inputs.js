#!/usr/bin/env node
// Generates the hostile-input corpus: truncated and corrupted files of every
// format, header lies, low and absurd sample rates, decompression bombs,
// NaN/Inf samples, non-audio, hostile file names. Each case says what the node
// must do with it. Used by test/hostile-input.test.ts (into a temp folder) and
// by hand: `node scripts/security/bad-inputs.js <dir>` writes the files and a
// manifest.json.
'use strict';
const { execFileSync } = require('node:child_process');
const { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const path = require('node:path');

const AUDIO = path.join(__dirname, '..', '..', 'test', 'fixtures', 'audio');

/** A RIFF/WAVE file from a fmt body and a data body (with optional lies). */
function wav({ format = 1, channels = 1, rate = 16000, bits = 16, blockAlign, data, dataSize, fmtExtra, fmtSize }) {
	const fmt = Buffer.alloc(16);
	fmt.writeUInt16LE(format, 0);
	fmt.writeUInt16LE(channels, 2);
	fmt.writeUInt32LE(rate >>> 0, 4);
	const align = blockAlign ?? (channels * bits) / 8;
	fmt.writeUInt32LE((rate * align) >>> 0, 8);
	fmt.writeUInt16LE(align, 12);
	fmt.writeUInt16LE(bits, 14);
	const fmtBody = fmtExtra ? Buffer.concat([fmt, fmtExtra]) : fmt;
	const head = Buffer.alloc(12);
	head.write('RIFF', 0, 'ascii');
	head.write('WAVE', 8, 'ascii');
	const fmtHead = Buffer.alloc(8);
	fmtHead.write('fmt ', 0, 'ascii');
	fmtHead.writeUInt32LE(fmtSize ?? fmtBody.length, 4);
	const dataHead = Buffer.alloc(8);
	dataHead.write('data', 0, 'ascii');
	dataHead.writeUInt32LE(dataSize ?? data.length, 4);
	const out = Buffer.concat([head, fmtHead, fmtBody, dataHead, data]);
	out.writeUInt32LE(out.length - 8, 4);
	return out;
}

function pcm16(seconds, rate, f = 440) {
	const n = Math.round(seconds * rate);
	const b = Buffer.alloc(n * 2);
	for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * f * i) / rate)), i * 2);
	return b;
}

function float32(values) {
	const b = Buffer.alloc(values.length * 4);
	values.forEach((v, i) => b.writeFloatLE(v, i * 4));
	return b;
}

function corruptMiddle(buf, seed = 1) {
	const out = Buffer.from(buf);
	let x = seed;
	for (let i = Math.floor(out.length / 3); i < Math.floor((2 * out.length) / 3); i += 7) {
		x = (x * 1103515245 + 12345) & 0x7fffffff;
		out[i] = x & 0xff;
	}
	return out;
}

/** Encodes with ffmpeg into a temp file (muxers such as MP4 need a seekable output) and returns the bytes. */
function ffmpegTo(ffmpegPath, args, format) {
	const dir = mkdtempSync(path.join(tmpdir(), 'bad-inputs-'));
	try {
		const out = path.join(dir, 'out');
		execFileSync(ffmpegPath, ['-hide_banner', '-loglevel', 'error', ...args, '-f', format, out]);
		return readFileSync(out);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

/**
 * Cases: { name, bytes, fileName?, expect: 'error' | 'ok', match?: RegExp source, needsFfmpeg? }.
 * `match` is checked against the error message (for 'error').
 */
function buildCases({ ffmpegPath } = {}) {
	const cases = [];
	const add = (c) => cases.push(c);
	const good = readFileSync(path.join(AUDIO, 'speech-16k-mono-s16.wav'));

	// WAV header lies and truncations (in-process decoder)
	add({ name: 'wav-10-bytes', bytes: good.subarray(0, 10), expect: 'error', match: 'could not decode|no audio|invalid|ffmpeg' });
	add({ name: 'wav-riff-only', bytes: good.subarray(0, 12), expect: 'error', match: 'WAV file is invalid' });
	add({ name: 'wav-cut-in-fmt', bytes: good.subarray(0, 30), expect: 'error', match: 'WAV file is invalid' });
	const ext = wav({ format: 0xfffe, data: pcm16(0.5, 16000), fmtExtra: Buffer.alloc(24), fmtSize: 40 });
	ext.writeUInt16LE(1, 12 + 8 + 24); // SubFormat = PCM
	add({ name: 'wav-extensible-ok', bytes: ext, expect: 'ok' });
	add({ name: 'wav-extensible-cut', bytes: ext.subarray(0, 12 + 8 + 20), expect: 'error', match: 'WAV file is invalid' });
	add({ name: 'wav-rate-1hz-8kb', bytes: wav({ rate: 1, data: Buffer.alloc(8000) }), expect: 'error', match: 'sample rate of 1 Hz' });
	add({ name: 'wav-rate-2hz-200kb', bytes: wav({ rate: 2, data: Buffer.alloc(200_000) }), expect: 'error', match: 'sample rate of 2 Hz' });
	add({ name: 'wav-rate-4ghz', bytes: wav({ rate: 4_000_000_000, data: Buffer.alloc(1000) }), expect: 'error', match: 'sample rate' });
	add({ name: 'wav-rate-500khz', bytes: wav({ rate: 500_000, data: Buffer.alloc(1000) }), expect: 'error', match: 'sample rate of 500000 Hz' });
	add({ name: 'wav-odd-rate-44101', bytes: wav({ rate: 44101, data: pcm16(1, 44101) }), expect: 'ok' });
	add({ name: 'wav-0-channels', bytes: wav({ channels: 0, blockAlign: 2, data: Buffer.alloc(1000) }), expect: 'error', match: '0 channels' });
	add({ name: 'wav-block-align-lie', bytes: wav({ channels: 2, blockAlign: 1, data: Buffer.alloc(1000) }), expect: 'error', match: 'block size' });
	add({ name: 'wav-data-size-lie', bytes: wav({ data: pcm16(0.5, 16000), dataSize: 0x7ffffff0 }), expect: 'ok' });
	add({ name: 'wav-format-tag-85', bytes: wav({ format: 85, data: Buffer.alloc(1000) }), expect: 'error', match: 'not supported|could not decode|ffmpeg' });
	add({ name: 'wav-fmt-size-huge', bytes: wav({ data: pcm16(0.2, 16000), fmtSize: 0xfffffff0 }), expect: 'error', match: 'WAV file is invalid' });
	add({ name: 'wav-no-data-chunk', bytes: wav({ data: Buffer.alloc(0) }).subarray(0, 36), expect: 'error', match: 'no "data" chunk' });
	add({ name: 'wav-empty-data', bytes: wav({ data: Buffer.alloc(0) }), expect: 'error', match: 'no audio samples' });
	// 601 s of 8-bit mono at 1 kHz: 601 KB that is longer than the 10-minute default
	add({ name: 'wav-11-minutes-1khz', bytes: wav({ rate: 1000, bits: 8, data: Buffer.alloc(601_000, 128) }), expect: 'error', match: 'longer than the limit' });
	const nan = float32(Array.from({ length: 16000 }, (_, i) => (i === 8000 ? NaN : Math.sin(i / 10) * 0.1)));
	add({ name: 'wav-float-nan', bytes: wav({ format: 3, bits: 32, data: nan }), expect: 'error', match: 'NaN or infinity' });
	const inf = float32(Array.from({ length: 16000 }, (_, i) => (i === 100 ? Infinity : 0.01)));
	add({ name: 'wav-float-inf', bytes: wav({ format: 3, bits: 32, data: inf }), expect: 'error', match: 'NaN or infinity' });
	const huge = float32(Array.from({ length: 16000 }, () => 3e38));
	// Finite but far beyond full scale: the built-in model (v13.1) sets the loudest second's level before
	// the classifier, so this gets labels (v13 gave NaN scores and the error); NaN and infinity above still fail.
	add({ name: 'wav-float-3e38', bytes: wav({ format: 3, bits: 32, data: huge }), expect: 'ok' });

	// Not audio at all
	add({ name: 'empty', bytes: Buffer.alloc(0), expect: 'error', match: 'empty \\(0 bytes\\)' });
	add({ name: 'json', bytes: Buffer.from('{"error":"not found"}'), expect: 'error', match: 'decode|ffmpeg' });
	add({ name: 'html', bytes: Buffer.from('<!doctype html><html><body>502 Bad Gateway</body></html>'), expect: 'error', match: 'decode|ffmpeg' });
	add({ name: 'png-header', bytes: Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), expect: 'error', match: 'decode|ffmpeg' });
	let x = 7;
	add({ name: 'random-4kb', bytes: Buffer.from(Array.from({ length: 4096 }, () => ((x = (x * 1103515245 + 12345) & 0x7fffffff), x & 0xff))), expect: 'error', match: 'decode|ffmpeg' });
	add({ name: 'hls-playlist', bytes: Buffer.from('#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n'), expect: 'error', match: 'decode|ffmpeg' });
	add({ name: 'ffconcat', bytes: Buffer.from("ffconcat version 1.0\nfile '/etc/passwd'\n"), expect: 'error', match: 'decode|ffmpeg' });

	// Hostile file names on a valid clip
	add({ name: 'name-traversal', bytes: good, fileName: '../../../../etc/passwd.wav', expect: 'ok' });
	add({ name: 'name-control-chars', bytes: good, fileName: 'a\nb\u0000c\u202e.wav', expect: 'ok' });
	add({ name: 'name-very-long', bytes: good, fileName: `${'x'.repeat(5000)}.wav`, expect: 'ok' });

	if (ffmpegPath) {
		for (const f of ['speech-44k-stereo.mp3', 'speech-44k-stereo.flac', 'speech-44k-stereo.ogg', 'speech-48k-mono.opus', 'speech-44k-stereo.m4a', 'speech-48k-stereo.webm']) {
			const full = readFileSync(path.join(AUDIO, f));
			const ext = path.extname(f).slice(1);
			add({ name: `${ext}-truncated-half`, bytes: full.subarray(0, full.length >> 1), expect: 'any', needsFfmpeg: true });
			add({ name: `${ext}-truncated-64b`, bytes: full.subarray(0, 64), expect: 'error', match: 'decode|no audio', needsFfmpeg: true });
			add({ name: `${ext}-corrupted`, bytes: corruptMiddle(full), expect: 'any', needsFfmpeg: true });
		}
		// M4A with its index at the end (ffmpeg's default layout): must decode
		const tail = ffmpegTo(ffmpegPath, ['-f', 'lavfi', '-i', 'sine=f=440:r=16000:d=1', '-c:a', 'aac'], 'ipod');
		add({ name: 'm4a-moov-at-end', bytes: tail, expect: 'ok', needsFfmpeg: true });
		// Decompression bombs: tiny files that decode to hours
		const flacBomb = ffmpegTo(ffmpegPath, ['-f', 'lavfi', '-i', 'anullsrc=r=8000:cl=mono', '-t', '14400', '-c:a', 'flac', '-compression_level', '8'], 'flac');
		add({ name: 'flac-4h-silence', bytes: flacBomb, expect: 'error', match: 'longer than the limit', needsFfmpeg: true });
		const flacNoLength = Buffer.from(flacBomb);
		flacNoLength.fill(0, 8 + 13, 8 + 18); // STREAMINFO total samples = 0 ("unknown"): counted while decoding
		flacNoLength[8 + 13] = flacBomb[8 + 13] & 0xf0;
		add({ name: 'flac-4h-length-hidden', bytes: flacNoLength, expect: 'error', match: 'longer than the limit', needsFfmpeg: true });
		const mp3Long = ffmpegTo(ffmpegPath, ['-f', 'lavfi', '-i', 'anullsrc=r=8000:cl=mono', '-t', '1500', '-c:a', 'libmp3lame', '-b:a', '8k'], 'mp3');
		add({ name: 'mp3-25min-8kbps', bytes: mp3Long, expect: 'error', match: 'longer than the limit', needsFfmpeg: true });
		const opusLong = ffmpegTo(ffmpegPath, ['-f', 'lavfi', '-i', 'anullsrc=r=16000:cl=mono', '-t', '1500', '-c:a', 'libopus', '-b:a', '6k'], 'ogg');
		add({ name: 'opus-25min', bytes: opusLong, expect: 'error', match: 'longer than the limit', needsFfmpeg: true });
		// An MP4 header that claims 5 hours: refused from the header alone
		const liar = Buffer.from(readFileSync(path.join(AUDIO, 'speech-44k-stereo-faststart.m4a')));
		const mvhd = liar.indexOf('mvhd');
		if (mvhd > 0 && liar[mvhd + 4] === 0) {
			const timescale = liar.readUInt32BE(mvhd + 16);
			liar.writeUInt32BE(Math.min(0xfffffffe, timescale * 18000), mvhd + 20);
			add({ name: 'm4a-header-says-5h', bytes: liar, expect: 'error', match: 'header says', needsFfmpeg: true });
		}
	}
	return cases;
}

/** Stereo 16-bit noise-and-tone of `seconds` (10 minutes at 44.1 kHz: 106 MB, the largest WAV the default allows). */
function longStereoWav(seconds, rate = 44100) {
	const frames = seconds * rate;
	const data = Buffer.alloc(frames * 4);
	let x = 1;
	for (let i = 0; i < frames; i++) {
		x = (x * 1103515245 + 12345) & 0x7fffffff;
		const v = Math.round(3000 * Math.sin(i / 20) + ((x & 0xfff) - 2048));
		data.writeInt16LE(v, i * 4);
		data.writeInt16LE(-v, i * 4 + 2);
	}
	return wav({ channels: 2, rate, bits: 16, data });
}

module.exports = { buildCases, wav, pcm16, float32, longStereoWav };

if (require.main === module) {
	const dir = process.argv[2];
	if (!dir) {
		console.error('usage: node scripts/security/bad-inputs.js <output-folder> [ffmpeg]');
		process.exit(2);
	}
	mkdirSync(dir, { recursive: true });
	const cases = buildCases({ ffmpegPath: process.argv[3] || 'ffmpeg' });
	for (const c of cases) writeFileSync(path.join(dir, c.name), c.bytes);
	writeFileSync(
		path.join(dir, 'manifest.json'),
		JSON.stringify(cases.map(({ bytes, ...rest }) => ({ ...rest, size: bytes.length })), null, 1),
	);
	console.log(`${cases.length} cases in ${dir}`);
}
