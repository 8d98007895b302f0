#!/usr/bin/env node
// The bundled command model evaluated the way users run it: through this
// package's engine (in-process decoders, ONNX Runtime), on the validation
// material train.py holds out (the same rules, restated here):
//   - commands: the speaker-disjoint `validation` split of Speech Commands;
//   - other speech: the 30 held-out Speech Commands other words, the held-out
//     wake words (HELD_OUT_WAKE_WORDS, whole clips: the graph picks the loudest
//     second), and one-second windows with speech (RMS > 0.01, at most 8 per
//     clip) of sentences by held-out speakers (SHA-1 of corpus/speaker, mod 5 == 0);
//   - noise: one-second windows (hop 0.5 s) of the last 20% of every
//     background-noise file, at gains 0.1, 0.5 and 1.
// Prints the figures and the recall / false-trigger curve over thresholds and
// writes them to models/speech-commands-dscnn/node_metrics.json with --write.
//
//   npm run eval:kws [-- --write] [-- --json] [-- --model <folder>]   (another build of the model, e.g. the previous one)
'use strict';
const { createHash } = require('node:crypto');
const { readFileSync, writeFileSync } = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const { encodeWav } = require(path.join(ROOT, 'scripts', 'events', 'make-recording.js'));
const SHARED = path.join(ROOT, '..', 'shared', 'data');
const COMMANDS = ['yes', 'no', 'up', 'down', 'left', 'right', 'stop', 'go'];
const HELD_OUT_WAKE_WORDS = ['jarvis', 'view'];
const THRESHOLDS = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95];
const RATE = 16000;

const csv = (file) => {
	const [head, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
	const keys = head.split(',');
	return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [keys[i], v])));
};
const heldOutSpeaker = (corpus, speaker) => BigInt(`0x${createHash('sha1').update(`${corpus}/${speaker}`).digest('hex')}`) % 5n === 0n;
const wakeWord = (p) => path.basename(p).split('_')[0].split('-')[0];

/** A 16 kHz mono float WAV of `samples`, as an upload would bring it. */
const wav = (samples) => encodeWav(samples, RATE, { float: true });

const rms = (x) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);

/** Items: { group, expected, bytes() }. */
async function validationItems(engine) {
	const items = [];
	const sc = path.join(SHARED, 'speech-commands');
	for (const row of csv(path.join(sc, 'manifest.csv'))) {
		if (row.split !== 'validation') continue;
		const file = path.join(sc, row.path);
		const command = COMMANDS.includes(row.label);
		items.push({ group: command ? 'command' : 'unknown_words', expected: command ? row.label : '_unknown_', bytes: () => readFileSync(file) });
	}
	const os = path.join(SHARED, 'other-speech');
	for (const row of csv(path.join(os, 'manifest.csv'))) {
		const file = path.join(os, row.path);
		const heldOut = row.corpus === 'picovoice_wwb' ? HELD_OUT_WAKE_WORDS.includes(wakeWord(row.path)) : heldOutSpeaker(row.corpus, row.speaker);
		if (!heldOut) continue;
		if (Number(row.seconds) <= 3.5) {
			items.push({ group: 'other_wake_words', expected: '_unknown_', bytes: () => readFileSync(file) });
			continue;
		}
		const { samples } = await engine.decodeAudio(readFileSync(file), { samplingRate: RATE, maxDuration: 600 });
		let taken = 0;
		for (let s = 0; s + RATE <= samples.length && taken < 8; s += RATE) {
			const w = samples.slice(s, s + RATE);
			if (rms(w) > 0.01) {
				taken++;
				items.push({ group: 'other_sentences', expected: '_unknown_', bytes: () => wav(w) });
			}
		}
	}
	const noiseDir = path.join(sc, 'background_noise');
	for (const name of require('node:fs').readdirSync(noiseDir).sort()) {
		const { samples } = await engine.decodeAudio(readFileSync(path.join(noiseDir, name)), { samplingRate: RATE, maxDuration: 600 });
		const tail = samples.subarray(Math.floor(samples.length * 0.8));
		for (let s = 0; s + RATE < tail.length; s += RATE / 2) {
			for (const gain of [0.1, 0.5, 1]) {
				const w = tail.slice(s, s + RATE).map((v) => v * gain);
				items.push({ group: 'noise', expected: '_silence_', bytes: () => wav(w) });
			}
		}
	}
	return items;
}

