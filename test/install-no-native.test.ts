/**
 * Installed as n8n's UI installs community packages (npm pack, then
 * `npm install --ignore-scripts --omit=optional --omit=dev` into a fresh
 * folder) and run in a process like n8n's official Alpine image: the native
 * ONNX Runtime binding fails with the musl loader's error text
 * (scripts/e2e/simulate-musl.js) and no ffmpeg exists anywhere (no option,
 * no FFMPEG_PATH, no ffmpeg-static, nothing on PATH). The node, through
 * n8n's engine, must still classify the voice-note formats people send, say
 * in the log which backend and decoders ran, and explain what is missing
 * for the rest.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { AUDIO, describeWithFfmpeg, MODELS, systemFfmpeg } from './helpers/fixtures';

const REPO = path.resolve(__dirname, '..');
const COMMANDS = path.join(REPO, 'test', 'fixtures', 'speech-commands');

describeWithFfmpeg('installed like n8n does it, on a system without native ONNX Runtime or ffmpeg', () => {
	let work: string;
	let app: string;
	beforeAll(() => {
		work = mkdtempSync(path.join(tmpdir(), 'install-no-native-'));
		execFileSync('npm', ['pack', '--pack-destination', work, '--silent'], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
		const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'))!;
		app = path.join(work, 'app');
		mkdirSync(app);
		writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'n8n-custom', private: true }));
		execFileSync(
			'npm',
			['install', path.join(work, tarball), '--ignore-scripts', '--omit=optional', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', '--no-package-lock'],
			{ cwd: app, stdio: ['ignore', 'ignore', 'inherit'] },
		);
		// Voice notes in the formats people send, made from real command clips.
		const clips = path.join(work, 'clips');
		mkdirSync(clips);
		const encode = (src: string, out: string, args: string[]) =>
			execFileSync(systemFfmpeg!, ['-v', 'error', '-i', path.join(COMMANDS, src), ...args, path.join(clips, out)]);
		cpSync(path.join(COMMANDS, 'stop__stop_105e72bb_0.wav'), path.join(clips, 'stop.wav'));
		encode('yes__yes_060cd039_0.wav', 'yes.mp3', ['-ar', '44100', '-ac', '2', '-b:a', '96k']);
		encode('no__no_026290a7_0.wav', 'no.ogg', ['-c:a', 'libopus', '-ar', '48000', '-b:a', '24k']); // Telegram / WhatsApp
		encode('up__up_026290a7_0.wav', 'up.webm', ['-c:a', 'libopus', '-ar', '48000', '-b:a', '32k']); // browser MediaRecorder
		encode('down__down_0ab3b47d_0.wav', 'down.flac', ['-ar', '44100']);
		encode('left__left_105e72bb_0.wav', 'left.m4a', ['-c:a', 'aac', '-b:a', '64k']); // iPhone
		cpSync(path.join(AUDIO, 'command-right.amr'), path.join(clips, 'right.amr')); // older phones
		encode('go__go_026290a7_0.wav', 'go.mp4', ['-c:a', 'libmp3lame', '-b:a', '64k']); // MP3 inside MP4: rare, needs ffmpeg
		cpSync(path.join(MODELS, 'tiny-wav2vec2'), path.join(work, 'hub-layout-model'), { recursive: true });
	}, 300_000);
	afterAll(() => rmSync(work, { recursive: true, force: true }));

	const runner = () => path.join(work, 'run.js');
	const run = () => {
		writeFileSync(
			runner(),
			`
const path = require('node:path');
const { runClassifierWorkflow } = require(${JSON.stringify(path.join(REPO, 'scripts', 'lib', 'n8n-harness.js'))});
const { AudioClassification } = require(${JSON.stringify(path.join('{APP}', 'node_modules', 'n8n-nodes-audio-classification', 'dist', 'nodes', 'AudioClassification', 'AudioClassification.node.js'))}.replace('{APP}', process.env.APP));
const clips = ['stop.wav', 'yes.mp3', 'no.ogg', 'up.webm', 'down.flac', 'right.amr', 'left.m4a', 'go.mp4'];
(async () => {
  const files = clips.map((f) => ({ path: path.join(process.env.CLIPS, f) }));
  const builtIn = await runClassifierWorkflow({ classifier: new AudioClassification(), files, parameters: { topK: 3, outputMode: 'perInput' }, nodeSettings: { onError: 'continueRegularOutput' } });
  const local = await runClassifierWorkflow({ classifier: new AudioClassification(), files: files.slice(0, 2), parameters: { topK: 1, outputMode: 'perInput', modelSource: 'localFolder', modelPath: process.env.HUB_MODEL } });
  process.stdout.write('RESULT ' + JSON.stringify({ builtIn: builtIn.items.map((i) => i.json), local: local.items.map((i) => i.json), error: String(local.error || '') }) + '\\n');
})().catch((e) => { console.error(e); process.exit(1); });
`,
		);
		const env: NodeJS.ProcessEnv = {
			HOME: process.env.HOME,
			PATH: '/nonexistent', // no ffmpeg anywhere
			APP: app,
			CLIPS: path.join(work, 'clips'),
			HUB_MODEL: path.join(work, 'hub-layout-model'),
			N8N_RESTRICT_FILE_ACCESS_TO: work,
			NODE_OPTIONS: `--require ${path.join(REPO, 'scripts', 'e2e', 'simulate-musl.js')}`,
		};
		const out = execFileSync(process.execPath, [runner()], { env, encoding: 'utf8', maxBuffer: 1 << 26 });
		const result = JSON.parse(out.split('\n').find((l) => l.startsWith('RESULT '))!.slice(7)) as {
			builtIn: Array<{ label?: string; labels?: Array<{ label: string }>; error?: string; hint?: string }>;
			local: Array<{ label?: string }>;
			error: string;
		};
		return { out, result };
	};

	it('classifies WAV, MP3, Ogg/Opus, WebM/Opus, FLAC, AMR and M4A on WebAssembly, and says what the rest needs', () => {
		const { out, result } = run();
		// AMR-NB is 8 kHz telephone band: the built-in model (trained on 16 kHz wideband) may rank
		// "right" below first there (model card, Limits); the decoding is what this test is about.
		expect(result.builtIn.map((j) => j.label ?? 'error')).toEqual(['stop', 'yes', 'no', 'up', 'down', result.builtIn[5].label, 'left', 'error']);
		expect(result.builtIn[5].labels!.map((l) => l.label)).toContain('right');
		expect(result.builtIn[7].error).toMatch(/audio codec of this MP4\/MOV file .* has no built-in decoder/);
		expect(result.builtIn[7].hint).toMatch(/install ffmpeg where n8n runs/);
		expect(result.error).toBe('');
		expect(result.local).toHaveLength(2);
		expect(result.local.every((j) => typeof j.label === 'string')).toBe(true);
		// The n8n log says what ran: WebAssembly (once, with why and what is faster) and each decoder.
		expect(out).toMatch(/ONNX Runtime could not be loaded: Error relocating .*WebAssembly.*Debian/);
		expect(out.match(/could not be loaded/g)).toHaveLength(1);
		for (const decoder of ['wav', 'mp3 \\(mpg123-decoder\\)', 'ogg-opus', 'webm-opus', 'flac', 'amr', "aac \\(libav\\.js: FFmpeg's decoder in WebAssembly\\)"]) {
			expect(out).toMatch(new RegExp(`runs on ONNX Runtime wasm \\(wasm\\); audio decoded by ${decoder}`));
		}
		// Nothing from the WebAssembly FFmpeg reaches n8n's output.
		expect(out).not.toMatch(/\[(aac|mov,mp4)[^\]]*@ 0x/);
	}, 300_000);
});
