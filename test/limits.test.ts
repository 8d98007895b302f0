/**
 * The largest inputs the limits allow must not freeze n8n: the engine must
 * give the event loop turns while it classifies them (the longest block is
 * measured in plain processes by scripts/security/event-loop.js). Limits that refuse work must do so before the work, with a fix.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import type { IBinaryData, IExecuteFunctions } from 'n8n-workflow';

import { decodeAudio } from '../src/audio/decode';
import { AudioLimitError, CancelledError, ModelConfigError, ResourceLimitError } from '../src/errors';
import { estimateInferenceBytes } from '../src/inference/budget';
import { sessionCache } from '../src/inference/session-cache';
import { resolveBuiltIn } from '../src/model/catalog';
import { loadModelSpec } from '../src/model/spec';
import { classifyAudio } from '../src/pipeline';
import { MODELS, describeWithFfmpeg, systemFfmpeg } from './helpers/fixtures';
import './helpers/n8n'; // n8n's file-access settings for the fixture folders

const { wav, longStereoWav } = require('../scripts/security/bad-inputs.js') as { wav: (o: Record<string, unknown>) => Buffer; longStereoWav: (seconds: number, rate?: number) => Buffer };


/**
 * Runs fn while counting the event loop's turns. How long a block holds the loop is measured in
 * plain processes by scripts/security/event-loop.js (CI), with a margin; jest asserts the mechanism
 * (the work yields), not a time.
 */
async function measured<T>(fn: () => Promise<T>): Promise<{ value: T; turns: number }> {
	let turns = 0;
	let running = true;
	const turn = () => {
		if (!running) return;
		turns++;
		setImmediate(turn);
	};
	setImmediate(turn);
	try {
		const value = await fn();
		return { value, turns };
	} finally {
		running = false;
	}
}

const builtIn = () => {
	const { dir, model } = resolveBuiltIn('speech-commands-dscnn');
	return loadModelSpec(dir, 'auto', model.id);
};
const options = { topK: 1, functionToApply: 'softmax' as const, device: 'cpu' as const };

afterAll(async () => sessionCache.clear());

