#!/usr/bin/env node
// One pipeline's throughput in a process of its own (bench/run.js starts it), so
// neither pipeline pays for the other's heap, and the peak RSS is that pipeline's.
//
//   node bench/child.js '<json>'   prints one JSON line: { rate, rates, peakRssMB, ... }
//
// json: { pipeline, dir, file, items, runs }
//   pipeline  "ours"        the engine as the node calls it, on the file's bytes;
//             "tjs"         transformers.js's pipeline, fed the clip decoded beforehand
//                           (a Float32Array at the model's rate: its cost is not counted);
//             "tjs-wavefile" transformers.js the way its Node guide does it: the file
//                           read by wavefile (32-bit float, resampled, channels merged)
//                           and then the pipeline, both counted;
//             "n8n"         a workflow of `items` copies of the file through the node
//                           under n8n's engine; the node's own rate (n8n's executionTime
//                           for the node) and the whole workflow's.
//   runs      timed runs of `items` items after an untimed warm-up of twice as many
//             (a long-running n8n's steady state; the same for every pipeline), median reported;
//   cold      no warm-up, one run, the model's load counted (the node's first
//             execution, or pipeline() for transformers.js).
'use strict';
const { readFileSync } = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const job = { runs: 1, ...JSON.parse(process.argv[2]) };
const { median, peakRssMB, wavefileSamples } = require(path.join(ROOT, 'scripts', 'lib', 'bench'));
const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;

/** Items per second over `items` calls of fn, per run, after the warm-up (none when cold). */
async function rates(fn) {
	if (!job.cold) for (let i = 0; i < 2 * job.items; i++) await fn();
	const out = [];
	for (let r = 0; r < job.runs; r++) {
		const t0 = process.hrtime.bigint();
		for (let i = 0; i < job.items; i++) await fn();
		out.push(job.items / seconds(t0));
	}
	return out;
}

async function main() {
	const bytes = readFileSync(job.file);
	if (job.pipeline === 'n8n') {
		const { runClassifierWorkflow } = require(path.join(ROOT, 'scripts', 'lib', 'n8n-harness.js'));
		const { AudioClassification } = require(path.join(ROOT, 'dist', 'nodes', 'AudioClassification', 'AudioClassification.node.js'));
		const files = Array.from({ length: job.items }, () => ({ path: job.file }));
		const run = () => runClassifierWorkflow({ classifier: new AudioClassification(), files, parameters: { topK: 1, outputMode: 'perInput', ...job.parameters } });
		if (!job.cold) for (let i = 0; i < 2; i++) await run();
		const whole = [];
		const own = [];
		for (let r = 0; r < job.runs; r++) {
			const t0 = process.hrtime.bigint();
			const result = await run();
			whole.push(job.items / seconds(t0));
			if (result.error || result.items.length !== job.items) throw result.error ?? new Error('missing items');
			own.push(job.items / (result.executionTime / 1000));
		}
		return { rate: median(own), rates: own, whole: median(whole) };
	}
	const engine = require(path.join(ROOT, 'dist', 'src'));
	if (job.pipeline === 'ours') {
		const spec = engine.loadModelSpec(job.dir, 'auto', path.basename(job.dir));
		const r = await rates(() => engine.classifyAudio(bytes, spec, { topK: 5, functionToApply: 'auto', device: 'cpu' }));
		await engine.sessionCache.clear();
		return { rate: median(r), rates: r };
	}
	const { pipeline, env } = await import('@huggingface/transformers');
	env.allowRemoteModels = false;
	env.localModelPath = '/';
	const rate = JSON.parse(readFileSync(path.join(job.dir, 'preprocessor_config.json'), 'utf8')).sampling_rate ?? 16000;
	const t0 = process.hrtime.bigint();
	const pipe = await pipeline('audio-classification', job.dir, { dtype: 'fp32', device: 'cpu' });
	const load = seconds(t0);
	let r;
	if (job.pipeline === 'tjs-wavefile') {
		r = await rates(() => pipe(wavefileSamples(bytes, rate), { top_k: 5 }));
	} else {
		const { samples } = await engine.decodeAudio(bytes, { samplingRate: rate });
		r = await rates(() => pipe(samples, { top_k: 5 }));
	}
	await pipe.dispose();
	// cold: the pipeline's construction (the model's load) counts, as the node's first execution includes it
	if (job.cold) r = r.map((rate) => job.items / (job.items / rate + load));
	return { rate: median(r), rates: r };
}

main().then(
	(result) => console.log(JSON.stringify({ ...result, peakRssMB: peakRssMB() })),
	(e) => {
		console.error(e);
		process.exitCode = 1;
	},
);
