/**
 * The Audio Event Trigger's engine with a CLAP model (the tiny CLAP fixture)
 * and labels the user writes: every window of a live stream is scored
 * exactly as Classify with Your Own Labels scores that stretch of audio on
 * its own (same label, same score), and the labels the detector reports are
 * the user's.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { decodeAudio } from '../src/audio/decode';
import { encodeWav16 } from '../src/audio/encode';
import { sessionCache } from '../src/inference/session-cache';
import { loadModelSpec } from '../src/model/spec';
import { extractFeatures } from '../src/tasks/classifier';
import type { HeardWindow } from '../src/tasks/detect-events';
import { listen } from '../src/tasks/listen';
import { clearZeroShotCaches, zeroShotPrepared } from '../src/tasks/zero-shot';
import { Slicer } from '../src/util/slicer';
import { AUDIO, MODELS } from './helpers/fixtures';
import { startStreamServer, type StreamServer } from './helpers/stream-server';

const LABELS = ['a dog barking', 'someone speaking', 'a short beep', 'background noise'];
const TEMPLATE = 'This is a sound of {}.';

let server: StreamServer;
let stream: Buffer;

beforeAll(async () => {
	// 6 s: speech, bursts, speech, ... (the fixtures, one after another).
	const speech = (await decodeAudio(readFileSync(path.join(AUDIO, 'clap-speech-48k.wav')), { samplingRate: 48000 })).samples;
	const bursts = (await decodeAudio(readFileSync(path.join(AUDIO, 'clap-bursts-48k.flac')), { samplingRate: 48000 })).samples;
	const all = new Float32Array(6 * 48000);
	for (let at = 0, k = 0; at < all.length; k++) {
		const part = k % 2 ? bursts : speech;
		all.set(part.subarray(0, Math.min(part.length, all.length - at)), at);
		at += part.length;
	}
	stream = encodeWav16(all, 48000);
	server = await startStreamServer({ body: stream, contentType: 'audio/wav', bytesPerSecond: 96000, speed: 8, path: '/live.wav' });
});
afterAll(async () => {
	await server.close();
	await sessionCache.clear();
});

describe('listening with a CLAP model', () => {
	it('each window of the stream scores as Classify with Your Own Labels scores it alone; labels are the user\'s', async () => {
		clearZeroShotCaches();
		const spec = loadModelSpec(path.join(MODELS, 'tiny-clap'), 'auto');
		const stop = new AbortController();
		const windows: HeardWindow[] = [];
		const events: string[] = [];
		await listen(spec, {
			url: server.url,
			device: 'cpu',
			candidateLabels: LABELS,
			hypothesisTemplate: TEMPLATE,
			window: 2,
			hop: 0.5,
			threshold: 0,
			clipBefore: 0,
			clipAfter: 0,
			signal: stop.signal,
			onWindow: (w) => void windows.push(w),
			onEvent: (e) => void events.push(e.label),
			onStatus: (s) => {
				if (s.kind === 'disconnected') stop.abort();
			},
		});
		// The stream as a file, at the model's rate: the reference for each window.
		const samples = (await decodeAudio(stream, { samplingRate: 48000 })).samples;
		const full = windows.filter((w) => w.end <= samples.length / 48000 + 1e-6);
		expect(full.length).toBeGreaterThanOrEqual(8);
		let worst = 0;
		for (const w of full) {
			const from = Math.round(w.start * 48000);
			const features = await extractFeatures(spec, samples.slice(from, from + 2 * 48000), new Slicer());
			const [alone] = await zeroShotPrepared([{ features, duration: 2, decoder: 'wav', candidateLabels: LABELS, hypothesisTemplate: TEMPLATE }], spec, { device: 'cpu', topK: 1 });
			const top = (alone as { labels: Array<{ label: string; score: number }> }).labels[0];
			expect(w.label).toBe(top.label);
			worst = Math.max(worst, Math.abs(w.score - top.score));
		}
		console.log(`listen-clap: ${full.length} windows, top label and score as Classify with Your Own Labels (max |score difference| ${worst.toExponential(1)}); events: ${events.join(', ') || 'none'}`);
		expect(worst).toBeLessThan(1e-4);
		// Events carry the user's labels; "background noise" never fires.
		for (const label of events) expect(LABELS.slice(0, 3)).toContain(label);
	}, 60_000);
});
