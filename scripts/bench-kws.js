#!/usr/bin/env node
// Benchmark of the built-in keyword model on one CPU thread (npm run bench:kws).
// Prints per-clip latency of the ONNX graph alone, and of the whole engine
// path (WAV decode + graph + post-processing), with ratios measured in the
// same run; and, when ffmpeg exists, the Opus voice-note path through ffmpeg.
const { execFileSync } = require('node:child_process');
const { readdirSync, readFileSync } = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const ort = require('onnxruntime-node');
const { classifyAudio, loadModelSpec, resolveBuiltIn, sessionCache } = require(path.join(ROOT, 'dist', 'src'));

const SAMPLES = path.join(ROOT, 'test', 'fixtures', 'speech-commands');
const ROUNDS = Number(process.env.BENCH_ROUNDS || 20);

function stats(times) {
	const sorted = [...times].sort((a, b) => a - b);
	return { median: sorted[Math.floor(sorted.length / 2)], p90: sorted[Math.floor(sorted.length * 0.9)] };
}

async function time(fn) {
	const t = process.hrtime.bigint();
	await fn();
	return Number(process.hrtime.bigint() - t) / 1e6;
}

async function main() {
	const { dir } = resolveBuiltIn('speech-commands-dscnn');
	const spec = loadModelSpec(dir, 'auto', 'speech-commands-dscnn');
	const files = readdirSync(SAMPLES).filter((f) => f.endsWith('.wav'));
	const wavs = files.map((f) => readFileSync(path.join(SAMPLES, f)));
	const session = await ort.InferenceSession.create(spec.onnxPath, { intraOpNumThreads: 1, interOpNumThreads: 1 });
	const input = new ort.Tensor('float32', new Float32Array(16000).map(() => Math.random() * 0.1 - 0.05), [1, 16000]);
	for (let i = 0; i < 10; i++) await session.run({ input_values: input }); // warm-up

	const graph = [];
	for (let r = 0; r < ROUNDS * wavs.length; r++) graph.push(await time(() => session.run({ input_values: input })));
	const opts = { topK: 5, functionToApply: 'auto', device: 'cpu', threads: 1 };
	await classifyAudio(wavs[0], spec, opts);
	const engine = [];
	for (let r = 0; r < ROUNDS; r++) for (const w of wavs) engine.push(await time(() => classifyAudio(w, spec, opts)));

	const g = stats(graph);
	const e = stats(engine);
	console.log(`built-in model ${path.relative(ROOT, spec.onnxPath)}, 1 thread, ${graph.length} runs each`);
	console.log(`  ONNX graph alone (1 s clip):        median ${g.median.toFixed(2)} ms, p90 ${g.p90.toFixed(2)} ms`);
	console.log(`  engine, WAV in (decode+graph+post): median ${e.median.toFixed(2)} ms, p90 ${e.p90.toFixed(2)} ms  (${(e.median / g.median).toFixed(2)}x graph)`);
	try {
		const ffmpeg = execFileSync('sh', ['-c', 'command -v ffmpeg'], { encoding: 'utf8' }).trim();
		const opus = execFileSync(ffmpeg, ['-v', 'error', '-i', path.join(SAMPLES, files[0]), '-c:a', 'libopus', '-f', 'ogg', 'pipe:1']);
		const ff = [];
		for (let r = 0; r < ROUNDS; r++) ff.push(await time(() => classifyAudio(opus, spec, { ...opts, ffmpegPath: ffmpeg })));
		const f = stats(ff);
		console.log(`  engine, Opus voice note via ffmpeg: median ${f.median.toFixed(2)} ms, p90 ${f.p90.toFixed(2)} ms  (${(f.median / e.median).toFixed(1)}x WAV path)`);
	} catch {
		console.log('  (no ffmpeg: Opus path not measured)');
	}
	await session.release();
	await sessionCache.clear();
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
