// A bench-only n8n node (bench/real-n8n.bench.ts installs it beside this package in a real
// n8n): transformers.js's audio-classification pipeline on each item's WAV, read either the
// way its Node guide reads one (Read: wavefile: 32-bit float, resampled, channels merged) or
// the cheapest way there is for the bench's clips (Read: pcm16: 16-bit mono PCM already at the
// model's rate, its samples scaled, nothing else: transformers.js's own cost, nearly alone).
// The pipeline is kept for the process's life, as a warm n8n keeps ours; the first execution
// pays its load.
'use strict';
const { wavefileSamples } = require('./bench-lib.js');

const pipelines = new Map();

/** The samples of a 16-bit mono PCM WAV (the bench's clips), scaled to [-1, 1). */
function pcm16(bytes) {
	const at = bytes.indexOf('data', 12) + 8;
	const n = (bytes.length - at) >> 1;
	const out = new Float32Array(n);
	for (let i = 0; i < n; i++) out[i] = bytes.readInt16LE(at + 2 * i) / 32768;
	return out;
}

async function pipelineFor(dir) {
	if (!pipelines.has(dir)) {
		pipelines.set(
			dir,
			(async () => {
				const { pipeline, env } = await import('@huggingface/transformers');
				env.allowRemoteModels = false;
				env.localModelPath = '/';
				const rate = JSON.parse(require('node:fs').readFileSync(require('node:path').join(dir, 'preprocessor_config.json'), 'utf8')).sampling_rate ?? 16000;
				return { pipe: await pipeline('audio-classification', dir, { dtype: 'fp32', device: 'cpu' }), rate };
			})(),
		);
	}
	return await pipelines.get(dir);
}

class BenchTransformersJs {
	constructor() {
		this.description = {
			displayName: 'Bench Transformers.js',
			name: 'benchTransformersJs',
			group: ['transform'],
			version: 1,
			description: "transformers.js's audio-classification pipeline, for benchmarks",
			defaults: { name: 'Bench Transformers.js' },
			inputs: ['main'],
			outputs: ['main'],
			properties: [
				{ displayName: 'Model Folder', name: 'modelPath', type: 'string', default: '' },
				{ displayName: 'Read', name: 'read', type: 'string', default: 'wavefile' },
			],
		};
	}

	async execute() {
		const items = this.getInputData();
		const { pipe, rate } = await pipelineFor(this.getNodeParameter('modelPath', 0));
		const read = this.getNodeParameter('read', 0) === 'pcm16' ? pcm16 : (bytes) => wavefileSamples(bytes, rate);
		const out = [];
		for (let i = 0; i < items.length; i++) {
			const bytes = await this.helpers.getBinaryDataBuffer(i, 'data');
			const [top] = await pipe(read(bytes), { top_k: 1 });
			out.push({ json: { label: top.label, score: top.score }, binary: items[i].binary, pairedItem: { item: i } }); // the audio kept, as ours keeps it
		}
		return [out];
	}
}

module.exports = { BenchTransformersJs };