describe('the largest allowed input keeps n8n responsive', () => {
	const big = longStereoWav(600);

	it('10 minutes of 44.1 kHz stereo WAV through the built-in model, in a plain Node process on the built package', () => {
		// Measured in a plain Node process on the built package, as n8n runs it (jest's module
		// sandbox adds pauses of its own around large buffers: 180-265 ms there, for the same code).
		const script = `
const { monitorEventLoopDelay } = require('node:perf_hooks');
const e = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'src'))});
const { longStereoWav } = require(${JSON.stringify(path.join(__dirname, '..', 'scripts', 'security', 'bad-inputs.js'))});
(async () => {
  const { dir, model } = e.resolveBuiltIn('speech-commands-dscnn');
  const spec = e.loadModelSpec(dir, 'auto', model.id);
  const big = longStereoWav(600);
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const r = await e.classifyAudio(big, spec, { topK: 1, functionToApply: 'softmax', device: 'cpu' });
  h.disable();
  await e.sessionCache.clear();
  console.log('RESULT ' + JSON.stringify({ duration: r.duration, labels: r.labels.length, maxDelayMs: h.max / 1e6 }));
})();`;
		const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', maxBuffer: 1 << 24 });
		const value = JSON.parse(out.split('\n').find((l) => l.startsWith('RESULT '))!.slice(7));
		console.log(`limits: 10-min WAV (model load included), max event-loop delay ${value.maxDelayMs.toFixed(0)} ms`);
		expect(value.duration).toBeCloseTo(600, 0);
		expect(value.labels).toBe(1);
		// The bound (100 ms, checked with a margin) is scripts/security/event-loop.js's, run by CI: not a jest assertion.
	}, 120_000);

	it('a stopped execution stops decoding at its next yield (counted in event-loop turns, not timed)', async () => {
		// The whole 10-minute decode gives the event loop many turns (printed); stopped on the first
		// turn it gives, it must end at the next check, not decode on. No wall-clock bound: a busy CI
		// machine must not make it fail.
		const whole = await measured(() => decodeAudio(big, { samplingRate: 16000 }));
		const controller = new AbortController();
		setImmediate(() => controller.abort());
		const stopped = await measured(() => decodeAudio(big, { samplingRate: 16000, signal: controller.signal }).catch((e) => e));
		console.log(`limits: decoding 10 min gives ${whole.turns} event-loop turns; stopped at the first, it ended after ${stopped.turns}`);
		expect(stopped.value).toBeInstanceOf(CancelledError);
		expect(whole.turns).toBeGreaterThanOrEqual(5);
		expect(stopped.turns).toBeLessThanOrEqual(2);
	});

	it('a clip one second over Max Duration is refused from its header, before decoding', async () => {
		const error = await decodeAudio(big, { samplingRate: 16000, maxDuration: 599 }).catch((e) => e);
		expect(error).toBeInstanceOf(AudioLimitError);
		expect(error.message).toMatch(/longer than the limit of 9 min 59 s \(its header says 10 min 0 s\)/);
		expect(error.data).toEqual({ kind: 'tooLong', maxDuration: 599, declared: 600 });
		expect(error.hintTemplate).toMatch(/raise \{maxDuration\}/); // the engine names the setting; the node names the field
		// "its header says" and data.declared are what shows it was refused from the header, not a time.
	});

	it('AST computes only the 1,024 frames it keeps of a 10-minute clip', async () => {
		const spec = loadModelSpec(path.join(MODELS, 'tiny-ast'), 'auto');
		const { value, turns } = await measured(() => classifyAudio(big, spec, options));
		expect(value.labels).toHaveLength(1);
		expect(turns).toBeGreaterThanOrEqual(5);
	}, 120_000);
});

