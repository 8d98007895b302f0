#!/usr/bin/env node
// This package against transformers.js and against the floor, in one run, on
// the same ONNX files and clips (npm run bench; numbers go to BENCHMARKS.md).
//
//   npm run bench                 everything (about 10 minutes on 2 cores)
//   npm run bench -- --quick      fewer rounds (a smoke run)
//   npm run bench -- --base       also the base-size wav2vec2-shaped model (94.6 M)
//   npm run bench -- --base-only  only that model's end-to-end rows
//
// Pipelines:
//   ours   the engine as the node calls it: classifyAudio(file bytes) (decode,
//          features, ONNX Runtime in its worker thread, post-processing);
//   tjs    @huggingface/transformers pipeline('audio-classification', <local
//          folder>), local files only, fed a Float32Array at the model's rate
//          (its docs' way in Node: its read_audio needs the browser's
//          AudioContext, which is checked and reported);
//   floor  onnxruntime-node session.run alone, on precomputed inputs.
// All three use ONNX Runtime 1.30 with its default threads (2 here).
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { homedir, tmpdir, cpus } = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
// n8n's file-access rules (read when n8n-core first loads): the fixture models may be read, as an admin allows them.
process.env.N8N_RESTRICT_FILE_ACCESS_TO ??= [ROOT, tmpdir()].join(';');
const engine = require(path.join(ROOT, 'dist', 'src'));
const { getFeatureExtractor } = require(path.join(ROOT, 'dist', 'src', 'features'));
const ort = require('onnxruntime-node');

const QUICK = process.argv.includes('--quick');
const BASE_ONLY = process.argv.includes('--base-only');
const BASE = BASE_ONLY || process.argv.includes('--base');
const ROUNDS = QUICK ? 5 : 20;
const ITEMS = QUICK ? 20 : 100;
const ffmpeg = process.env.FFMPEG_PATH || '/usr/bin/ffmpeg';
const MODELS_DIR = path.join(ROOT, 'test', 'fixtures', 'models');
const work = mkdtempSync(path.join(tmpdir(), 'bench-'));

const { stats, timings } = require(path.join(ROOT, 'scripts', 'lib', 'bench'));
const time = async (fn, rounds = ROUNDS) => stats(await timings(fn, rounds));
const ms = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const rows = [];
const report = (section, row) => {
	rows.push({ section, ...row });
	console.log(`[${section}] ${Object.entries(row).map(([k, v]) => `${k}=${typeof v === 'number' ? ms(v) : v}`).join('  ')}`);
};

/** A clip of real speech (the fixture, looped) in a format, made by ffmpeg. */
function clip(seconds, format, channels = 1) {
	const file = path.join(work, `clip-${seconds}s-${channels}ch.${format}`);
	if (!existsSync(file)) {
		const args = { wav: ['-c:a', 'pcm_s16le'], mp3: ['-b:a', '96k'], ogg: ['-c:a', 'libopus', '-b:a', '24k'], m4a: ['-c:a', 'aac', '-b:a', '64k'] }[format];
		const rate = format === 'ogg' ? '48000' : channels === 2 ? '44100' : '16000';
		execFileSync(ffmpeg, ['-v', 'error', '-stream_loop', '-1', '-i', path.join(ROOT, 'test', 'fixtures', 'audio', 'speech-16k-mono-s16.wav'),
			'-t', String(seconds), '-ac', String(channels), '-ar', rate, ...args, file]);
	}
	return readFileSync(file);
}

/** The bundled model for transformers.js: the same ONNX file, a config it can map (its input is input_values, as wav2vec2's). */
function bundledForTjs() {
	const { dir } = engine.resolveBuiltIn('speech-commands-dscnn');
	const out = path.join(work, 'models', 'bundled');
	cpSync(dir, out, { recursive: true });
	const config = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8'));
	writeFileSync(path.join(out, 'config.json'), JSON.stringify({ ...config, model_type: 'wav2vec2', architectures: ['Wav2Vec2ForSequenceClassification'] }));
	return out;
}

