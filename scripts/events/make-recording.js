#!/usr/bin/env node
// Builds a long recording from real clips at known times, for Detect Events:
// spoken commands (the ones the built-in model knows) with other words between
// them as distractors, over low background noise. The truth for each command is
// where its word is: the 10 ms frames within 30 dB of the clip's loudest.
//
//   node scripts/events/make-recording.js <out.wav|out.opus> [seed]
//     writes the recording (.opus: encoded with ffmpeg's libopus at 24 kbit/s, as
//     a voice note is) and <out>.json (the truth); default clips: the committed
//     test/fixtures/speech-commands (16 commands, 2 other words). The committed
//     test/fixtures/recordings/commands-and-other-words.opus is this with seed 3.
'use strict';
const { readdirSync, readFileSync, writeFileSync } = require('node:fs');
const path = require('node:path');

const RATE = 16000;
const CLIPS = path.join(__dirname, '..', '..', 'test', 'fixtures', 'speech-commands');

function readWav16(file) {
	const b = readFileSync(file);
	let o = 12;
	while (o + 8 <= b.length && b.toString('ascii', o, o + 4) !== 'data') o += 8 + b.readUInt32LE(o + 4);
	const start = o + 8;
	const n = Math.floor((b.length - start) / 2);
	const x = new Float32Array(n);
	for (let i = 0; i < n; i++) x[i] = b.readInt16LE(start + 2 * i) / 32768;
	return x;
}

function wordExtent(x) {
	const frame = RATE / 100;
	const rms = [];
	for (let k = 0; k * frame < x.length; k++) {
		let s = 0;
		for (let i = k * frame; i < Math.min(x.length, (k + 1) * frame); i++) s += x[i] * x[i];
		rms.push(Math.sqrt(s / frame));
	}
	const floor = Math.max(...rms) * 10 ** (-30 / 20);
	const first = rms.findIndex((v) => v >= floor);
	let last = rms.length - 1;
	while (last > first && rms[last] < floor) last--;
	return [first / 100, (last + 1) / 100];
}

/** A mono WAV of `samples` at `rate`: 16-bit PCM, or 32-bit float with { float: true }. */
function encodeWav(samples, rate = RATE, { float = false } = {}) {
	const bytes = float ? 4 : 2;
	const out = Buffer.alloc(44 + samples.length * bytes);
	out.write('RIFF', 0, 'ascii');
	out.writeUInt32LE(36 + samples.length * bytes, 4);
	out.write('WAVEfmt ', 8, 'ascii');
	out.writeUInt32LE(16, 16);
	out.writeUInt16LE(float ? 3 : 1, 20);
	out.writeUInt16LE(1, 22);
	out.writeUInt32LE(rate, 24);
	out.writeUInt32LE(rate * bytes, 28);
	out.writeUInt16LE(bytes, 32);
	out.writeUInt16LE(bytes * 8, 34);
	out.write('data', 36, 'ascii');
	out.writeUInt32LE(samples.length * bytes, 40);
	if (float) Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength).copy(out, 44);
	else for (let i = 0; i < samples.length; i++) out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32767))), 44 + 2 * i);
	return out;
}

/**
 * @param {{ clips?: string[], seed?: number, gapMin?: number, gapMax?: number, noise?: number }} o
 *   clips: WAV files named "<label>__...wav" (labels starting with "_" are distractors)
 * @returns {{ wav: Buffer, truth: Array<{label: string, start: number, end: number, file: string, distractor: boolean}>, duration: number }}
 */
function makeRecording(o = {}) {
	const files = o.clips ?? readdirSync(CLIPS).filter((f) => f.endsWith('.wav') && !f.startsWith('_silence_')).map((f) => path.join(CLIPS, f));
	let seed = o.seed ?? 3;
	const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
	const order = files.map((f) => [rnd(), f]).sort((a, b) => a[0] - b[0]).map(([, f]) => f);
	const gapMin = o.gapMin ?? 1.5;
	const gapMax = o.gapMax ?? 2.7;
	const clips = order.map((f) => ({ file: f, x: readWav16(f) }));
	const total = Math.ceil((1 + clips.length * gapMax + 2) * RATE);
	const out = new Float32Array(total);
	for (let i = 0; i < total; i++) out[i] = (rnd() - 0.5) * (o.noise ?? 0.002);
	const truth = [];
	let t = 1;
	for (const { file, x } of clips) {
		const at = Math.round(t * RATE);
		for (let i = 0; i < x.length && at + i < total; i++) out[at + i] += x[i];
		const [a, b] = wordExtent(x);
		const label = path.basename(file).split('__')[0];
		truth.push({ label, start: +(t + a).toFixed(3), end: +(t + b).toFixed(3), file: path.basename(file), distractor: label.startsWith('_') });
		t += gapMin + rnd() * (gapMax - gapMin);
	}
	const length = Math.min(total, Math.ceil((t + 1) * RATE));
	return { wav: encodeWav(out.subarray(0, length)), truth, duration: length / RATE };
}

module.exports = { makeRecording, readWav16, encodeWav, wordExtent, RATE };

if (require.main === module) {
	const out = process.argv[2];
	if (!out) {
		console.error('usage: node scripts/events/make-recording.js <out.wav> [seed]');
		process.exit(2);
	}
	const r = makeRecording({ seed: Number(process.argv[3] || 3) });
	if (/\.(opus|ogg)$/.test(out)) {
		const wav = `${out}.tmp.wav`;
		writeFileSync(wav, r.wav);
		try {
			require('node:child_process').execFileSync(process.env.FFMPEG_PATH || 'ffmpeg', ['-v', 'error', '-y', '-i', wav, '-c:a', 'libopus', '-b:a', '24k', '-f', 'ogg', out]);
		} finally {
			require('node:fs').rmSync(wav, { force: true });
		}
	} else {
		writeFileSync(out, r.wav);
	}
	writeFileSync(out.replace(/\.(wav|opus|ogg)$/, '.json'), JSON.stringify({ duration: r.duration, events: r.truth }, null, 1));
	console.log(`${out}: ${r.duration.toFixed(1)} s, ${r.truth.filter((e) => !e.distractor).length} commands, ${r.truth.filter((e) => e.distractor).length} other words`);
}
