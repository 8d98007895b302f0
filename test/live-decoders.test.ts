/**
 * Live decoders (src/audio/decoders/live.ts): a stream's bytes in chunks of
 * any size give the samples the file decoders give for the whole file; junk
 * mid-stream is skipped; and the chain the Audio Event Trigger runs
 * (live decoder -> streaming resampler -> streaming detector, built-in model)
 * finds the spoken commands of a stream at their times.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { decodeAudio } from '../src/audio/decode';
import { openLiveDecoder, sniffLive } from '../src/audio/decoders/live';
import { StreamingResampler } from '../src/audio/resample';
import { sessionCache } from '../src/inference/session-cache';
import { resolveBuiltIn } from '../src/model/catalog';
import { loadModelSpec } from '../src/model/spec';
import { withClassifier } from '../src/tasks/classifier';
import { createDetector } from '../src/tasks/detect-events';
import type { DetectedEvent } from '../src/tasks/types';
import { Slicer } from '../src/util/slicer';
import { describeWithFfmpeg, systemFfmpeg } from './helpers/fixtures';

const { makeRecording } = require('../scripts/events/make-recording.js') as {
	makeRecording: (o?: { seed?: number }) => { wav: Buffer; truth: Array<{ label: string; start: number; end: number; distractor: boolean }>; duration: number };
};

const FORMATS: Array<[string, string[], string, number]> = [
	['MP3 (Icecast)', ['-c:a', 'libmp3lame', '-b:a', '64k', '-f', 'mp3'], 'mp3', 16000],
	['ADTS AAC', ['-c:a', 'aac', '-b:a', '48k', '-f', 'adts'], 'adts', 16000],
	['Ogg Opus', ['-c:a', 'libopus', '-b:a', '24k', '-f', 'ogg'], 'ogg-opus', 48000],
	['Ogg Vorbis', ['-c:a', 'libvorbis', '-q:a', '2', '-f', 'ogg'], 'ogg-vorbis', 16000],
	['FLAC', ['-c:a', 'flac', '-f', 'flac'], 'flac', 16000],
	['WAV (stereo, 24-bit)', ['-ac', '2', '-c:a', 'pcm_s24le', '-f', 'wav'], 'wav', 16000],
];

let dir: string;
const rec = makeRecording({ seed: 3 });
const encoded = new Map<string, Buffer>();

beforeAll(() => {
	dir = mkdtempSync(path.join(tmpdir(), 'live-dec-'));
	if (!systemFfmpeg) return;
	writeFileSync(path.join(dir, 'in.wav'), rec.wav);
	for (const [, args, kind] of FORMATS) {
		const out = path.join(dir, `out.${kind}`);
		execFileSync(systemFfmpeg, ['-v', 'error', '-i', path.join(dir, 'in.wav'), ...args, out]);
		encoded.set(kind, readFileSync(out));
	}
});
afterAll(async () => {
	rmSync(dir, { recursive: true, force: true });
	await sessionCache.clear();
});

function* chunks(bytes: Buffer, seed: number): Generator<Buffer> {
	let x = seed;
	for (let at = 0; at < bytes.length; ) {
		x = (x * 1103515245 + 12345) & 0x7fffffff;
		const n = 1 + (x % 5000);
		yield bytes.subarray(at, Math.min(bytes.length, at + n));
		at += n;
	}
}

async function decodeLive(bytes: Buffer, seed = 1): Promise<{ samples: Float32Array; rate: number; name: string }> {
	const parts: Float32Array[] = [];
	let rate = 0;
	const decoder = await openLiveDecoder(bytes.subarray(0, 4096), async (mono, r) => {
		rate = r;
		parts.push(mono.slice());
	});
	for (const c of chunks(bytes, seed)) await decoder.push(c);
	await decoder.close();
	const samples = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
	parts.reduce((at, p) => (samples.set(p, at), at + p.length), 0);
	return { samples, rate, name: decoder.name };
}

describeWithFfmpeg('live decoders', () => {
	it.each(FORMATS)('%s in chunks of 1-5,000 bytes: the samples of the whole file', async (_name, _args, kind, rate) => {
		const bytes = encoded.get(kind)!;
		expect(sniffLive(bytes.subarray(0, 4096))).toBe(kind);
		const live = await decodeLive(bytes);
		const file = await decodeAudio(bytes, { samplingRate: rate, decoder: 'builtIn' });
		expect(live.rate).toBe(rate);
		// The file decoder trims Opus to its last granule position; a live stream has no end to trim.
		const n = Math.min(live.samples.length, file.samples.length);
		expect(Math.abs(live.samples.length - file.samples.length)).toBeLessThanOrEqual(kind === 'ogg-opus' ? 960 : 2048);
		let worst = 0;
		for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(live.samples[i] - file.samples[i]));
		console.log(`live-decoders: ${_name} by ${live.name}: ${n} samples, max |difference| from the file decoder ${worst.toExponential(1)}`);
		expect(worst).toBeLessThanOrEqual(1e-6);
	});

	it.each(FORMATS)('%s with 3 KB of junk mid-stream (a broken relay): decoding goes on after it', async (_name, _args, kind) => {
		const bytes = encoded.get(kind)!;
		const mid = Math.floor(bytes.length / 2);
		let x = 99;
		const junk = Buffer.from(Array.from({ length: 3000 }, () => ((x = (x * 1103515245 + 12345) & 0x7fffffff), x & 0xff)));
		const damaged = Buffer.concat([bytes.subarray(0, mid), junk, bytes.subarray(mid)]);
		const live = await decodeLive(damaged, 5);
		const clean = await decodeLive(bytes, 5);
		// At most a few frames around the junk are lost (and mpg123 may decode a little of it).
		expect(live.samples.length / clean.samples.length).toBeGreaterThan(0.93);
		expect(live.samples.length / clean.samples.length).toBeLessThan(1.07);
	});

	it('bytes that are no live audio format are refused with what to do', async () => {
		const html = Buffer.from('<!doctype html><html><body>Listen live!</body></html>'.repeat(100));
		const error = await openLiveDecoder(html, async () => undefined).catch((e) => e);
		expect(error.message).toMatch(/not audio this can decode live/);
		expect(error.hint).toMatch(/not a web page.*HLS source/);
	});

	it.each(FORMATS)('%s stream -> resampler -> detector (built-in model): the spoken commands, at their times', async (_name, _args, kind) => {
		const bytes = encoded.get(kind)!;
		const { dir: modelDir, model } = resolveBuiltIn('speech-commands-dscnn');
		const spec = loadModelSpec(modelDir, 'auto', model.id);
		const events: DetectedEvent[] = [];
		await withClassifier(spec, { device: 'cpu' }, async (classifier) => {
			const detector = createDetector(classifier, { batchSize: 1 });
			let resampler: StreamingResampler | undefined;
			const decoder = await openLiveDecoder(bytes.subarray(0, 4096), async (mono, rate) => {
				resampler ??= await StreamingResampler.create(rate, 16000, new Slicer());
				events.push(...(await detector.push(resampler.push(mono))));
			});
			for (const c of chunks(bytes, 3)) await decoder.push(c);
			await decoder.close();
			if (resampler) events.push(...(await detector.push(resampler.flush())));
			events.push(...(await detector.end()));
		});
		const commands = rec.truth.filter((t) => !t.distractor);
		const matched = commands.filter((t) => events.some((e) => e.label === t.label && Math.abs(e.start - t.start) <= 0.25 && Math.abs(e.end - t.end) <= 0.25));
		const precision = events.filter((e) => commands.some((t) => t.label === e.label && e.start < t.end && e.end > t.start)).length / Math.max(1, events.length);
		console.log(`live-decoders: ${_name} through the detector: ${events.length} events, precision ${precision.toFixed(2)}, ${matched.length}/${commands.length} commands with both edges within 0.25 s`);
		expect(precision).toBeGreaterThanOrEqual(0.9);
		expect(matched.length / commands.length).toBeGreaterThanOrEqual(0.85);
	}, 60_000);
});
