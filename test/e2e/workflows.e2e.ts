/**
 * The example workflows imported into a real n8n and run with its CLI
 * (`n8n import:workflow`, `n8n execute --id --rawOutput`); the webhook example
 * served by `n8n start` and called over HTTP on loopback.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync, type ChildProcess } from 'node:child_process';

import { type N8nInstance, prepareN8n } from './n8n-instance';
import { checkEditor, checkTimelineInEditor } from './editor';

const systemFfmpeg = '/usr/bin/ffmpeg'; // CI installs Debian's ffmpeg: the test makes its Opus note with it

let n8n: N8nInstance;

beforeAll(() => {
	n8n = prepareN8n();
});

afterAll(() => n8n?.cleanup());

const expectedLabel = (file: string) => /^(_[a-z]+_|[a-z]+)__/.exec(file)![1];

it('example 1: a voice command is classified and routed by the Switch node', () => {
	n8n.importExample('voice-command-router.json', 'exampleRouter001');
	const run = n8n.execute('exampleRouter001');
	expect(run.status).toBe('success');
	const [item] = run.runData['Audio Classification'][0].data!.main[0];
	expect(item.json).toMatchObject({ label: 'stop', model: 'speech-commands-dscnn', fileName: 'stop__stop_099d52ad_3.wav' });
	expect(item.json.score as number).toBeGreaterThan(0.9);
	expect((item.json.labels as unknown[]).length).toBe(3);
	expect(item.pairedItem).toEqual({ item: 0 });
	expect(run.runData.Stop[0].data!.main[0][0].json.action).toBe('stop the conveyor');
	expect(run.runData.Go).toBeUndefined();
	expect(run.runData['Anything else']).toBeUndefined();
	// The prewarm (src/prewarm.ts) loaded the model when n8n loaded the node; the execution reused it
	expect(run.output).toMatch(/the default built-in model was preloaded when n8n loaded the node .* on ONNX Runtime native \(cpu\)/);
	expect(run.output).not.toMatch(/model loaded into this process/);

	// the same workflow, fed a "go" clip, takes the other branch
	n8n.importExample('voice-command-router.json', 'exampleRouter002', (wf) => {
		const nodes = wf.nodes as Array<{ name: string; parameters: Record<string, unknown> }>;
		nodes.find((n) => n.name === 'Read voice note')!.parameters.fileSelector = path.join(n8n.audioDir, 'go__go_026290a7_0.wav');
	});
	const go = n8n.execute('exampleRouter002');
	expect(go.runData.Go[0].data!.main[0][0].json.action).toBe('start the conveyor');
});

/**
 * The router example on one voice note, run where n8n's official Alpine image puts it: the native
 * binding fails as it does on musl (scripts/e2e/simulate-musl.js, in the n8n process and its
 * threads), and PATH holds only Node.js: no ffmpeg anywhere.
 */
function routeOnAlpine(id: string, clip: string, note: string, encoding: string[]) {
	if (clip) execFileSync(systemFfmpeg, ['-v', 'error', '-y', '-i', path.join(n8n.audioDir, clip), ...encoding, note]); // else: `note` is there
	n8n.importExample('voice-command-router.json', id, (wf) => {
		const nodes = wf.nodes as Array<{ name: string; parameters: Record<string, unknown> }>;
		nodes.find((n) => n.name === 'Read voice note')!.parameters.fileSelector = note;
	});
	const run = n8n.execute(id, {
		NODE_OPTIONS: `--require ${path.join(__dirname, '..', '..', 'scripts', 'e2e', 'simulate-musl.js')}`,
		PATH: n8n.nodeBin,
		FFMPEG_PATH: '',
	});
	expect(run.status).toBe('success');
	return { run, item: run.runData['Audio Classification'][0].data!.main[0][0] };
}

it("example 1 where n8n's official Alpine image puts it: no native ONNX Runtime, no ffmpeg, a Telegram-style Ogg/Opus note", () => {
	const note = path.join(n8n.audioDir, 'voice-note-stop.ogg');
	const { run, item } = routeOnAlpine('exampleAlpine001', 'stop__stop_099d52ad_3.wav', note, ['-c:a', 'libopus', '-ar', '48000', '-b:a', '24k']);
	expect(item.json).toMatchObject({ label: 'stop', fileName: 'voice-note-stop.ogg' });
	expect(run.runData.Stop[0].data!.main[0][0].json.action).toBe('stop the conveyor');
	expect(run.output).toMatch(/ONNX Runtime could not be loaded: Error relocating.*WebAssembly/);
	expect(run.output).toMatch(/runs on ONNX Runtime wasm \(wasm\); audio decoded by ogg-opus \(opus-decoder\)/);
	expect(run.output).toMatch(/the default built-in model was preloaded when n8n loaded the node .* on ONNX Runtime wasm \(wasm\)/);
});

