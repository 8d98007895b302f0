/**
 * The Audio Event Trigger in a real n8n (`n8n start`, the workflow published so
 * it is active from start-up): examples/stream-commands-to-actions.json listens
 * to a loopback Icecast-style MP3 stream of known commands over noise, played
 * at real time, which drops once, answers 503 twice and stalls once. Each
 * execution writes the event's clip (label and wall-clock start in its name).
 * Measured: precision and recall, both edges within 0.25 s, and the latency
 * from a word's end leaving the server to its execution writing its file.
 * TRIGGER_E2E_DUMP=<file.json> writes the events, connections and n8n's log, for diagnosis.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { resolveBuiltIn } from '../../src/model/catalog';
import { loadModelSpec } from '../../src/model/spec';
import { LIVE_HEAD_BYTES, openLiveResampled } from '../../src/audio/decoders/live';
import { withClassifier } from '../../src/tasks/classifier';
import { createDetector, defaultIgnored } from '../../src/tasks/detect-events';
import type { DetectedEvent } from '../../src/tasks/types';
import { Slicer } from '../../src/util/slicer';
import { startStreamServer, type StreamServer } from '../helpers/stream-server';
import { checkTriggerTestEventInEditor } from './editor';
import { type N8nInstance, prepareN8n } from './n8n-instance';

const { makeRecording } = require('../../scripts/events/make-recording.js') as {
	makeRecording: (o?: { seed?: number }) => { wav: Buffer; truth: Array<{ label: string; start: number; end: number; distractor: boolean }>; duration: number };
};

const rec = makeRecording({ seed: 3 });
const commands = rec.truth.filter((t) => !t.distractor);
// The trigger's default cooldown (3 s) drops a word that starts within 3 s of the end of the same word before it.
const expected = commands.filter((t, i) => !commands.slice(0, i).some((p) => p.label === t.label && t.start < p.end + 3));

let n8n: N8nInstance;
let stream: StreamServer;
let child: ChildProcess | undefined;
let mp3: Buffer;
/** How often the engine itself hears each expected command in this MP3, over the alignments of its windows (below). */
let offline: { counts: number[]; tries: number };

/** Where the stream breaks (seconds of the recording): a drop, then a stall; cut in the pauses between words. */
const CUTS = [12.4, 21.0];
/** The byte of the MP3 holding `seconds` of the recording. */
const byteAt = (seconds: number) => Math.round((seconds / rec.duration) * mp3.length);

/** One connection's bytes decoded as the trigger decodes them (src/tasks/listen.ts: a fresh decoder per connection). */
async function decodeLikeTheTrigger(bytes: Buffer, rate: number): Promise<Float32Array> {
	const parts: Float32Array[] = [];
	const head = bytes.subarray(0, LIVE_HEAD_BYTES);
	const decoder = await openLiveResampled(head, rate, new Slicer(), async (block) => void parts.push(block));
	await decoder.push(head);
	for (let i = head.length; i < bytes.length; i += 800) await decoder.push(bytes.subarray(i, i + 800));
	await decoder.close();
	const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
	parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
	return out;
}

/**
 * What the detector can be expected to hear, measured outside n8n with the trigger's own decoder
 * and detector and its settings, on the same bytes, the stream cut where the test cuts it. A
 * reconnect puts a gap as long as the stream was away (wall clock) on the detector's clock, and
 * the next window starts on the hop grid after it, so where the windows fall on the words after a
 * reconnect varies from run to run by up to a hop (0.25 s). A word the built-in model scores near
 * the threshold (0.85) is heard at some alignments and not at others: that is the model, not the
 * trigger. So the words heard at all sixteen alignments tried (sixteenths of a hop, each segment
 * its own) are the ones the trigger in n8n must hear; the others are reported, not required.
 */
async function heardAtEveryAlignment(segments: Buffer[]): Promise<{ counts: number[]; tries: number }> {
	const { dir, model } = resolveBuiltIn('speech-commands-dscnn');
	const spec = loadModelSpec(dir, 'auto', model.id);
	const rate = spec.samplingRate;
	const decoded = await Promise.all(segments.map((b) => decodeLikeTheTrigger(b, rate)));
	const hop = 0.25; // the trigger's default: a quarter of the 1 s window
	const tries = 16;
	const counts = expected.map(() => 0);
	await withClassifier(spec, { device: 'cpu' }, async (classifier) => {
		for (let k = 0; k < tries; k++) {
			const detector = createDetector(classifier, { threshold: 0.85, ignoreLabels: defaultIgnored(spec), batchSize: 1, cooldown: 3 });
			const events: DetectedEvent[] = [];
			// Where each segment starts on the detector's clock (in the recording: at 0, then at the cuts).
			const at: number[] = [];
			for (let s = 0; s < decoded.length; s++) {
				if (s > 0) {
					// About 2 s away, so that the segment starts k (after the first gap) or 3k (after the
					// second) sixteenths of a hop after a window: every alignment once for each segment.
					const phase = (((s === 1 ? k : 3 * k) % tries) * hop) / tries;
					const away = 2 + ((((phase - detector.duration - 2) % hop) + hop) % hop);
					events.push(...(await detector.gap(away)));
				}
				at.push(detector.duration);
				for (let i = 0; i < decoded[s].length; i += 1600) events.push(...(await detector.push(decoded[s].subarray(i, i + 1600))));
			}
			events.push(...(await detector.end()));
			expected.forEach((t, i) => {
				const s = CUTS.filter((c) => t.start >= c).length;
				const shift = at[s] - [0, ...CUTS][s];
				if (events.some((e) => e.label === t.label && e.start - shift < t.end && e.end - shift > t.start)) counts[i]++;
			});
		}
	});
	return { counts, tries };
}

