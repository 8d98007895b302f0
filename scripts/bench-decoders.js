#!/usr/bin/env node
// Decoding cost per format, in-process (the built-in decoders) vs ffmpeg, on 1 s
// and 60 s clips made from a real speech clip (npm run bench:decoders). Both
// paths end at 16 kHz mono float32, as the models want it; the ratio is ffmpeg's
// time over ours, measured in the same run; also ours with the resampler's
// JavaScript loop instead of its WebAssembly SIMD kernel (the lever, measured).
// Also WASM vs native ONNX Runtime on the built-in model.
'use strict';
const { execFileSync } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const { alternating, timed } = require('./lib/bench');
const engine = require(path.join(ROOT, 'dist', 'src'));
const { setResampleKernel } = require(path.join(ROOT, 'dist', 'src', 'audio', 'resample-kernel'));
const ROUNDS = Number(process.env.BENCH_ROUNDS || 15);
const ffmpeg = process.env.FFMPEG_PATH || '/usr/bin/ffmpeg';

const FORMATS = [
	['WAV 44.1 kHz stereo', 'wav', ['-ar', '44100', '-ac', '2', '-c:a', 'pcm_s16le']],
	['MP3 44.1 kHz 96k', 'mp3', ['-ar', '44100', '-ac', '2', '-b:a', '96k']],
	['Ogg/Opus 48 kHz 24k (voice note)', 'ogg', ['-ar', '48000', '-c:a', 'libopus', '-b:a', '24k']],
	['WebM/Opus 48 kHz 32k (browser)', 'webm', ['-ar', '48000', '-c:a', 'libopus', '-b:a', '32k']],
	['FLAC 44.1 kHz', 'flac', ['-ar', '44100']],
	['Ogg/Vorbis 44.1 kHz', 'oga', ['-ar', '44100', '-c:a', 'libvorbis']],
	['AIFF 44.1 kHz', 'aiff', ['-ar', '44100']],
	['AMR-NB 8 kHz 12.2k (old phones)', 'amr', 'sox'],
	['M4A/AAC 44.1 kHz 64k (iPhone)', 'm4a', ['-ar', '44100', '-c:a', 'aac', '-b:a', '64k']],
	// ffmpeg's CAF muxer writes Opus and ALAC (not AAC), its packet table after the audio
	['CAF/Opus 48 kHz 24k (iMessage voice)', 'caf', ['-ar', '48000', '-c:a', 'libopus', '-b:a', '24k']],
	['CAF/ALAC 44.1 kHz', 'caf', ['-ar', '44100', '-c:a', 'alac']],
].filter(([name]) => !process.env.BENCH_FORMATS || new RegExp(process.env.BENCH_FORMATS, 'i').test(name));


async function main() {
	const dir = mkdtempSync(path.join(tmpdir(), 'bench-decoders-'));
	const speech = path.join(ROOT, 'test', 'fixtures', 'audio', 'speech-16k-mono-s16.wav');
	const rows = [];
	try {
		for (const seconds of [1, 60]) {
			for (const [name, ext, args] of FORMATS) {
				const file = path.join(dir, `clip-${seconds}.${ext}`);
				if (args === 'sox') {
					// ffmpeg builds rarely encode AMR; sox does, through libopencore-amrnb.
					const wav = path.join(dir, `src-${seconds}.wav`);
					execFileSync(ffmpeg, ['-v', 'error', '-stream_loop', '-1', '-i', speech, '-t', String(seconds), '-ar', '8000', wav]);
					try {
						execFileSync('sox', [wav, '-t', 'amr-nb', file], { stdio: 'ignore' });
					} catch {
						console.log(`${name}: skipped (needs sox with AMR-NB support)`);
						continue;
					}
				} else {
					execFileSync(ffmpeg, ['-v', 'error', '-y', '-stream_loop', '-1', '-i', speech, '-t', String(seconds), ...args, file]);
				}
				const bytes = readFileSync(file);
				const opts = { samplingRate: 16000, ffmpegPath: ffmpeg, maxDuration: 600 };
				const rounds = seconds > 1 ? 5 : ROUNDS;
				// the kernel and the JavaScript loop alternate, round by round (whichever ran first paid more)
				const builtIn = (kernel) => async () => {
					setResampleKernel(kernel);
					try {
						await engine.decodeAudio(bytes, { ...opts, decoder: 'builtIn' });
					} finally {
						setResampleKernel(true);
					}
				};
				const [ours, jsLoop] = await alternating([builtIn(true), builtIn(false)], rounds);
				const theirs = await timed(() => engine.decodeAudio(bytes, { ...opts, decoder: 'ffmpeg' }), rounds);
				rows.push({ seconds, name, ours, jsLoop, theirs });
				console.log(
					`${`${seconds} s`.padEnd(5)} ${name.padEnd(34)} built-in ${ours.toFixed(2).padStart(7)} ms (JS resampler ${jsLoop.toFixed(2).padStart(7)})   ffmpeg ${theirs.toFixed(1).padStart(7)} ms   ffmpeg/built-in ${(theirs / ours).toFixed(1)}x`,
				);
			}
		}
		const { dir: modelDir, model } = engine.resolveBuiltIn('speech-commands-dscnn');
		const spec = engine.loadModelSpec(modelDir, 'auto', model.id);
		const clip = readFileSync(path.join(ROOT, 'test', 'fixtures', 'speech-commands', 'stop__stop_105e72bb_0.wav'));
		const run = (backend) => engine.classifyAudio(clip, spec, { topK: 1, functionToApply: 'softmax', device: 'cpu', backend });
		const native = await timed(() => run('native'), 50);
		const wasm = await timed(() => run('wasm'), 50);
		console.log(`\nbuilt-in model, one 1 s WAV clip end to end: native ${native.toFixed(2)} ms, wasm ${wasm.toFixed(2)} ms, wasm/native ${(wasm / native).toFixed(1)}x`);
		await engine.sessionCache.clear();
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
