#!/usr/bin/env node
// Benchmark of the built-in keyword model on one CPU thread (npm run bench:kws).
// Prints per-clip latency of the ONNX graph alone, and of the whole engine
// path (WAV decode + graph + post-processing), with ratios measured in the
// same run; and, when ffmpeg exists, the Opus voice-note path through ffmpeg.
// `--model DIR` measures a candidate model folder (train.py --out) instead, and the built-in
// model's graph in the same run for the ratio.
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

async function graphTimes(onnxPath, input, runs) {
	const session = await ort.InferenceSession.create(onnxPath, { intraOpNumThreads: 1, interOpNumThreads: 1 });
	for (let i = 0; i < 10; i++) await session.run({ input_values: input }); // warm-up
	const times = [];
	for (let r = 0; r < runs; r++) times.push(await time(() => session.run({ input_values: input })));
	await session.release();
	return times;
}

async function main() {
	const at = process.argv.indexOf('--model');
	const builtIn = resolveBuiltIn('speech-commands-dscnn').dir;
	const dir = at > 0 ? path.resolve(process.argv[at + 1]) : builtIn;
	const spec = loadModelSpec(dir, 'auto', 'speech-commands-dscnn');
	const files = readdirSync(SAMPLES).filter((f) => f.endsWith('.wav'));
	const wavs = files.map((f) => readFileSync(path.join(SAMPLES, f)));
	const input = new ort.Tensor('float32', new Float32Array(16000).map(() => Math.random() * 0.1 - 0.05), [1, 16000]);
	const graph = await graphTimes(spec.onnxPath, input, ROUNDS * wavs.length);
	const opts = { topK: 5, functionToApply: 'auto', device: 'cpu', threads: 1 };
	await classifyAudio(wavs[0], spec, opts);
	const engine = [];
	for (let r = 0; r < ROUNDS; r++) for (const w of wavs) engine.push(await time(() => classifyAudio(w, spec, opts)));

	const g = stats(graph);
	const e = stats(engine);
	console.log(`${dir === builtIn ? `built-in model ${path.relative(ROOT, spec.onnxPath)}` : `model ${spec.onnxPath}`}, 1 thread, ${graph.length} runs each`);
	console.log(`  ONNX graph alone (1 s clip):        median ${g.median.toFixed(2)} ms, p90 ${g.p90.toFixed(2)} ms`);
	if (dir !== builtIn) {
		const b = stats(await graphTimes(loadModelSpec(builtIn, 'auto', 'speech-commands-dscnn').onnxPath, input, graph.length));
		console.log(`  built-in model's graph, same run:   median ${b.median.toFixed(2)} ms, p90 ${b.p90.toFixed(2)} ms  (${(g.median / b.median).toFixed(2)}x)`);
	}
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
	await sessionCache.clear();
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