async function main() {
	const { pipeline, env, AutoFeatureExtractor, read_audio } = await import('@huggingface/transformers');
	env.allowRemoteModels = false;
	env.localModelPath = '/';
	console.log(`machine: ${cpus().length} x ${cpus()[0].model}, node ${process.version}, onnxruntime-node ${require('onnxruntime-node/package.json').version}, transformers.js ${JSON.parse(readFileSync(path.join(ROOT, 'node_modules', '@huggingface', 'transformers', 'package.json'), 'utf8')).version}`);
	try {
		await read_audio(path.join(ROOT, 'test', 'fixtures', 'audio', 'speech-16k-mono-s16.wav'), 16000);
		console.log('transformers.js read_audio: works in Node');
	} catch (e) {
		console.log(`transformers.js read_audio in Node: ${String(e.message).split('.')[0]} (so it is fed Float32Arrays)`);
	}

	if (process.argv.includes('--n8n-only')) return await throughN8n(pipeline);

	// ---- features: same clip, same config, ours vs transformers.js's extractor
	for (const [model, seconds] of BASE_ONLY ? [] : [['tiny-ast', 10], ['tiny-ast', 1], ['tiny-whisper', 10], ['tiny-whisper', 1], ['tiny-clap', 10], ['tiny-clap', 1], ['tiny-wav2vec2', 10]]) {
		const dir = path.join(MODELS_DIR, model);
		const config = JSON.parse(readFileSync(path.join(dir, 'preprocessor_config.json'), 'utf8'));
		const samples = (await engine.decodeAudio(clip(seconds, 'wav'), { samplingRate: config.sampling_rate ?? 16000 })).samples;
		const ours = getFeatureExtractor(config.feature_extractor_type);
		const theirs = await AutoFeatureExtractor.from_pretrained(dir);
		// Steady state, as in n8n after the first such item: the feature helper thread has started.
		ours.extract(samples, config);
		await new Promise((resolve) => setTimeout(resolve, 100));
		const a = await time(() => ours.extract(samples, config));
		const b = await time(() => theirs(samples));
		report('features', { extractor: config.feature_extractor_type, clip: `${seconds} s`, ours: a.median, ours_p90: a.p90, tjs: b.median, tjs_p90: b.p90, 'tjs/ours': `${(b.median / a.median).toFixed(2)}x` });
	}

	// ---- decode: voice notes in-process vs the ffmpeg path
	for (const format of BASE_ONLY ? [] : ['wav', 'ogg', 'mp3', 'm4a']) {
		const bytes = clip(1, format);
		const a = await time(() => engine.decodeAudio(bytes, { samplingRate: 16000, decoder: 'builtIn' }));
		const b = await time(() => engine.decodeAudio(bytes, { samplingRate: 16000, decoder: 'ffmpeg', ffmpegPath: ffmpeg }), Math.min(ROUNDS, 10));
		report('decode', { clip: `1 s ${format}`, builtIn: a.median, ffmpeg: b.median, 'ffmpeg/builtIn': `${(b.median / a.median).toFixed(1)}x` });
	}

	// ---- end to end, stages, throughput: ours vs transformers.js vs the floor
	const builtIn = engine.resolveBuiltIn('speech-commands-dscnn');
	const models = [
		{ name: 'bundled speech-commands-dscnn', ours: builtIn.dir, tjs: bundledForTjs(), clips: [1, 10, 60] },
		// (60 s on a waveform transformer is refused by the inference-memory budget, by design)
		{ name: 'tiny-wav2vec2', ours: path.join(MODELS_DIR, 'tiny-wav2vec2'), clips: [1, 10] },
		{ name: 'tiny-ast', ours: path.join(MODELS_DIR, 'tiny-ast'), clips: [1, 10] },
		{ name: 'tiny-whisper', ours: path.join(MODELS_DIR, 'tiny-whisper'), tjs: null, clips: [1, 10] },
	];
	const baseDir = path.join(homedir(), '.cache', 'n8n-nodes-audio-classification', 'bench', 'wav2vec2-base-random');
	if (BASE) {
		if (!existsSync(path.join(baseDir, 'onnx', 'model.onnx'))) {
			execFileSync('/usr/bin/python3', [path.join(ROOT, 'scripts', 'bench', 'make_base_models.py'), baseDir], { stdio: 'inherit' });
		}
		models.push({ name: 'wav2vec2-base-shaped (94.6 M)', ours: baseDir, clips: [1, 10], rounds: 5 });
	}
	for (const m of BASE_ONLY ? models.slice(-1) : models) {
		const spec = engine.loadModelSpec(m.ours, 'auto', m.name);
		const tjsDir = m.tjs === undefined ? m.ours : m.tjs;
		const pipe = tjsDir ? await pipeline('audio-classification', tjsDir, { dtype: 'fp32', device: 'cpu' }) : null;
		const extractor = getFeatureExtractor(spec.preprocessor.feature_extractor_type);
		const session = await ort.InferenceSession.create(spec.onnxPath);
		const rounds = m.rounds ?? ROUNDS;
		for (const seconds of m.clips) {
			const bytes = clip(seconds, 'wav');
			const { samples } = await engine.decodeAudio(bytes, { samplingRate: spec.samplingRate });
			const features = extractor.extract(samples, spec.preprocessor);
			const feeds = Object.fromEntries(
				session.inputNames.filter((n) => features[n]).map((n) => [n, new ort.Tensor(features[n].type, features[n].data, features[n].dims)]),
			);
			const opts = { topK: 5, functionToApply: 'auto', device: 'cpu' };
			const ours = await time(() => engine.classifyAudio(bytes, spec, opts), rounds);
			const decode = await time(() => engine.decodeAudio(bytes, { samplingRate: spec.samplingRate }), rounds);
			const feat = await time(() => extractor.extract(samples, spec.preprocessor), rounds);
			const floor = await time(() => session.run(feeds), rounds);
			const theirs = pipe ? await time(() => pipe(samples, { top_k: 5 }), rounds) : null;
			report('end-to-end', {
				model: m.name,
				clip: `${seconds} s WAV`,
				ours: ours.median,
				ours_p90: ours.p90,
				decode: decode.median,
				features: feat.median,
				inference_floor: floor.median,
				post_and_overhead: Math.max(0, ours.median - decode.median - feat.median - floor.median),
				tjs: theirs ? theirs.median : 'n/a',
				tjs_p90: theirs ? theirs.p90 : 'n/a',
				'ours/floor': `${(ours.median / floor.median).toFixed(2)}x`,
				'ours/tjs': theirs ? `${(ours.median / theirs.median).toFixed(2)}x` : 'tjs has no audio-classification for this architecture',
			});
		}
		// throughput: ITEMS one-second clips, one after another, as a workflow's items
		const one = clip(1, 'wav');
		const { samples: oneSamples } = await engine.decodeAudio(one, { samplingRate: spec.samplingRate });
		const throughput = async (fn) => {
			await fn();
			const t0 = process.hrtime.bigint();
			for (let i = 0; i < ITEMS; i++) await fn();
			return ITEMS / (Number(process.hrtime.bigint() - t0) / 1e9);
		};
		if (!m.rounds) {
			const a = await throughput(() => engine.classifyAudio(one, spec, { topK: 5, functionToApply: 'auto', device: 'cpu' }));
			const b = pipe ? await throughput(() => pipe(oneSamples, { top_k: 5 })) : null;
			report('throughput', { model: m.name, items: ITEMS, 'ours clips/s': a, 'tjs clips/s': b ?? 'n/a', 'ours/tjs': b ? `${(a / b).toFixed(2)}x` : 'n/a' });
		}
		await session.release();
		if (pipe) await pipe.dispose();
		await engine.sessionCache.clear();
	}

	if (BASE_ONLY) return;
	// ---- first result in a fresh process, and its peak RSS
	// Peak RSS from /proc/self/status (VmHWM): Linux keeps ru_maxrss across exec, so a child's
	// process.resourceUsage().maxRSS would report this (large) parent's peak.
	const PEAK = `const peakRssMB = () => Number(/VmHWM:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;`;
	const child = (code) => {
		const t0 = Date.now();
		const r = spawnSync(process.execPath, ['-e', `${PEAK}\n${code}`], { cwd: ROOT, encoding: 'utf8' });
		if (r.status !== 0) throw new Error(r.stderr);
		const out = JSON.parse(r.stdout.trim().split('\n').pop());
		return { wall: Date.now() - t0, ...out };
	};
	const stopClip = path.join(ROOT, 'test', 'fixtures', 'speech-commands', 'stop__stop_105e72bb_0.wav');
	const oursFirst = child(`
const t0 = performance.now();
const e = require('./dist/src');
const { dir, model } = e.resolveBuiltIn('speech-commands-dscnn');
e.classifyAudio(require('fs').readFileSync(${JSON.stringify(stopClip)}), e.loadModelSpec(dir, 'auto', model.id), { topK: 1, functionToApply: 'auto', device: 'cpu' })
  .then(async (r) => { const first = performance.now() - t0; const rssMB = peakRssMB(); await e.sessionCache.clear(); console.log(JSON.stringify({ first, label: r.labels[0].label, rssMB })); });`);
	const tjsFirst = child(`
const t0 = performance.now();
(async () => {
  const { pipeline, env } = await import('@huggingface/transformers');
  const e = require('./dist/src');
  env.allowRemoteModels = false; env.localModelPath = '/';
  const { samples } = await e.decodeAudio(require('fs').readFileSync(${JSON.stringify(stopClip)}), { samplingRate: 16000 });
  const p = await pipeline('audio-classification', ${JSON.stringify(path.join(work, 'models', 'bundled'))}, { dtype: 'fp32', device: 'cpu' });
  const r = await p(samples, { top_k: 1 });
  console.log(JSON.stringify({ first: performance.now() - t0, label: r[0].label, rssMB: peakRssMB() }));
})();`);
	report('first-result', { model: 'bundled', 'ours ms': oursFirst.first, 'ours label': oursFirst.label, 'ours peak RSS MB': oursFirst.rssMB, 'tjs ms': tjsFirst.first, 'tjs label': tjsFirst.label, 'tjs peak RSS MB': tjsFirst.rssMB });

	await throughN8n(pipeline);
}

