// Shared by the benchmarks: the median of several timed runs after one untimed warm-up
// (model load, WASM compilation and the page cache are not what is measured).
'use strict';

function median(xs) {
	const s = [...xs].sort((a, b) => a - b);
	return s[Math.floor(s.length / 2)];
}

/** Milliseconds of each of `rounds` runs of fn, after one untimed warm-up. */
async function timings(fn, rounds) {
	await fn();
	const times = [];
	for (let i = 0; i < rounds; i++) {
		const t = process.hrtime.bigint();
		await fn();
		times.push(Number(process.hrtime.bigint() - t) / 1e6);
	}
	return times;
}

async function timed(fn, rounds) {
	return median(await timings(fn, rounds));
}

/** Median ms of each function, run in turn round after round (after one untimed round), so drift and order hit all alike. */
async function alternating(fns, rounds) {
	for (const fn of fns) await fn();
	const times = fns.map(() => []);
	for (let r = 0; r < rounds; r++) {
		for (let i = 0; i < fns.length; i++) {
			const t = process.hrtime.bigint();
			await fns[i]();
			times[i].push(Number(process.hrtime.bigint() - t) / 1e6);
		}
	}
	return times.map(median);
}

/** Median and 90th percentile. */
function stats(xs) {
	const s = [...xs].sort((a, b) => a - b);
	return { median: s[Math.floor(s.length / 2)], p90: s[Math.min(s.length - 1, Math.floor(s.length * 0.9))] };
}

/**
 * This process's peak resident memory in MB, from /proc/self/status (VmHWM): Linux keeps
 * ru_maxrss across exec, so process.resourceUsage().maxRSS in a child would report its
 * (large) parent's peak.
 */
function peakRssMB() {
	return Number(/VmHWM:\s+(\d+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
}

/**
 * A WAV file read as transformers.js's Node guide ("Server-side Audio Processing in
 * Node.js") does it: wavefile, 32-bit float, resampled, two channels merged (scaled by
 * sqrt 2), the first channel kept.
 */
function wavefileSamples(bytes, rate) {
	const { WaveFile } = require('wavefile');
	const wav = new WaveFile(bytes);
	wav.toBitDepth('32f');
	wav.toSampleRate(rate);
	let samples = wav.getSamples();
	if (Array.isArray(samples)) {
		if (samples.length > 1) {
			for (let i = 0; i < samples[0].length; i++) samples[0][i] = (Math.SQRT2 * (samples[0][i] + samples[1][i])) / 2;
		}
		samples = samples[0];
	}
	return samples;
}

/**
 * The built-in model's folder copied to `out` with a wav2vec2 config: transformers.js has no
 * DS-CNN, and the graph takes the same raw-waveform input (`input_values`).
 */
function builtInForTjs(modelDir, out) {
	const fs = require('node:fs');
	const path = require('node:path');
	fs.cpSync(modelDir, out, { recursive: true });
	const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
	fs.writeFileSync(path.join(out, 'config.json'), JSON.stringify({ ...config, model_type: 'wav2vec2', architectures: ['Wav2Vec2ForSequenceClassification'] }));
	return out;
}

module.exports = { alternating, builtInForTjs, median, peakRssMB, stats, timed, timings, wavefileSamples };