async function evaluate() {
	const engine = require(path.join(ROOT, 'dist', 'src'));
	const at = process.argv.indexOf('--model');
	const dir = at > 0 ? path.resolve(process.argv[at + 1]) : engine.resolveBuiltIn('speech-commands-dscnn').dir;
	const spec = engine.loadModelSpec(dir, 'auto', 'speech-commands-dscnn');
	const items = await validationItems(engine);
	const results = [];
	let next = 0;
	const worker = async () => {
		while (next < items.length) {
			const item = items[next++];
			const r = await engine.classifyAudio(item.bytes(), spec, { topK: 1, functionToApply: 'auto', device: 'cpu', decoder: 'builtIn' });
			results.push({ ...item, label: r.labels[0].label, score: r.labels[0].score });
		}
	};
	await Promise.all([worker(), worker()]);
	await engine.sessionCache.clear();
	const of = (g) => results.filter((r) => g.includes(r.group));
	const fires = (r, t = 0) => COMMANDS.includes(r.label) && r.score >= t;
	const rate = (rows, f) => rows.filter(f).length / rows.length;
	const commands = of(['command']);
	const other = of(['unknown_words', 'other_wake_words', 'other_sentences']);
	const noise = of(['noise']);
	const tenClass = of(['command', 'unknown_words', 'other_wake_words', 'other_sentences', 'noise']);
	const metrics = {
		items: Object.fromEntries(['command', 'unknown_words', 'other_wake_words', 'other_sentences', 'noise'].map((g) => [g, of([g]).length])),
		command_recall: rate(commands, (r) => r.label === r.expected),
		other_speech_false_trigger: rate(other, (r) => fires(r)),
		other_speech_false_trigger_by_group: Object.fromEntries(['unknown_words', 'other_wake_words', 'other_sentences'].map((g) => [g, rate(of([g]), (r) => fires(r))])),
		noise_false_trigger: rate(noise, (r) => fires(r)),
		// All ten classes: commands, `_unknown_` made of real held-out speech only (no synthetic or
		// reversed clips), `_silence_` from the held-out noise windows.
		accuracy_10_class: rate(tenClass, (r) => r.label === r.expected),
		curve: THRESHOLDS.map((t) => ({
			threshold: t,
			command_recall: rate(commands, (r) => r.label === r.expected && r.score >= t),
			other_speech_false_trigger: rate(other, (r) => fires(r, t)),
			noise_false_trigger: rate(noise, (r) => fires(r, t)),
		})),
	};
	// The recommended threshold, by a rule fixed in advance: the lowest one on the curve at which
	// other speech triggers a command at most 1% of the time (and noise at most 1%).
	const ok = metrics.curve.find((c) => c.other_speech_false_trigger <= 0.01 && c.noise_false_trigger <= 0.01);
	metrics.recommended_threshold = ok ? ok.threshold : null;
	return metrics;
}

if (require.main === module) {
	evaluate()
		.then((m) => {
			if (process.argv.includes('--json')) {
				console.log(`METRICS ${JSON.stringify(m)}`);
				return;
			}
			const pct = (v) => `${(v * 100).toFixed(1)}%`;
			console.log(JSON.stringify(m.items));
			console.log(`command recall ${pct(m.command_recall)}, other speech -> command ${pct(m.other_speech_false_trigger)} ${JSON.stringify(m.other_speech_false_trigger_by_group)}, noise -> command ${pct(m.noise_false_trigger)}, 10-class accuracy ${pct(m.accuracy_10_class)}`);
			console.log('| threshold | command recall | other speech -> command | noise -> command |\n|---|---|---|---|');
			for (const c of m.curve) console.log(`| ${c.threshold.toFixed(2)} | ${pct(c.command_recall)} | ${pct(c.other_speech_false_trigger)} | ${pct(c.noise_false_trigger)} |`);
			console.log(`recommended threshold (lowest with other speech and noise -> command <= 1%): ${m.recommended_threshold}`);
			if (process.argv.includes('--write')) {
				writeFileSync(path.join(ROOT, 'models', 'speech-commands-dscnn', 'node_metrics.json'), `${JSON.stringify(m, null, '\t')}\n`);
			}
		})
		.catch((e) => {
			console.error(e);
			process.exit(1);
		});
}

module.exports = { evaluate };