describe('limits that refuse work before doing it', () => {
	it('a waveform transformer on 10 minutes: refused with the length that fits the memory budget', async () => {
		const spec = loadModelSpec(path.join(MODELS, 'tiny-wav2vec2'), 'auto');
		expect(estimateInferenceBytes(spec, 600 * 16000)).toBeGreaterThan(10 * 2 ** 30);
		const tenMinutes16k = wav({ rate: 16000, data: Buffer.alloc(600 * 16000 * 2) });
		const error = await classifyAudio(tenMinutes16k, spec, options).catch((e) => e);
		expect(error).toBeInstanceOf(ResourceLimitError);
		expect(error.message).toMatch(/too long for .* in one pass/);
		expect(error.hint).toMatch(/Trim clips to about \d+(\.\d)? s/);
		// The built-in model's cost does not grow that way: it is not limited.
		expect(estimateInferenceBytes(builtIn(), 600 * 16000)).toBe(0);
	});

	it('a model whose sampling_rate is absurd is refused when it loads', () => {
		const dir = mkdtempSync(path.join(tmpdir(), 'absurd-rate-'));
		try {
			cpSync(path.join(MODELS, 'tiny-wav2vec2'), dir, { recursive: true });
			for (const rate of [1, 0.5, 10_000_000]) {
				const pre = JSON.parse(readFileSync(path.join(dir, 'preprocessor_config.json'), 'utf8'));
				writeFileSync(path.join(dir, 'preprocessor_config.json'), JSON.stringify({ ...pre, sampling_rate: rate }));
				expect(() => loadModelSpec(dir, 'auto')).toThrow(ModelConfigError);
			}
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});

	it('a config file that is not JSON is reported without quoting its content', () => {
		const dir = mkdtempSync(path.join(tmpdir(), 'bad-json-'));
		try {
			cpSync(path.join(MODELS, 'tiny-wav2vec2'), dir, { recursive: true });
			writeFileSync(path.join(dir, 'config.json'), 'root:x:0:0:root:/root:/bin/bash\n');
			expect(() => loadModelSpec(dir, 'auto')).toThrow(/config.json of the model is not valid JSON$/);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});
});

describeWithFfmpeg('compressed input is counted while ffmpeg decodes it', () => {
	it('an MP3 with no length in its header stops at the limit, and the event loop stays free', async () => {
		const { execFileSync } = require('node:child_process');
		const dir = mkdtempSync(path.join(tmpdir(), 'long-mp3-'));
		try {
			const file = path.join(dir, 'long.mp3');
			execFileSync(systemFfmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'sine=f=300:r=16000', '-t', '130', '-b:a', '16k', file]);
			const mp3 = readFileSync(file);
			const { value: error, turns } = await measured(() =>
				decodeAudio(mp3, { samplingRate: 16000, maxDuration: 60 }).catch((e) => e),
			);
			expect(error).toBeInstanceOf(AudioLimitError);
			expect(turns).toBeGreaterThanOrEqual(2);
			const ok = await decodeAudio(mp3, { samplingRate: 16000, maxDuration: 140 });
			expect(ok.duration).toBeGreaterThan(129);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});
});

describe('a stopped execution', () => {
	it('takes up no further item after the stop (counted in items, not timed)', async () => {
		const { runClassifierWorkflow } = require('../scripts/lib/n8n-harness') as typeof import('../scripts/lib/n8n-harness');
		const { AudioClassification } = require('../nodes/AudioClassification/AudioClassification.node') as typeof import('../nodes/AudioClassification/AudioClassification.node');
		const dir = mkdtempSync(path.join(tmpdir(), 'cancel-'));
		const clip = path.join(dir, 'clip.wav');
		writeFileSync(clip, longStereoWav(20, 44100)); // 20 s of 44.1 kHz stereo: resampled, so real work per item
		let ended = 0;
		let calls = 0;
		const started = new Set<number>();
		const startedAfterStop: number[] = [];
		let stoppedAt = 0;
		class Counted extends AudioClassification {}
		Counted.prototype.execute = async function (this: IExecuteFunctions) {
			calls++;
			// Count the items whose audio the node takes up, and those it takes up after n8n's stop.
			const signal = this.getExecutionCancelSignal();
			signal?.addEventListener('abort', () => (stoppedAt = Date.now()), { once: true });
			const assertBinary = this.helpers.assertBinaryData;
			this.helpers.assertBinaryData = ((itemIndex: number, ...rest: unknown[]) => {
				if (!started.has(itemIndex)) {
					started.add(itemIndex);
					if (signal?.aborted) startedAfterStop.push(itemIndex);
				}
				return (assertBinary as (...a: unknown[]) => IBinaryData).call(this.helpers, itemIndex, ...rest);
			}) as typeof assertBinary;
			try {
				return await AudioClassification.prototype.execute.call(this);
			} finally {
				ended = Date.now();
			}
		};
		try {
			const files = Array.from({ length: 40 }, () => ({ path: clip }));
			const { run } = await runClassifierWorkflow({
				classifier: new Counted(),
				files,
				parameters: { modelSource: 'localFolder', modelPath: path.join(MODELS, 'tiny-ast'), topK: 1 },
				cancelAfterMs: 1500,
			});
			expect(run.status).toBe('canceled');
			const deadline = Date.now() + 30_000;
			while (!ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
			expect(calls).toBe(1);
			expect(ended).toBeGreaterThan(0);
			expect(stoppedAt).toBeGreaterThan(0);
			// The item in flight stops at its next check (the decoding test above): at most that one
			// (if the stop came while its model loaded) takes up its audio after the stop, none after it.
			console.log(`limits: the node took up ${started.size} of 40 items, ${startedAfterStop.length} of them after the stop; it ended ${ended - stoppedAt} ms after the stop`);
			expect(startedAfterStop.length).toBeLessThanOrEqual(1);
			expect(started.size).toBeGreaterThan(0);
			expect(started.size).toBeLessThan(40);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	}, 60_000);
});