beforeAll(async () => {
	const dir = mkdtempSync(path.join(tmpdir(), 'trigger-e2e-'));
	writeFileSync(path.join(dir, 'in.wav'), rec.wav);
	execFileSync('/usr/bin/ffmpeg', ['-v', 'error', '-i', path.join(dir, 'in.wav'), '-c:a', 'libmp3lame', '-b:a', '64k', '-f', 'mp3', path.join(dir, 'out.mp3')]);
	mp3 = readFileSync(path.join(dir, 'out.mp3'));
	rmSync(dir, { recursive: true, force: true });
	const cut = [0, ...CUTS.map(byteAt), mp3.length];
	offline = await heardAtEveryAlignment(cut.slice(1).map((end, i) => mp3.subarray(cut[i], end)));
	stream = await startStreamServer({ body: mp3, contentType: 'audio/mpeg', bytesPerSecond: 8000, path: '/live.mp3' });
	n8n = prepareN8n();
});

// A test that fails before it stops its n8n must not leave it holding the ports the next one needs.
afterEach(async () => {
	if (child && child.exitCode === null && child.signalCode === null) {
		const exited = new Promise((r) => child!.once('exit', r));
		child.kill('SIGKILL');
		await exited;
	}
	child = undefined;
});

afterAll(async () => {
	child?.kill('SIGKILL');
	await stream?.close();
	n8n?.cleanup();
});