it('the same, with an iPhone-style M4A (AAC, index at the end) decoded in-process by FFmpeg\'s WebAssembly build', () => {
	const memo = path.join(n8n.audioDir, 'voice-memo-go.m4a');
	const { run, item } = routeOnAlpine('exampleAlpine002', 'go__go_026290a7_0.wav', memo, ['-c:a', 'aac', '-b:a', '64k', '-ar', '44100']);
	expect(item.json).toMatchObject({ label: 'go', fileName: 'voice-memo-go.m4a' });
	expect(run.runData.Go[0].data!.main[0][0].json.action).toBe('start the conveyor');
	expect(run.output).toMatch(/runs on ONNX Runtime wasm \(wasm\); audio decoded by aac \(libav\.js: FFmpeg's decoder in WebAssembly\)/);
	expect(run.output).not.toMatch(/\[(aac|mov,mp4)[^\]]*@ 0x/);
});

it('the same, with an iMessage-style CAF audio message (AAC) decoded in-process: no ffmpeg, FFMPEG_PATH empty', () => {
	const note = path.join(n8n.audioDir, 'audio-message-stop.caf');
	copyFileSync(path.join(__dirname, '..', 'fixtures', 'audio', 'command-stop-aac.caf'), note);
	const { run, item } = routeOnAlpine('exampleAlpine003', '', note, []);
	expect(item.json).toMatchObject({ label: 'stop', fileName: 'audio-message-stop.caf' });
	expect(run.output).toMatch(/audio decoded by caf: aac \(libav\.js: FFmpeg's decoder in WebAssembly\)/);
});

it('a format nothing built in reads, with FFMPEG_PATH empty and no ffmpeg: the usual error saying to install ffmpeg, not a TypeError', () => {
	const note = path.join(n8n.audioDir, 'audio-message-ima4.caf');
	const bytes = readFileSync(path.join(__dirname, '..', 'fixtures', 'audio', 'command-stop-aac.caf'));
	bytes.write('ima4', bytes.indexOf('desc') + 12 + 8, 'latin1'); // a codec with no built-in decoder
	writeFileSync(note, bytes);
	n8n.importExample('voice-command-router.json', 'exampleAlpine004', (wf) => {
		const nodes = wf.nodes as Array<{ name: string; parameters: Record<string, unknown> }>;
		nodes.find((n) => n.name === 'Read voice note')!.parameters.fileSelector = note;
	});
	const run = n8n.execute('exampleAlpine004', {
		NODE_OPTIONS: `--require ${path.join(__dirname, '..', '..', 'scripts', 'e2e', 'simulate-musl.js')}`,
		PATH: n8n.nodeBin,
		FFMPEG_PATH: '',
	});
	expect(run.status).not.toBe('success');
	const error = run.runData['Audio Classification'][0].error!.message;
	expect(error).toMatch(/This CAF encoding \(ima4\) has no built-in decoder/);
	expect(run.output).not.toMatch(/TypeError|Cannot read properties/);
});

it('example 4: the spoken commands of a recording, each routed by the Switch with its time', () => {
	const recording = path.join(__dirname, '..', 'fixtures', 'recordings', 'commands-and-other-words');
	mkdirSync(path.join(n8n.audioDir, 'recordings'), { recursive: true }); // not among example 2's *.wav
	copyFileSync(`${recording}.opus`, path.join(n8n.audioDir, 'recordings', 'commands-and-other-words.opus'));
	const truth = JSON.parse(readFileSync(`${recording}.json`, 'utf8')).events as Array<{ label: string; start: number; distractor: boolean }>;
	n8n.importExample('detect-commands-in-recording.json', 'exampleEvents001');
	const run = n8n.execute('exampleEvents001');
	expect(run.status).toBe('success');
	const events = run.runData['Audio Classification'][0].data!.main[0];
	const commands = truth.filter((t) => !t.distractor);
	expect(events.length).toBeGreaterThanOrEqual(Math.floor(commands.length * 0.9));
	for (const e of events) expect(Object.keys(e.json)).toEqual(expect.arrayContaining(['label', 'start', 'end', 'score', 'meanScore']));
	// the timeline picture rides along as a binary field n8n's viewer shows
	const binary = (events[0] as unknown as { binary?: Record<string, { mimeType: string; fileName: string }> }).binary;
	expect(binary?.timeline).toMatchObject({ mimeType: 'image/png', fileName: 'commands-and-other-words-timeline.png' });
	const stops = run.runData.Stop[0].data!.main[0].map((i) => i.json);
	const wantStops = commands.filter((t) => t.label === 'stop');
	expect(stops).toHaveLength(wantStops.length);
	stops.forEach((s, i) => {
		expect(Math.abs((s.start as number) - wantStops[i].start)).toBeLessThan(0.25);
		expect(s.action).toBe(`stop the conveyor at ${s.start} s`);
	});
	expect(run.runData['Anything else'][0].data!.main[0].length).toBeGreaterThan(0);
});

it('example 2: every file of a folder is tagged and written to a CSV', () => {
	n8n.importExample('tag-folder-to-csv.json', 'exampleFolder001');
	const run = n8n.execute('exampleFolder001');
	expect(run.status).toBe('success');
	const items = run.runData['Audio Classification'][0].data!.main[0];
	expect(items).toHaveLength(26);
	items.forEach((item, i) => expect(item.pairedItem).toEqual({ item: i }));
	const csvPath = path.join(n8n.outDir, 'audio-labels.csv');
	expect(existsSync(csvPath)).toBe(true);
	const [header, ...rows] = readFileSync(csvPath, 'utf8').trim().split('\n');
	expect(header).toBe('file,label,score');
	expect(rows).toHaveLength(26);
	const right = rows.filter((r) => {
		const [file, label] = r.split(',');
		return label === expectedLabel(file);
	});
	expect(right.length).toBeGreaterThanOrEqual(25); // the demo gives 25/26 with model v3.1 (26/26 with v3.0)
});

it('example 5: sounds tagged with labels written in the node (zero-shot, CLAP) and routed by the Switch', () => {
	// The example downloads Xenova/clap-htsat-unfused; here (no Hub) the same workflow points at the
	// tiny CLAP-shaped fixture in a folder n8n may read, and the scores are the generator's reference.
	const fixtures = path.join(__dirname, '..', 'fixtures');
	const modelDir = path.join(n8n.audioDir, 'models', 'tiny-clap');
	cpSync(path.join(fixtures, 'models', 'tiny-clap'), modelDir, { recursive: true });
	copyFileSync(path.join(fixtures, 'audio', 'clap-speech-48k.wav'), path.join(n8n.audioDir, 'recording.wav'));
	n8n.importExample('sounds-with-your-own-labels.json', 'exampleZeroShot1', (wf) => {
		const nodes = wf.nodes as Array<{ name: string; parameters: Record<string, unknown> }>;
		Object.assign(nodes.find((n) => n.name === 'Audio Classification')!.parameters, { modelSource: 'localFolder', modelPath: modelDir, options: {} });
	});
	const run = n8n.execute('exampleZeroShot1');
	expect(run.status).toBe('success');
	const [item] = run.runData['Audio Classification'][0].data!.main[0];
	const ref = JSON.parse(readFileSync(path.join(fixtures, 'reference', 'clap.json'), 'utf8')) as {
		scores: Array<{ model: string; clip: string; template: string; labels: Array<{ label: string; score: number }> }>;
	};
	const want = ref.scores.find((s) => s.model === 'tiny-clap' && s.clip === 'clap-speech-48k.wav' && s.template === 'This is a sound of {}.')!.labels;
	expect(item.json).toMatchObject({ label: want[0].label, fileName: 'recording.wav' });
	expect(Math.abs((item.json.score as number) - want[0].score)).toBeLessThan(1e-5);
	expect((item.json.labels as unknown[]).length).toBe(3);
	const branch = { 'glass breaking': 'Break-in', 'a siren': 'Siren', 'a dog barking': 'Dog' }[want[0].label] ?? 'Anything else';
	expect(run.runData[branch][0].data!.main[0][0].json.action).toMatch(new RegExp(`: ${want[0].label} \\(0\\.\\d\\d\\)$`));
	for (const other of ['Break-in', 'Siren', 'Dog', 'Anything else'].filter((b) => b !== branch)) expect(run.runData[other]).toBeUndefined();
});

describe('example 3: webhook upload answered with the labels (n8n start)', () => {
	let server: ChildProcess | undefined;
	const port = 5688;

	afterAll(() => {
		server?.kill('SIGTERM');
	});

	it('answers a POSTed voice note with JSON labels, and a bad upload with an error', async () => {
		n8n.importExample('webhook-classify.json', 'exampleWebhook01');
		n8n.n8n(['publish:workflow', '--id=exampleWebhook01']);
		server = await n8n.start(port);
		const url = `http://127.0.0.1:${port}/webhook/classify-audio`;
		const wav = readFileSync(path.join(n8n.audioDir, 'yes__yes_060cd039_0.wav'));
		// Readiness comes before published workflows are activated: retry while 404.
		let res = await fetch(url, { method: 'POST', headers: { 'content-type': 'audio/wav' }, body: wav });
		for (let tries = 0; res.status === 404 && tries < 60; tries++) {
			await new Promise((r) => setTimeout(r, 1000));
			res = await fetch(url, { method: 'POST', headers: { 'content-type': 'audio/wav' }, body: wav });
		}
		expect(res.status).toBe(200);
		const body = (await res.json()) as { label: string; score: number; labels: unknown[]; model: string };
		expect(body.label).toBe('yes');
		expect(body.score).toBeGreaterThan(0.9);
		expect(body.labels).toHaveLength(3);
		expect(body.model).toBe('speech-commands-dscnn');

		const bad = await fetch(url, { method: 'POST', headers: { 'content-type': 'audio/mpeg' }, body: '<html>oops</html>' });
		const badBody = (await bad.json()) as { error?: string };
		expect(badBody.error).toMatch(/item 0, binary field "data"/);
	});

	it('the editor loads the node, lists Hub models, renders its parameters and shows labels after a test run', async () => {
		expect(server).toBeDefined();
		await checkEditor(`http://127.0.0.1:${port}`, 'exampleRouter001');
		// example 4's workflow (imported above into the same database): its timeline in the binary viewer
		await checkTimelineInEditor(`http://127.0.0.1:${port}`, 'exampleEvents001');
	});
});