/**
 * A 100-item workflow through n8n's engine: items/s of the whole workflow and
 * of the node's own execution time (n8n's executionTime for the node, the
 * issue's "through the node"), each the median of three runs; on WAV against
 * transformers.js's pipeline over the same 100 decoded clips.
 */
async function throughN8n(pipeline) {
	const { runClassifierWorkflow } = require(path.join(ROOT, 'scripts', 'lib', 'n8n-harness.js'));
	const { AudioClassification } = require(path.join(ROOT, 'dist', 'nodes', 'AudioClassification', 'AudioClassification.node.js'));
	const wavFile = path.join(work, 'clip-1s-1ch.wav');
	clip(1, 'wav');
	const { samples: oneSecond } = await engine.decodeAudio(readFileSync(wavFile), { samplingRate: 16000 });
	const cases = [
		...['wav', 'ogg', 'mp3', 'm4a'].map((format) => ({ model: 'bundled', format, parameters: {}, tjs: format === 'wav' ? bundledForTjs() : null })),
		...['tiny-wav2vec2', 'tiny-ast'].map((model) => {
			const dir = path.join(MODELS_DIR, model);
			return { model, format: 'wav', parameters: { modelSource: 'localFolder', modelPath: dir }, tjs: dir };
		}),
	];
	for (const c of cases) {
		const file = path.join(work, `clip-1s-1ch.${c.format}`);
		clip(1, c.format);
		const files = Array.from({ length: ITEMS }, () => ({ path: file }));
		const run = () => runClassifierWorkflow({ classifier: new AudioClassification(), files, parameters: { topK: 1, outputMode: 'perInput', ...c.parameters } });
		await run();
		const whole = [];
		const own = [];
		for (let k = 0; k < 3; k++) {
			const t0 = process.hrtime.bigint();
			const r = await run();
			whole.push(ITEMS / (Number(process.hrtime.bigint() - t0) / 1e9));
			if (r.error || r.items.length !== ITEMS) throw r.error ?? new Error('missing items');
			own.push(ITEMS / (r.executionTime / 1000));
		}
		const median = (xs) => xs.sort((x, y) => x - y)[1];
		const row = { workflow: `${ITEMS} x 1 s ${c.format}, ${c.model}`, 'items/s (whole workflow)': median(whole), 'items/s (the node)': median(own) };
		if (c.tjs) {
			const pipe = await pipeline('audio-classification', c.tjs, { dtype: 'fp32', device: 'cpu' });
			await pipe(oneSecond, { top_k: 1 });
			const rates = [];
			for (let k = 0; k < 3; k++) {
				const t1 = process.hrtime.bigint();
				for (let i = 0; i < ITEMS; i++) await pipe(oneSecond, { top_k: 1 });
				rates.push(ITEMS / (Number(process.hrtime.bigint() - t1) / 1e9));
			}
			await pipe.dispose();
			row['tjs clips/s'] = median(rates);
			row['node/tjs'] = `${(row['items/s (the node)'] / row['tjs clips/s']).toFixed(2)}x`;
		}
		report('n8n', row);
	}
	await engine.sessionCache.clear();
	writeFileSync(path.join(work, '..', 'bench-results.json'), JSON.stringify(rows, null, 1));
	console.log(`\nrows written to ${path.join(work, '..', 'bench-results.json')}`);
}

main()
	.catch((e) => {
		console.error(e);
		process.exitCode = 1;
	})
	.finally(() => rmSync(work, { recursive: true, force: true }));
