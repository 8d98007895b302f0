/**
 * The bundled keyword model through the node with zero configuration, on real
 * Speech Commands clips it never saw in training.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { sessionCache } from '../src/inference/session-cache';
import { resolveBuiltIn } from '../src/model/catalog';
import { loadModelSpec } from '../src/model/spec';
import { classifyAudio } from '../src/pipeline';
import { FIXTURES } from './helpers/fixtures';
import { runClassifier } from './helpers/n8n';

const SAMPLES = path.join(FIXTURES, 'speech-commands');
const samples = readdirSync(SAMPLES).filter((f) => f.endsWith('.wav')).sort();
const expectedLabel = (file: string) => /^(_[a-z]+_|[a-z]+)__/.exec(file)![1];
const SHARED = path.join(__dirname, '..', '..', 'shared', 'data', 'speech-commands');

afterAll(async () => sessionCache.clear());

describe('bundled model, default parameters', () => {
	it('classifies the committed command clips and held-out noise crops correctly', async () => {
		const { items, error } = await runClassifier(
			samples.map((f) => ({ path: path.join(SAMPLES, f) })),
			{}, // a new node: Built-in source, default model, top 5, one item per label
		);
		expect(error).toBeUndefined();
		expect(items).toHaveLength(samples.length * 5);
		const top = items.filter((i) => i.json.rank === 1);
		expect(top.map((i) => i.json.fileName)).toEqual(samples);
		// Real `_unknown_` words are the model's known weakness (model card): the
		// two committed ones are reported by the demo, not asserted here.
		const judged = top.filter((i) => expectedLabel(i.json.fileName as string) !== '_unknown_');
		expect(judged).toHaveLength(24); // 16 command clips, 8 held-out noise crops
		const wrong = judged.filter((i) => i.json.label !== expectedLabel(i.json.fileName as string));
		// v7 gets all 24 right (v3.1 took left_099d52ad_2 for "yes", a near tie). Anything else is a regression.
		expect(wrong.map((i) => `${i.json.fileName} -> ${i.json.label}`)).toEqual([]);
		const silence = top.filter((i) => expectedLabel(i.json.fileName as string) === '_silence_');
		expect(silence.map((i) => i.json.label)).toEqual(Array(8).fill('_silence_'));
		expect(top.every((i) => i.json.model === 'speech-commands-dscnn')).toBe(true);
	});

	it('handles 0.25 s and 2.5 s clips (padding, loudest-second window)', async () => {
		const spec = loadModelSpec(resolveBuiltIn('speech-commands-dscnn').dir, 'auto', 'kws');
		const yes = readFileSync(path.join(SAMPLES, samples.find((f) => f.startsWith('yes__'))!));
		const pcm = yes.subarray(44);
		const wav = (data: Buffer) => {
			const header = Buffer.from(yes.subarray(0, 44));
			header.writeUInt32LE(36 + data.length, 4);
			header.writeUInt32LE(data.length, 40);
			return Buffer.concat([header, data]);
		};
		const short = await classifyAudio(wav(pcm.subarray(0, 8000)), spec, { topK: 0, functionToApply: 'auto', device: 'cpu' });
		expect(short.labels).toHaveLength(10);
		// the word, then 1.5 s of digital silence: the model must find the word
		const long = await classifyAudio(wav(Buffer.concat([Buffer.alloc(16000), pcm, Buffer.alloc(32000)])), spec, {
			topK: 1,
			functionToApply: 'auto',
			device: 'cpu',
		});
		expect(long.duration).toBeCloseTo(2.5, 2);
		expect(long.labels[0].label).toBe('yes');
	});
});

// The project's WAV writer (32-bit float: no quantisation, so levels far apart keep the same samples).
const { encodeWav } = require('../scripts/events/make-recording.js') as { encodeWav: (x: Float32Array, rate: number, o: { float: boolean }) => Buffer };
const floatWav = (x: Float32Array) => encodeWav(x, 16000, { float: true });

describe('bundled model, the level step (v13.1: the loudest second set to the training level)', () => {
	it('gives a word the same scores whether it was recorded quietly or loudly, and digital silence stays silence', async () => {
		const spec = loadModelSpec(resolveBuiltIn('speech-commands-dscnn').dir, 'auto', 'kws');
		const scores = async (x: Float32Array) => {
			const r = await classifyAudio(floatWav(x), spec, { topK: 0, functionToApply: 'auto', device: 'cpu', decoder: 'builtIn' });
			return Object.fromEntries(r.labels.map((l) => [l.label, l.score]));
		};
		for (const file of samples.filter((f) => /^(no|up|stop)__/.test(f))) {
			const pcm = readFileSync(path.join(SAMPLES, file)).subarray(44);
			const x = new Float32Array(pcm.length / 2);
			for (let i = 0; i < x.length; i++) x[i] = pcm.readInt16LE(i * 2) / 32768;
			const top = x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
			// Peaks from 0.02 (a quiet voice note, within the step's +30 dB) to 0.95.
			const at = await Promise.all([0.02, 0.1, 0.3, 0.95].map((peak) => scores(x.map((v) => (v * peak) / top))));
			for (const s of at.slice(1)) for (const [label, score] of Object.entries(at[0])) expect(Math.abs(s[label] - score)).toBeLessThan(1e-3);
			expect(Object.entries(at[0]).sort((a, b) => b[1] - a[1])[0][0]).toBe(expectedLabel(file));
		}
		const silent = await scores(new Float32Array(16000));
		expect(Object.entries(silent).sort((a, b) => b[1] - a[1])[0][0]).toBe('_silence_');
	});
});

const OTHER = path.join(FIXTURES, 'other-speech');
// Issue 11's targets (model card): a command recall >= 93% and other speech -> command <= 5%
// at the top label, <= 1% above the recommended threshold; v3.1 measures 93.9% and 4.3%.
const COMMAND_RECALL = 0.93;
const OTHER_SPEECH_AT_TOP_LABEL = 0.05;
const FIRED_AT_TOP_LABEL = 1; // of the 12 committed held-out clips
// The one disclosed known false trigger (model card, "v13 and the sentence window", and README):
// a LibriSpeech window that both deeper (v13) seeds call "left" at 0.94-0.97 (v13.1: 0.974). It may fire; any
// other of the twelve above the recommended threshold fails, and so does more than one at the top
// label, so the exception cannot grow.
const KNOWN_FALSE_TRIGGERS = ['librispeech__3080-5032-0000.wav'];
const card = JSON.parse(readFileSync(path.join(resolveBuiltIn('speech-commands-dscnn').dir, 'node_metrics.json'), 'utf8')) as {
	recommended_threshold: number;
};

describe('bundled model, other speech it never heard (committed held-out clips)', () => {
	it('does not turn other words into commands above the recommended threshold, but for the one disclosed clip', async () => {
		const clips = readdirSync(OTHER).filter((f) => f.endsWith('.wav')).sort();
		expect(clips.length).toBe(12);
		const { items, error } = await runClassifier(
			clips.map((f) => ({ path: path.join(OTHER, f) })),
			{ topK: 1, outputMode: 'perInput' },
		);
		expect(error).toBeUndefined();
		const commands = ['yes', 'no', 'up', 'down', 'left', 'right', 'stop', 'go'];
		const fired = items.filter((i) => commands.includes(i.json.label as string));
		const firedAbove = fired.filter((i) => (i.json.score as number) >= card.recommended_threshold);
		console.log(`bundled model, committed other-speech clips: ${fired.length}/${clips.length} come out as a command at the top label, ${firedAbove.length} above ${card.recommended_threshold}` + fired.map((i) => `; ${i.json.fileName} -> ${i.json.label} ${(i.json.score as number).toFixed(3)}`).join(''));
		expect(
			firedAbove
				.filter((i) => !KNOWN_FALSE_TRIGGERS.includes(i.json.fileName as string))
				.map((i) => `${i.json.fileName} -> ${i.json.label} ${i.json.score}`),
		).toEqual([]);
		expect(fired.length).toBeLessThanOrEqual(FIRED_AT_TOP_LABEL);
	});
});

if (!existsSync(SHARED)) console.warn(`SKIPPED held-out accuracy and false triggers: ${SHARED} not found (shared/ is not checked out)`);
// The held-out synthetic voices (scripts/kws/synth.py) need Debian's synthesisers; CI installs them (.ci/run).
const SYNTHESISERS = ['espeak-ng', 'flite', 'festival', 'text2wave', 'sox'];
const missingTools = SYNTHESISERS.filter((t) => {
	try {
		execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
		return false;
	} catch {
		return true;
	}
});
const describeWithSynth = existsSync(SHARED) && missingTools.length === 0 ? describe : describe.skip;
if (existsSync(SHARED) && missingTools.length) console.warn(`SKIPPED the model card evaluation: ${missingTools.join(', ')} not installed (apt-get install espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts sox)`);

// Issue 21's targets are met in part by the shipped model (v13.1): noise at every level and other
// speech are asserted at its bounds; isolated other words that sound like a command still fire one
// (8.4% at the top label, worst "gnaw" 60% as no, issue 21 asks <= 5% and <= 10%), so those are
// bounds that fail if the model gets worse on them (v7's worst word, 80%, would fail), not the
// issue's targets.
const ACCURACY_10_CLASS = 0.93;
const NOISE_AT_TOP_LABEL = 0.01;
const OTHER_WORDS_AT_TOP_LABEL_NOW = 0.1;
const WORST_WORD_NOW = 0.7;

describeWithSynth('held-out validation material through ONNX Runtime in the node (the model card figures)', () => {
	it('commands recalled; other speech and noise under 1% above the recommended threshold; isolated words no worse than measured', () => {
		// The evaluation script, as `npm run eval:kws` runs it (built-in decoders, the built package).
		const out = execFileSync(process.execPath, [path.join(__dirname, '..', 'scripts', 'kws', 'eval-node.js'), '--json'], {
			encoding: 'utf8',
			maxBuffer: 1 << 28,
		});
		const m = JSON.parse(out.split('\n').find((l) => l.startsWith('METRICS '))!.slice(8));
		const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
		console.log(
			`bundled model, held-out: command recall ${pct(m.command_recall)}, other speech -> command ${pct(m.other_speech_false_trigger)}, ` +
				`isolated other words -> command ${pct(m.other_words_false_trigger)} (worst: ${m.worst_word.word} ${pct(m.worst_word.fired)}), ` +
				`noise -> command ${pct(m.noise_false_trigger)} (worst level ${m.worst_noise.level}: ${pct(m.worst_noise.fired)}), ` +
				`10-class ${pct(m.accuracy_10_class)}, recommended threshold ${m.recommended_threshold}`,
		);
		expect(m.items).toMatchObject({ command: 865, unknown_words: 30, other_wake_words: 786, other_sentences: 497 });
		expect(m.items.synth_words).toBeGreaterThanOrEqual(6000);
		expect(m.command_recall).toBeGreaterThanOrEqual(COMMAND_RECALL);
		expect(m.other_speech_false_trigger).toBeLessThanOrEqual(OTHER_SPEECH_AT_TOP_LABEL);
		expect(m.accuracy_10_class).toBeGreaterThanOrEqual(ACCURACY_10_CLASS);
		expect(m.noise_false_trigger).toBeLessThanOrEqual(NOISE_AT_TOP_LABEL);
		expect(m.recommended_threshold).toBe(card.recommended_threshold);
		const at = m.curve.find((c: { threshold: number }) => c.threshold === card.recommended_threshold);
		expect(at.other_speech_false_trigger).toBeLessThanOrEqual(0.01);
		expect(at.noise_false_trigger).toBeLessThanOrEqual(0.01);
		expect(m.other_words_false_trigger).toBeLessThanOrEqual(OTHER_WORDS_AT_TOP_LABEL_NOW);
		expect(m.worst_word.fired).toBeLessThanOrEqual(WORST_WORD_NOW);
	}, 900_000);
});
