/**
 * The one streaming detector (src/tasks/stream-detector.ts) that Detect Events
 * runs on a file and the Audio Event Trigger on a live stream, on the built-in
 * model: the same events whatever the block sizes, each handed out as soon as
 * it is complete, memory bounded on a long stream, a cooldown per label, and
 * a gap (a reconnect) that neither joins nor shifts events.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';

import { decodeAudio } from '../src/audio/decode';
import { sessionCache } from '../src/inference/session-cache';
import { resolveBuiltIn } from '../src/model/catalog';
import { loadModelSpec } from '../src/model/spec';
import { withClassifier } from '../src/tasks/classifier';
import { createDetector, detectEvents } from '../src/tasks/detect-events';
import type { DetectedEvent } from '../src/tasks/types';
import { FIXTURES } from './helpers/fixtures';

const { makeRecording, readWav16, encodeWav } = require('../scripts/events/make-recording.js') as {
	readWav16: (file: string) => Float32Array;
	encodeWav: (samples: Float32Array) => Buffer;
	makeRecording: (o?: { seed?: number }) => { wav: Buffer; truth: Array<{ label: string; start: number; end: number; distractor: boolean }>; duration: number };
};

const builtIn = () => {
	const { dir, model } = resolveBuiltIn('speech-commands-dscnn');
	return loadModelSpec(dir, 'auto', model.id);
};
const RATE = 16000;
const byTime = (a: DetectedEvent, b: DetectedEvent) => a.start - b.start || b.score - a.score;

/** A deterministic sequence of block sizes between 1 sample and ~0.6 s. */
function* blockSizes(seed: number): Generator<number> {
	let x = seed;
	for (;;) {
		x = (x * 1103515245 + 12345) & 0x7fffffff;
		yield 1 + (x % 9600);
	}
}

afterAll(async () => sessionCache.clear());

