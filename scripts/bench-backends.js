#!/usr/bin/env node
// Native ONNX Runtime vs its WebAssembly build inside Node, through the engine
// (npm run bench:backends): the built-in model and a base-size wav2vec2-shaped
// model (94.6 M parameters, random weights, made by scripts/bench/make_base_models.py
// into ~/.cache/n8n-nodes-audio-classification/bench/). Medians; ratios from this run.
'use strict';
const { execFileSync } = require('node:child_process');
const { existsSync, readFileSync } = require('node:fs');
const { homedir } = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const { timed } = require('./lib/bench');
const engine = require(path.join(ROOT, 'dist', 'src'));


function clip(seconds) {
	const speech = readFileSync(path.join(ROOT, 'test', 'fixtures', 'audio', 'speech-16k-mono-s16.wav'));
	const data = speech.subarray(44);
	const frames = seconds * 16000;
	const out = Buffer.alloc(44 + frames * 2);
	speech.copy(out, 0, 0, 44);
	out.writeUInt32LE(36 + frames * 2, 4);
	out.writeUInt32LE(frames * 2, 40);
	for (let o = 0; o < frames * 2; o += data.length) data.copy(out, 44 + o, 0, Math.min(data.length, frames * 2 - o));
	return out;
}

async function main() {
	const baseDir = path.join(homedir(), '.cache', 'n8n-nodes-audio-classification', 'bench', 'wav2vec2-base-random');
	if (!existsSync(path.join(baseDir, 'onnx', 'model.onnx'))) {
		execFileSync('/usr/bin/python3', [path.join(ROOT, 'scripts', 'bench', 'make_base_models.py'), baseDir], { stdio: 'inherit' });
	}
	const { dir, model } = engine.resolveBuiltIn('speech-commands-dscnn');
	const cases = [
		['built-in speech-commands-dscnn, 1 s', engine.loadModelSpec(dir, 'auto', model.id), clip(1), 30],
		['wav2vec2-base-shaped (94.6 M), 1 s', engine.loadModelSpec(baseDir, 'auto', 'wav2vec2-base-random'), clip(1), 5],
		['wav2vec2-base-shaped (94.6 M), 10 s', engine.loadModelSpec(baseDir, 'auto', 'wav2vec2-base-random'), clip(10), 3],
	];
	for (const [name, spec, audio, rounds] of cases) {
		const run = (backend) => engine.classifyAudio(audio, spec, { topK: 1, functionToApply: 'softmax', device: 'cpu', backend });
		const native = await timed(() => run('native'), rounds);
		const wasm = await timed(() => run('wasm'), rounds);
		console.log(`${name.padEnd(38)} native ${native.toFixed(1).padStart(8)} ms   wasm ${wasm.toFixed(1).padStart(8)} ms   wasm/native ${(wasm / native).toFixed(1)}x`);
		await engine.sessionCache.clear();
	}
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
