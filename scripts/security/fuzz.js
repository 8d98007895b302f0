#!/usr/bin/env node
// Bounded fuzzing of the whole engine (decode -> features -> ONNX Runtime ->
// labels) on the built-in model: mutations of valid WAV, MP3, FLAC, Ogg/Vorbis,
// Ogg/Opus, WebM, M4A, AMR and CAF (AAC, Opus, ALAC) files, each run in a watchdogged child process.
// A case fails when the child crashes, hangs (no answer within --timeout), or
// throws an error that is not one of the package's own classes.
//
//   npm run fuzz -- --cases 200            (CI: a short run)
//   npm run fuzz -- --cases 20000 --seed 7 (long run, documented in SECURITY.md)
//   npm run fuzz -- --cases 3000 --only m4a,mp4,mov --decoder builtIn
//                                          (one family of seeds, no ffmpeg fallback)
//
// Failing inputs are written to fuzz-failures/ for reproduction. Needs `npm run build`.
'use strict';
const { fork } = require('node:child_process');
const { mkdirSync, readFileSync, writeFileSync } = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');

if (process.argv[2] === '--child') {
	const decoder = process.argv[3] || 'auto';
	const engine = require(path.join(ROOT, 'dist', 'src'));
	const { dir, model } = engine.resolveBuiltIn('speech-commands-dscnn');
	const spec = engine.loadModelSpec(dir, 'auto', model.id);
	process.on('message', async ({ id, data }) => {
		try {
			const r = await engine.classifyAudio(Buffer.from(data, 'base64'), spec, {
				topK: 1,
				functionToApply: 'softmax',
				device: 'cpu',
				maxDuration: 120,
				decoder,
			});
			process.send({ id, outcome: 'ok', label: r.labels[0]?.label });
		} catch (error) {
			const ours = error instanceof engine.AudioClassificationError;
			process.send({ id, outcome: ours ? 'error' : 'foreign', name: error?.name, message: String(error?.message).slice(0, 300) });
		}
	});
	process.send({ ready: true });
	return;
}

function text(name, fallback) {
	const i = process.argv.indexOf(`--${name}`);
	return i > 0 ? process.argv[i + 1] : fallback;
}

const arg = (name, fallback) => Number(text(name, fallback));

const CASES = arg('cases', 200);
const DECODER = text('decoder', 'auto');
const ONLY = text('only', '')
	.split(',')
	.filter(Boolean);
const SEED = arg('seed', 1);
const TIMEOUT_MS = arg('timeout', 30) * 1000;
const SEEDS = [
	'speech-16k-mono-s16.wav',
	'speech-44k-stereo-s16.wav',
	'speech-48k-stereo-f32.wav',
	'speech-8k-mono-mulaw.wav',
	'speech-44k-stereo.mp3',
	'speech-44k-stereo.flac',
	'speech-44k-stereo.ogg',
	'speech-48k-mono.opus',
	'speech-48k-stereo.webm',
	'speech-44k-stereo.m4a',
	'speech-44k-stereo-faststart.m4a',
	'speech-video.mp4',
	'speech-video.mov',
	'speech-8k-mono.amr',
	'speech-44k-stereo-aac.caf',
	'command-stop-opus.caf',
	'command-stop-alac.caf',
]
	.filter((f) => ONLY.length === 0 || ONLY.includes(path.extname(f).slice(1)))
	.map((f) => ({ name: f, bytes: readFileSync(path.join(ROOT, 'test', 'fixtures', 'audio', f)) }));

let state = SEED >>> 0 || 1;
function rand(n) {
	state ^= state << 13;
	state ^= state >>> 17;
	state ^= state << 5;
	return (state >>> 0) % n;
}
const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0xffffffff];

function mutate(input) {
	let b = Buffer.from(input);
	const rounds = 1 + rand(4);
	for (let r = 0; r < rounds; r++) {
		const kind = rand(7);
		const at = rand(Math.max(1, b.length));
		if (kind === 0) b[at] ^= 1 << rand(8); // bit flip
		else if (kind === 1) for (let i = 0; i < 1 + rand(32); i++) b[(at + i) % b.length] = rand(256); // random bytes
		else if (kind === 2 && b.length > 8) {
			const v = INTERESTING[rand(INTERESTING.length)]; // an interesting 32-bit value, e.g. a size or rate field
			const o = Math.min(at, b.length - 4);
			b.writeUInt32LE(v >>> 0, o);
		} else if (kind === 3) b = b.subarray(0, at); // truncation
		else if (kind === 4) b = Buffer.concat([b.subarray(0, at), b.subarray(rand(b.length)), b.subarray(at)]).subarray(0, 4 * input.length); // splice
		else if (kind === 5) b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + rand(64))]); // deletion
		else if (at + 4 <= b.length) b.writeUInt32BE(INTERESTING[rand(INTERESTING.length)] >>> 0, at); // big-endian field (MP4, FLAC)
	}
	return b;
}

async function main() {
	const counts = { cases: 0, ok: 0, packageErrors: 0, foreign: 0, crashes: 0, hangs: 0 };
	const failures = [];
	let child;
	let waiting;
	const start = () =>
		new Promise((resolve) => {
			child = fork(__filename, ['--child', DECODER], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
			child.stderr.on('data', () => undefined);
			child.on('message', (m) => {
				if (m.ready) return resolve();
				waiting?.resolve(m);
			});
			child.on('exit', (code, signal) => waiting?.resolve({ outcome: 'crash', message: `exit ${code} ${signal ?? ''}` }));
		});
	await start();
	const started = Date.now();
	for (let i = 0; i < CASES; i++) {
		const seed = SEEDS[rand(SEEDS.length)];
		const bytes = mutate(seed.bytes);
		const result = await new Promise((resolve) => {
			const timer = setTimeout(() => resolve({ outcome: 'hang' }), TIMEOUT_MS);
			waiting = {
				resolve: (m) => {
					clearTimeout(timer);
					waiting = undefined;
					resolve(m);
				},
			};
			child.send({ id: i, data: bytes.toString('base64') });
		});
		counts.cases++;
		if (result.outcome === 'ok') counts.ok++;
		else if (result.outcome === 'error') counts.packageErrors++;
		else {
			if (result.outcome === 'foreign') counts.foreign++;
			if (result.outcome === 'crash') counts.crashes++;
			if (result.outcome === 'hang') counts.hangs++;
			failures.push({ i, seed: seed.name, ...result, bytes });
			if (result.outcome !== 'foreign') {
				child.kill('SIGKILL');
				await start();
			}
		}
	}
	child.kill('SIGKILL');
	const seconds = ((Date.now() - started) / 1000).toFixed(1);
	console.log(
		`fuzz: ${counts.cases} cases (seed ${SEED}, decoder ${DECODER}${ONLY.length ? `, only ${ONLY.join(',')}` : ''}) in ${seconds} s: ${counts.ok} classified, ${counts.packageErrors} clear errors, ` +
			`${counts.foreign} foreign errors, ${counts.crashes} crashes, ${counts.hangs} hangs`,
	);
	if (failures.length) {
		const dir = path.join(ROOT, 'fuzz-failures');
		mkdirSync(dir, { recursive: true });
		for (const f of failures) {
			writeFileSync(path.join(dir, `case-${f.i}-${f.outcome}-${f.seed}`), f.bytes);
			console.log(`  case ${f.i} (${f.seed}): ${f.outcome} ${f.name ?? ''} ${f.message ?? ''}`);
		}
		process.exit(1);
	}
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