describe('the streaming detector', () => {
	it('blocks of any size give the events Detect Events finds in the file, each handed out soon after its word', async () => {
		const spec = builtIn();
		const rec = makeRecording({ seed: 3 });
		const { samples } = await decodeAudio(rec.wav, { samplingRate: RATE });
		const whole = await detectEvents(rec.wav, spec, { device: 'cpu', batchSize: 1 });
		const streamed: Array<DetectedEvent & { at: number }> = [];
		await withClassifier(spec, { device: 'cpu' }, async (classifier) => {
			const d = createDetector(classifier, { batchSize: 1 });
			const sizes = blockSizes(7);
			for (let at = 0; at < samples.length; ) {
				const n = Math.min(samples.length - at, sizes.next().value as number);
				for (const e of await d.push(samples.subarray(at, at + n))) streamed.push({ ...e, at: (at + n) / RATE });
				at += n;
			}
			for (const e of await d.end()) streamed.push({ ...e, at: Infinity });
		});
		expect(whole.events.length).toBeGreaterThanOrEqual(10);
		expect(streamed.map(({ at: _, ...e }) => e).sort(byTime)).toEqual(whole.events);
		// Handed out while the audio goes on, not at the end: audio seconds between an event's end
		// and the block that completed it (the next window's end, the merge gap, and overlap checks).
		const early = streamed.filter((e) => e.at !== Infinity);
		const late = early.map((e) => e.at - e.end).sort((a, b) => a - b);
		console.log(`stream-detector: ${early.length}/${streamed.length} events handed out before the end; audio after a word's end until its event: median ${late[late.length >> 1].toFixed(2)} s, max ${late[late.length - 1].toFixed(2)} s`);
		expect(early.length).toBeGreaterThanOrEqual(streamed.length - 1);
		expect(late[late.length - 1]).toBeLessThanOrEqual(2.5);
	}, 120_000);

	it('holds the same few seconds of audio however long the stream runs (10 minutes fed through)', async () => {
		const spec = builtIn();
		const rec = makeRecording({ seed: 11 });
		const { samples } = await decodeAudio(rec.wav, { samplingRate: RATE });
		const seen: number[] = [];
		let events = 0;
		let retained = { samples: 0, energyFrames: 0, heldEvents: 0, openGroups: 0, windows: 0 };
		await withClassifier(spec, { device: 'cpu' }, async (classifier) => {
			const d = createDetector(classifier, {});
			const block = 4096;
			while (d.duration < 10 * 60) {
				for (let at = 0; at < samples.length; at += block) {
					events += (await d.push(samples.subarray(at, Math.min(samples.length, at + block)))).length;
					const r = d.retained();
					seen.push(r.samples);
					retained = {
						samples: Math.max(retained.samples, r.samples),
						energyFrames: Math.max(retained.energyFrames, r.energyFrames),
						heldEvents: Math.max(retained.heldEvents, r.heldEvents),
						openGroups: Math.max(retained.openGroups, r.openGroups),
						windows: Math.max(retained.windows, r.windows),
					};
				}
			}
			events += (await d.end()).length;
		});
		console.log(`stream-detector: 10 min, ${events} events; at most ${retained.samples} samples, ${retained.energyFrames} energy frames, ${retained.heldEvents} held events, ${retained.openGroups} open windows`);
		expect(events).toBeGreaterThan(100);
		// One window (1 s) and a batch of windows (8 x 1 s) plus one block, whatever the length.
		expect(retained.samples).toBeLessThanOrEqual(9 * RATE + 4096);
		// 4,096 frames (41 s) before they are dropped, plus what an open event may still use.
		expect(retained.energyFrames).toBeLessThanOrEqual(4096 + 1000);
		expect(retained.heldEvents).toBeLessThanOrEqual(4);
		expect(retained.windows).toBe(0);
	}, 300_000);

	const stopClip = readdirSync(path.join(FIXTURES, 'speech-commands')).filter((f) => f.startsWith('stop__')).sort()[0];

	it('a cooldown per label: "stop" said twice within it is one event', async () => {
		const spec = builtIn();
		const stop = readWav16(path.join(FIXTURES, 'speech-commands', stopClip));
		const signal = new Float32Array(RATE * 7);
		signal.set(stop, RATE); // at 1 s and at 2.6 s, then at 5.5 s
		signal.set(stop, Math.round(RATE * 2.6));
		signal.set(stop, Math.round(RATE * 5.5));
		const run = async (cooldown: number) =>
			await withClassifier(spec, { device: 'cpu' }, async (classifier) => {
				const d = createDetector(classifier, { cooldown });
				return [...(await d.push(signal)), ...(await d.end())].filter((e) => e.label === 'stop');
			});
		const all = await run(0);
		const cooled = await run(3);
		expect(all).toHaveLength(3);
		expect(cooled.map((e) => Math.round(e.start))).toEqual([1, 6]);
		// Detect Events on the file, for comparison, has no cooldown.
		expect((await detectEvents(encodeWav(signal), spec, { device: 'cpu' })).events.filter((e) => e.label === 'stop')).toHaveLength(3);
	}, 60_000);

	it('a gap (audio never received, as across a reconnect) closes open events and moves the clock on', async () => {
		const spec = builtIn();
		const stop = readWav16(path.join(FIXTURES, 'speech-commands', stopClip));
		const half = new Float32Array(RATE * 2);
		half.set(stop, Math.round(RATE * 0.5));
		const events = await withClassifier(spec, { device: 'cpu' }, async (classifier) => {
			const d = createDetector(classifier, {});
			const out = [...(await d.push(half.subarray(0, Math.round(RATE * 1.2))))];
			out.push(...(await d.gap(10)));
			out.push(...(await d.push(half)), ...(await d.end()));
			return out.filter((e) => e.label === 'stop');
		});
		// The word cut by the gap, then the whole word 10 s of missing audio later: never one event.
		const after = events.filter((e) => e.start > 11);
		expect(after).toHaveLength(1);
		expect(after[0].start).toBeGreaterThan(11.2 + 0.3);
		expect(after[0].end).toBeLessThan(11.2 + 2);
		expect(events.every((e) => e.end <= 1.2 + 1e-9 || e.start >= 11.2)).toBe(true);
	}, 60_000);
});
