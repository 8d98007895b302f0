/**
 * The Audio Event Trigger node (nodes/AudioEventTrigger) on the built-in model,
 * against a loopback Icecast-style stream: active, each spoken command starts
 * one execution (item fields, WAV clip); deactivated, the connection closes
 * within a second; "Listen for test event" returns the first event, or after
 * its timeout says what was heard; 401 surfaces through emitError without the
 * credential; Labels to Watch and Model Folder are checked at activation.
 * n8n's trigger context is a small stand-in here (the real n8n runs the same
 * node in test/e2e/trigger.e2e.ts); the model, decoders and stream are real.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';

import type { IBinaryData, INodeExecutionData, ITriggerFunctions, ITriggerResponse } from 'n8n-workflow';

import { AudioEventTrigger, whatWasHeard } from '../nodes/AudioEventTrigger/AudioEventTrigger.node';
import { blockedByInstanceSettings } from '../nodes/AudioClassification/helpers/fileAccess';
import { decodeAudio } from '../src/audio/decode';
import { sessionCache } from '../src/inference/session-cache';
import { resolveBuiltIn } from '../src/model/catalog';
import { loadModelSpec } from '../src/model/spec';
import { classifyAudio } from '../src/pipeline';
import { describeWithFfmpeg, systemFfmpeg } from './helpers/fixtures';
import { startStreamServer, type StreamServer } from './helpers/stream-server';

const { makeRecording } = require('../scripts/events/make-recording.js') as {
	makeRecording: (o?: { seed?: number }) => { wav: Buffer; truth: Array<{ label: string; start: number; end: number; distractor: boolean }>; duration: number };
};

const rec = makeRecording({ seed: 3 });
const commands = rec.truth.filter((t) => !t.distractor);
/**
 * The commands an execution is expected for, with the trigger's default 3 s cooldown: a word
 * starting within 3 s of the end of the same word before it is the cooldown's to drop (here
 * the second "down", 1.7 s after the first).
 */
const expected = commands.filter((t, i) => !commands.slice(0, i).some((p) => p.label === t.label && t.start < p.end + 3));