it('example 6: stream -> Audio Event Trigger -> Switch -> actions, through a drop, two 503s and a stall', async () => {
	// Cut in the pauses between words: a drop at 12.4 s, a stall at 21.0 s.
	const [dropAt, stallAt] = CUTS.map(byteAt);
	stream.plan = [{ from: 0, dropAt }, { status: 503 }, { status: 503 }, { from: dropAt, stallAt }, { from: stallAt }];
	stream.fallback = { status: 503 }; // after the recording: down
	n8n.importExample('stream-commands-to-actions.json', 'exampleStream001', (wf) => {
		const trigger = (wf.nodes as Array<{ type: string; parameters: Record<string, unknown> }>).find((n) => n.type.endsWith('audioEventTrigger'))!;
		trigger.parameters.url = stream.url;
		trigger.parameters.options = { stallTimeout: 3 };
	});
	n8n.n8n(['publish:workflow', '--id=exampleStream001']);
	child = await n8n.start(5689);
	let log = '';
	child.stdout?.on('data', (c: Buffer) => (log += c.toString()));
	child.stderr?.on('data', (c: Buffer) => (log += c.toString()));
	// Every connection of the plan, then the stream's end, then a few seconds for the last executions.
	const deadline = Date.now() + 180_000;
	while (Date.now() < deadline && (stream.plan.length > 0 || stream.open() > 0)) await new Promise((r) => setTimeout(r, 250));
	await new Promise((r) => setTimeout(r, 5000));

	/** When the byte holding `seconds` of the recording left the server (ms). */
	const sentAt = (seconds: number) => {
		const b = byteAt(seconds);
		const c = [...stream.served].reverse().find((s) => s.from <= b)!;
		return c.at + ((b - c.from) / c.rate) * 1000;
	};
	const files = readdirSync(n8n.outDir).filter((f) => f.endsWith('.wav'));
	const events = files.map((f) => {
		const m = /^([a-z_]+)_(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z)_([\d.]+)s\.wav$/.exec(f);
		expect(m).not.toBeNull();
		const started = Date.parse(m![2].replace(/T(\d\d)-(\d\d)-(\d\d)/, 'T$1:$2:$3'));
		return { label: m![1], started, ended: started + Number(m![3]) * 1000, written: statSync(path.join(n8n.outDir, f)).mtimeMs };
	});
	if (process.env.TRIGGER_E2E_DUMP) {
		writeFileSync(process.env.TRIGGER_E2E_DUMP, JSON.stringify({ events, served: stream.served, commands, expected: expected.map((t) => [t.label, sentAt(t.start), sentAt(t.end)]), bytes: mp3.length, duration: rec.duration, log }, null, 1));
	}
	const overlaps = (e: (typeof events)[0], t: (typeof commands)[0]) => e.label === t.label && e.started < sentAt(t.end) && e.ended > sentAt(t.start);
	const precision = events.filter((e) => commands.some((t) => overlaps(e, t))).length / events.length;
	const found = expected.map((t) => ({ t, e: events.find((e) => overlaps(e, t)) })).filter((x) => x.e);
	const recall = found.length / expected.length;
	const edges = found.filter(({ t, e }) => Math.abs(e!.started - sentAt(t.start)) <= 250 && Math.abs(e!.ended - sentAt(t.end)) <= 250);
	// Latency where the stream went on after the word: an execution needs the clip's 0.5 s after it
	// and the detector a window past it (1.5 s in all here); a word the stream broke off after
	// waits for the reconnect (reported apart).
	const steady = (t: (typeof commands)[0]) => !CUTS.some((cut) => t.end <= cut && t.end + 1.5 > cut);
	const latency = ({ t, e }: (typeof found)[0]) => e!.written - sentAt(t.end);
	const latencies = found.filter(({ t }) => steady(t)).map(latency).sort((a, b) => a - b);
	const broken = found.filter(({ t }) => !steady(t)).map((x) => `${x.t.label} at ${x.t.end} s: ${latency(x).toFixed(0)} ms`);
	const sure = expected.filter((_, i) => offline.counts[i] === offline.tries);
	const sometimes = expected.map((t, i) => (offline.counts[i] < offline.tries ? `${t.label} at ${t.start} s ${offline.counts[i]}/${offline.tries}` : '')).filter(Boolean);
	const p90 = latencies[Math.min(latencies.length - 1, Math.ceil(latencies.length * 0.9) - 1)];
	console.log(
		`trigger e2e: ${events.length} executions for ${expected.length} commands; precision ${precision.toFixed(2)}, recall ${recall.toFixed(2)}, ` +
			`${edges.length}/${found.length} with both edges within 0.25 s; latency word end -> clip written: median ${latencies[latencies.length >> 1].toFixed(0)} ms, ` +
			`p90 ${p90.toFixed(0)} ms, max ${latencies[latencies.length - 1].toFixed(0)} ms (${latencies.length} words); words the stream broke off after: ${broken.join(', ') || 'none'}; ` +
			`connections ${stream.requests.length}; heard outside n8n at every window alignment: ${sure.length}/${expected.length}` +
			(sometimes.length ? ` (at some: ${sometimes.join(', ')})` : ''),
	);
	expect(stream.served).toHaveLength(3); // the three that carried audio, the two 503s between
	expect(precision).toBeGreaterThanOrEqual(0.9);
	// Every word the engine hears at every alignment of its windows (heardAtEveryAlignment) is
	// heard here, through the drop, the 503s and the stall; and the engine must hear most of them
	// (v7 at 0.85: 12 of these 15 at every alignment; "left" at 15.7 s at none, "right" at 23.6 s and
	// "down" at 32.0 s at some), or this would test little.
	const missed = sure.filter((t) => !found.some((f) => f.t === t)).map((t) => `${t.label} at ${t.start} s`);
	expect(missed).toEqual([]);
	expect(sure.length).toBeGreaterThanOrEqual(12);
	expect(edges.length / found.length).toBeGreaterThanOrEqual(0.9);
	// The target (p90 <= 1.5 s) is read from the line above (README: measured figures); the
	// assertion guards the mechanism with margin for a busy CI machine: an execution must not
	// wait for more than its clip and a window (a regression that held events back would).
	expect(p90).toBeLessThanOrEqual(3000);
	expect(log).toMatch(/Audio Event Trigger: listening to http:\/\/127\.0\.0\.1:\d+\/live\.mp3 \(mp3/);
	expect(log).toMatch(/disconnected/);

	// Stopping n8n closes the stream's connection.
	child.kill('SIGTERM');
	await new Promise((r) => child!.once('exit', r));
	child = undefined;
	expect(stream.open()).toBe(0);
}, 400_000);

it('the editor: Listen for test event shows the first command heard in the stream (docs/editor-trigger-test-event.png)', async () => {
	await stream.close();
	stream = await startStreamServer({ body: mp3, contentType: 'audio/mpeg', bytesPerSecond: 8000, path: '/live.mp3' });
	// the same example, not published: only the editor's test listens
	n8n.importExample('stream-commands-to-actions.json', 'exampleStream002', (wf) => {
		const trigger = (wf.nodes as Array<{ type: string; parameters: Record<string, unknown> }>).find((n) => n.type.endsWith('audioEventTrigger'))!;
		trigger.parameters.url = stream.url;
	});
	child = await n8n.start(5690);
	const shown = await checkTriggerTestEventInEditor('http://127.0.0.1:5690', 'exampleStream002');
	// the recording's first command is "up" (1.33-1.60 s)
	for (const field of ['label', 'up', 'score', 'meanScore', 'startedAt', 'streamOffset', 'source', '127.0.0.1', 'speech-commands-dscnn']) expect(shown).toContain(field);
	// the test event was the only listening: once it came, the stream's connection closed
	const deadline = Date.now() + 5000;
	while (Date.now() < deadline && stream.open() > 0) await new Promise((r) => setTimeout(r, 100));
	expect(stream.open()).toBe(0);
	child.kill('SIGTERM');
	await new Promise((r) => child!.once('exit', r));
	child = undefined;
}, 300_000);