function toMp3(wav: Buffer): Buffer {
	const dir = mkdtempSync(path.join(tmpdir(), 'trigger-'));
	try {
		writeFileSync(path.join(dir, 'in.wav'), wav);
		execFileSync(systemFfmpeg!, ['-v', 'error', '-i', path.join(dir, 'in.wav'), '-c:a', 'libmp3lame', '-b:a', '64k', '-f', 'mp3', path.join(dir, 'out.mp3')]);
		return readFileSync(path.join(dir, 'out.mp3'));
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

/** 16-bit mono WAV of quiet noise (no speech). */
function noiseWav(seconds: number): Buffer {
	const n = seconds * 16000;
	const out = Buffer.alloc(44 + 2 * n);
	out.write('RIFF', 0, 'ascii');
	out.writeUInt32LE(36 + 2 * n, 4);
	out.write('WAVEfmt ', 8, 'ascii');
	out.writeUInt32LE(16, 16);
	out.writeUInt16LE(1, 20);
	out.writeUInt16LE(1, 22);
	out.writeUInt32LE(16000, 24);
	out.writeUInt32LE(32000, 28);
	out.writeUInt16LE(2, 32);
	out.writeUInt16LE(16, 34);
	out.write('data', 36, 'ascii');
	out.writeUInt32LE(2 * n, 40);
	let seed = 5;
	for (let i = 0; i < n; i++) {
		seed = (seed * 1103515245 + 12345) & 0x7fffffff;
		out.writeInt16LE(Math.round(((seed / 0x7fffffff) * 2 - 1) * 60), 44 + 2 * i);
	}
	return out;
}

interface Harness {
	ctx: ITriggerFunctions;
	emitted: INodeExecutionData[][][];
	errors: Error[];
	logs: string[];
}

/** A stand-in for n8n's TriggerContext: parameters, credentials, emit/emitError, prepareBinaryData, logger. */
function triggerContext(parameters: Record<string, unknown>, o: { mode?: 'trigger' | 'manual'; credentials?: Record<string, object> } = {}): Harness {
	const h: Harness = { emitted: [], errors: [], logs: [], ctx: undefined as unknown as ITriggerFunctions };
	const log = (level: string) => (message: string) => h.logs.push(`${level}: ${message}`);
	h.ctx = {
		getNode: () => ({ id: '1', name: 'Audio Event Trigger', type: 'n8n-nodes-audio-classification.audioEventTrigger', typeVersion: 1, position: [0, 0], parameters: parameters as never }),
		getMode: () => o.mode ?? 'trigger',
		getActivationMode: () => 'activate',
		getNodeParameter: (name: string, fallback?: unknown, options?: { extractValue?: boolean }) => {
			const value = name in parameters ? parameters[name] : fallback;
			return options?.extractValue && value && typeof value === 'object' ? (value as { value: unknown }).value : value;
		},
		getCredentials: async (type: string) => {
			if (!o.credentials?.[type]) throw new Error(`no credential ${type}`);
			return o.credentials[type];
		},
		emit: (data: INodeExecutionData[][]) => h.emitted.push(data),
		emitError: (error: Error) => h.errors.push(error),
		helpers: {
			prepareBinaryData: async (data: Buffer, fileName?: string, mimeType?: string): Promise<IBinaryData> => ({
				data: data.toString('base64'),
				fileName,
				mimeType: mimeType ?? 'application/octet-stream',
				fileSize: String(data.length),
			}),
		},
		logger: { info: log('info'), warn: log('warn'), debug: log('debug'), error: log('error') },
	} as unknown as ITriggerFunctions;
	return h;
}

const until = async (what: () => boolean, ms: number) => {
	const t = Date.now();
	while (!what() && Date.now() - t < ms) await new Promise((r) => setTimeout(r, 20));
	return what();
};

// How long a closed connection may take to be released on a loaded machine. What is asserted is
// that it is released; how long deactivation took is only logged ("closed in ... ms").
const CLOSE_DEADLINE_MS = 10_000;

const tcpHandles = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

let mp3: Buffer = Buffer.alloc(0);
let server: StreamServer;

beforeAll(async () => {
	if (!systemFfmpeg) return;
	mp3 = toMp3(rec.wav);
	server = await startStreamServer({ body: mp3, contentType: 'audio/mpeg', bytesPerSecond: 8000, path: '/live.mp3' });
});
afterAll(async () => {
	await server?.close();
	await sessionCache.clear();
});

describeWithFfmpeg('Audio Event Trigger', () => {
	it('active: every spoken command starts one execution with its times, source, model and WAV clip; deactivating closes the connection and leaves no socket open', async () => {
		server.speed = 8;
		server.plan = [{}];
		server.fallback = { status: 503 }; // after the recording: down, so no word is heard twice
		server.requests.length = 0;
		const sockets = tcpHandles();
		const h = triggerContext({ url: server.url });
		const response = (await new AudioEventTrigger().trigger.call(h.ctx)) as ITriggerResponse;
		expect(response.manualTriggerFunction).toBeUndefined();
		expect(await until(() => server.requests.length >= 2, 30_000)).toBe(true); // the stream ended once
		const t = Date.now();
		await response.closeFunction!();
		const closedIn = Date.now() - t;
		// The mechanism, not a time: every socket is released. The wait is a deadline for the event
		// loop to run the close callbacks (one CI run under load needed more than a fixed 1 s).
		await until(() => server.open() === 0 && tcpHandles() <= sockets, CLOSE_DEADLINE_MS);
		expect(server.open()).toBe(0);
		expect(tcpHandles()).toBeLessThanOrEqual(sockets);
		const items = h.emitted.map((run) => {
			expect(run).toHaveLength(1);
			expect(run[0]).toHaveLength(1); // one execution, one item, per event
			return run[0][0];
		});
		const events = items.map((i) => i.json as { label: string; streamOffset: number; duration: number; score: number });
		const overlaps = (e: (typeof events)[0], t: (typeof commands)[0]) => e.label === t.label && e.streamOffset < t.end && e.streamOffset + e.duration > t.start;
		const precision = events.filter((e) => commands.some((t) => overlaps(e, t))).length / events.length;
		const recall = expected.filter((t) => events.some((e) => overlaps(e, t))).length / expected.length;
		const edges = expected.filter((t) => events.some((e) => e.label === t.label && Math.abs(e.streamOffset - t.start) <= 0.25 && Math.abs(e.streamOffset + e.duration - t.end) <= 0.25));
		console.log(
			`trigger: ${events.length} executions for ${expected.length} commands (${commands.length} less the cooldown's), precision ${precision.toFixed(2)}, recall ${recall.toFixed(2)}, ` +
				`${edges.length} with both edges within 0.25 s; closed in ${closedIn} ms; missed: ` +
				(expected
					.filter((t) => !events.some((e) => overlaps(e, t)))
					.map((t) => `${t.label} at ${t.start.toFixed(1)} s`)
					.join(', ') || 'none'),
		);
		expect(precision).toBeGreaterThanOrEqual(0.9);
		// At the default threshold (0.85) the built-in model (v7) recalls 86.5% of held-out commands
		// (its card); here it hears 13 of these 15 (v3.1: 14): the two it misses are the committed clips
		// it scores lowest on their own ("left" 0.83, "right" 0.88). So at most two misses.
		expect(recall).toBeGreaterThanOrEqual(0.85);
		expect(h.errors).toEqual([]);
		for (const item of items) {
			expect(Object.keys(item.json).sort()).toEqual(['duration', 'endedAt', 'label', 'meanScore', 'model', 'score', 'source', 'startedAt', 'streamOffset'].sort());
			expect(item.json.source).toBe(server.url);
			expect(item.json.model).toBe('speech-commands-dscnn');
			expect(item.json.score as number).toBeGreaterThanOrEqual(0.85);
			expect(Date.parse(item.json.endedAt as string)).toBeGreaterThan(Date.parse(item.json.startedAt as string));
			const clip = Buffer.from(item.binary!.data.data, 'base64');
			expect(item.binary!.data.mimeType).toBe('audio/wav');
			expect(item.binary!.data.fileName).toMatch(/^[a-z_]+-\d{4}-\d\d-\d\dT[\d-]+Z\.wav$/);
			expect(clip.toString('latin1', 0, 4)).toBe('RIFF');
			// The event and 1 s either side (less at the stream's very start).
			expect((clip.length - 44) / 32000).toBeGreaterThan((item.json.duration as number) + 1);
		}
		expect(h.logs.some((l) => l.startsWith('info: Audio Event Trigger: listening to') && l.includes('mp3'))).toBe(true);
	}, 60_000);

	it('Labels to Watch: only those labels start executions', async () => {
		server.speed = 8;
		server.plan = [{}];
		server.fallback = { status: 503 };
		server.requests.length = 0;
		const watched = commands[0].label;
		const h = triggerContext({ url: server.url, labels: ` ${watched.toUpperCase()} ` });
		const response = (await new AudioEventTrigger().trigger.call(h.ctx)) as ITriggerResponse;
		await until(() => server.requests.length >= 2, 30_000);
		await response.closeFunction!();
		const labels = h.emitted.map((run) => run[0][0].json.label);
		expect(labels.length).toBeGreaterThanOrEqual(commands.filter((t) => t.label === watched).length - 1);
		expect(new Set(labels)).toEqual(new Set([watched]));
	}, 60_000);

	it('Listen for test event: the first event is returned and listening stops by itself', async () => {
		server.speed = 4;
		server.plan = [];
		server.fallback = {};
		server.requests.length = 0;
		const h = triggerContext({ url: server.url }, { mode: 'manual' });
		const response = (await new AudioEventTrigger().trigger.call(h.ctx)) as ITriggerResponse;
		expect(server.requests).toHaveLength(0); // nothing is opened until the test starts
		await response.manualTriggerFunction!();
		expect(await until(() => h.emitted.length > 0, 30_000)).toBe(true);
		expect(await until(() => server.open() === 0, CLOSE_DEADLINE_MS)).toBe(true);
		await new Promise((r) => setTimeout(r, 500));
		expect(h.emitted).toHaveLength(1);
		expect(h.errors).toEqual([]);
		await response.closeFunction!();
	}, 60_000);

	it('Clip Format Ogg Opus: the clip is a voice-message Ogg Opus that classifies as the event it holds', async () => {
		server.speed = 4;
		server.plan = [];
		server.fallback = {};
		const h = triggerContext({ url: server.url, options: { clipFormat: 'ogg-opus', clipBefore: 0.3, clipAfter: 0.3 } }, { mode: 'manual' });
		const response = (await new AudioEventTrigger().trigger.call(h.ctx)) as ITriggerResponse;
		await response.manualTriggerFunction!();
		await until(() => h.emitted.length > 0 || h.errors.length > 0, 30_000);
		await response.closeFunction!();
		expect(h.errors).toEqual([]);
		const item = h.emitted[0][0][0];
		const json = item.json as { label: string; duration: number };
		const binary = item.binary!.data;
		expect(binary.mimeType).toBe('audio/ogg');
		expect(binary.fileName).toMatch(new RegExp(`^${json.label}-.*\\.ogg$`));
		const ogg = Buffer.from(binary.data, 'base64');
		expect(ogg.toString('latin1', 0, 4)).toBe('OggS');
		// Decoded by the package's own Opus decoder: the clip's length, and the model hears the same command in it.
		const decoded = await decodeAudio(ogg, { samplingRate: 16000 });
		expect(decoded.samples.length / 16000).toBeCloseTo(json.duration + 0.6, 1);
		const { dir, model } = resolveBuiltIn('speech-commands-dscnn');
		const result = await classifyAudio(ogg, loadModelSpec(dir, 'auto', model.id), { device: 'cpu', topK: 1, functionToApply: 'softmax' });
		console.log(`trigger: Ogg Opus clip of "${json.label}", ${ogg.length} bytes for ${(decoded.samples.length / 16000).toFixed(2)} s; classified as ${result.labels[0].label} (${result.labels[0].score.toFixed(2)})`);
		expect(result.labels[0].label).toBe(json.label);
	}, 60_000);

	it('Listen for test event: after its timeout, the error says what was heard meanwhile', async () => {
		const quiet = await startStreamServer({ body: toMp3(noiseWav(20)), contentType: 'audio/mpeg', bytesPerSecond: 8000, speed: 1 });
		try {
			const h = triggerContext({ url: quiet.url, options: { testTimeout: 3 } }, { mode: 'manual' });
			const response = (await new AudioEventTrigger().trigger.call(h.ctx)) as ITriggerResponse;
			await response.manualTriggerFunction!();
			expect(await until(() => h.errors.length > 0, 10_000)).toBe(true);
			const error = h.errors[0] as Error & { description?: string };
			expect(error.message).toBe('No event was heard in 3 s');
			expect(error.description).toMatch(/^Heard in the last \d+ windows: _silence_ \(\d+ of \d+ windows, best score 0\.\d\d\)/);
			expect(error.description).toMatch(/lower the Threshold/);
			expect(await until(() => quiet.open() === 0, CLOSE_DEADLINE_MS)).toBe(true);
			expect(h.emitted).toHaveLength(0);
			await response.closeFunction!();
		} finally {
			await quiet.close();
		}
	}, 30_000);

	it('Basic Auth goes to the stream as a header; a 401 surfaces through emitError, without the credential or a query token', async () => {
		server.plan = [];
		server.fallback = { status: 401 };
		server.requests.length = 0;
		const password = 'pa55-w0rd-secret';
		// A token in the query, as stream servers often take one, is not shown either.
		const h = triggerContext({ url: `${server.url}?token=${password}-q`, authentication: 'basicAuth' }, { credentials: { httpBasicAuth: { user: 'radio', password } } });
		const response = (await new AudioEventTrigger().trigger.call(h.ctx)) as ITriggerResponse;
		expect(await until(() => h.errors.length > 0, 20_000)).toBe(true);
		await response.closeFunction!();
		expect(server.requests.length).toBeGreaterThanOrEqual(3); // a few tries, then it gives up
		expect(server.requests[0].authorization).toBe(`Basic ${Buffer.from(`radio:${password}`).toString('base64')}`);
		const error = h.errors[0] as Error & { description?: string };
		expect(error.message).toMatch(/401/);
		expect(error.message).toContain('?token=***');
		const said = JSON.stringify([error.message, error.description, h.logs]);
		expect(said).not.toContain(password);
		expect(said).not.toContain(Buffer.from(`radio:${password}`).toString('base64'));
		server.fallback = {};
	}, 30_000);
});

describe('Audio Event Trigger: checked at activation', () => {
	it('a label the model does not have is refused with the labels it has', async () => {
		const h = triggerContext({ url: 'http://127.0.0.1:9/live', labels: 'stop, stpo' });
		const error = await new AudioEventTrigger().trigger.call(h.ctx).catch((e: Error) => e);
		expect((error as Error).message).toBe('"stpo" is not a label of speech-commands-dscnn');
		expect((error as { description?: string }).description).toMatch(/_silence_, _unknown_, yes, no, up, down, left, right, stop, go/);
	});

	it('a URL that is not http(s) is refused with what to do', async () => {
		const h = triggerContext({ url: 'file:///etc/passwd' });
		const error = await new AudioEventTrigger().trigger.call(h.ctx).catch((e: Error) => e);
		expect((error as Error).message).toMatch(/must start with http:\/\/ or https:\/\/ \(it starts with file:\)/);
	});

	it('Source FFmpeg: local files, concat: and capture devices are refused when the workflow is activated', async () => {
		for (const [url, pattern] of [
			['file:///etc/passwd', /The FFmpeg source does not open file: addresses/],
			['concat:/etc/passwd|/etc/hosts', /does not open concat: addresses/],
			['alsa:default', /Capture devices \(alsa:\) are not enabled on this n8n instance/],
		] as const) {
			const h = triggerContext({ url, source: 'ffmpeg' });
			const error = await new AudioEventTrigger().trigger.call(h.ctx).catch((e: Error) => e);
			expect((error as Error).message).toMatch(pattern);
		}
		// Header Auth has no place in an RTSP address.
		const h = triggerContext({ url: 'rtsp://127.0.0.1:9/cam', source: 'ffmpeg', authentication: 'headerAuth' }, { credentials: { httpHeaderAuth: { name: 'X-Key', value: 'k' } } });
		const error = await new AudioEventTrigger().trigger.call(h.ctx).catch((e: Error) => e);
		expect((error as Error).message).toMatch(/rtsp:\/\/ streams take no Header Auth/);
	});

	it('Model Folder follows n8n\'s file-access settings, which n8n does not hand to triggers', async () => {
		const saved = process.env.N8N_RESTRICT_FILE_ACCESS_TO;
		const allowed = mkdtempSync(path.join(tmpdir(), 'allowed-'));
		try {
			process.env.N8N_RESTRICT_FILE_ACCESS_TO = allowed;
			const h = triggerContext({ url: 'http://127.0.0.1:9/live', modelSource: 'localFolder', modelPath: path.resolve(__dirname, '..', 'models', 'speech-commands-dscnn') });
			const error = await new AudioEventTrigger().trigger.call(h.ctx).catch((e: Error) => e);
			expect((error as Error).message).toBe('Access to the model folder is not allowed');
		} finally {
			if (saved === undefined) delete process.env.N8N_RESTRICT_FILE_ACCESS_TO;
			else process.env.N8N_RESTRICT_FILE_ACCESS_TO = saved;
			rmSync(allowed, { recursive: true, force: true });
		}
	});

	it('a CLAP model listens for Your Own Labels: required for CLAP, refused for a model with labels of its own', async () => {
		const saved = process.env.N8N_RESTRICT_FILE_ACCESS_TO;
		try {
			process.env.N8N_RESTRICT_FILE_ACCESS_TO = path.resolve(__dirname, '..');
			const clap = { url: server.url, modelSource: 'localFolder', modelPath: path.resolve(__dirname, 'fixtures', 'models', 'tiny-clap') };
			let error = await new AudioEventTrigger().trigger.call(triggerContext(clap).ctx).catch((e: Error) => e);
			expect((error as Error).message).toMatch(/is a CLAP model: write the sounds to listen for/);
			error = await new AudioEventTrigger().trigger.call(triggerContext({ ...clap, candidateLabels: 'siren, dog', labels: 'cat' }).ctx).catch((e: Error) => e);
			expect((error as Error).message).toMatch(/"cat" is not a label of/);
			expect((error as { description?: string }).description).toMatch(/siren, dog/);
			error = await new AudioEventTrigger().trigger.call(triggerContext({ url: server.url, candidateLabels: 'siren, dog' }).ctx).catch((e: Error) => e);
			expect((error as Error).message).toMatch(/speech-commands-dscnn has labels of its own: Your Own Labels is only for CLAP models/);
			// Activated with labels: it listens (the tiny CLAP's scores are arbitrary; the engine test checks them) and stops cleanly.
			const h = triggerContext({ ...clap, candidateLabels: 'siren, dog barking, background noise', threshold: 0 });
			const response = await new AudioEventTrigger().trigger.call(h.ctx);
			for (let i = 0; i < 100 && !h.emitted.length && !h.errors.length; i++) await new Promise((r) => setTimeout(r, 50));
			await response.closeFunction?.();
			expect(h.errors).toEqual([]);
			expect(h.emitted.length).toBeGreaterThan(0);
			expect(['siren', 'dog barking']).toContain((h.emitted[0][0][0].json as { label: string }).label);
		} finally {
			if (saved === undefined) delete process.env.N8N_RESTRICT_FILE_ACCESS_TO;
			else process.env.N8N_RESTRICT_FILE_ACCESS_TO = saved;
		}
	}, 30_000);

	it('the file-access rule is n8n\'s: allowed folders, the n8n folder, blocked patterns', () => {
		const home = homedir();
		const env = (e: Record<string, string>) => e as NodeJS.ProcessEnv;
		// Unset: n8n 2.x's default, ~/.n8n-files only.
		expect(blockedByInstanceSettings(path.join(home, '.n8n-files', 'm'), env({}))).toBe(false);
		expect(blockedByInstanceSettings('/opt/models/m', env({}))).toBe(true);
		expect(blockedByInstanceSettings('/opt/models/m', env({ N8N_RESTRICT_FILE_ACCESS_TO: '/srv; /opt/models' }))).toBe(false);
		expect(blockedByInstanceSettings('/opt/models-other/m', env({ N8N_RESTRICT_FILE_ACCESS_TO: '/opt/models' }))).toBe(true);
		expect(blockedByInstanceSettings('/anything', env({ N8N_RESTRICT_FILE_ACCESS_TO: '' }))).toBe(false);
		// The n8n folder (its database, its encryption key) never, even when allowed.
		expect(blockedByInstanceSettings(path.join(home, '.n8n', 'config'), env({ N8N_RESTRICT_FILE_ACCESS_TO: home }))).toBe(true);
		expect(blockedByInstanceSettings('/data/.n8n/m', env({ N8N_RESTRICT_FILE_ACCESS_TO: '/data', N8N_USER_FOLDER: '/data' }))).toBe(true);
		expect(blockedByInstanceSettings('/data/.n8n/m', env({ N8N_RESTRICT_FILE_ACCESS_TO: '/data', N8N_USER_FOLDER: '/data', N8N_BLOCK_FILE_ACCESS_TO_N8N_FILES: 'false' }))).toBe(false);
		// Blocked patterns: .git by default.
		expect(blockedByInstanceSettings('/srv/repo/.git/config', env({ N8N_RESTRICT_FILE_ACCESS_TO: '/srv' }))).toBe(true);
		expect(blockedByInstanceSettings('/srv/secret/m', env({ N8N_RESTRICT_FILE_ACCESS_TO: '/srv', N8N_BLOCK_FILE_PATTERNS: 'secret' }))).toBe(true);
	});

	it('what was heard: labels by how often they topped a window, with their best score', () => {
		const w = (label: string, score: number) => ({ start: 0, end: 1, label, score });
		expect(whatWasHeard([w('_silence_', 0.9), w('up', 0.7), w('_silence_', 0.95)], 0.85, ['up'])).toBe(
			'Heard in the last 3 windows: _silence_ (2 of 3 windows, best score 0.95), up (1 of 3 windows, best score 0.70). ' +
				'An event needs the labels watched (up) at a score of at least 0.85: lower the Threshold, or check Labels to Watch.',
		);
		expect(whatWasHeard([], 0.85, undefined)).toMatch(/^No audio was classified/);
	});
});
