#!/usr/bin/env node
// Feature-extraction speed (npm run bench:features): milliseconds per clip for
// each extractor, and how many times faster than real time that is.
const path = require('node:path');

const { getFeatureExtractor } = require(path.join(__dirname, '..', 'dist', 'src', 'features'));

const SECONDS = 5;
const ROUNDS = Number(process.env.BENCH_ROUNDS || 10);
const samples = new Float32Array(16000 * SECONDS).map((_, i) => 0.3 * Math.sin(i / 10) + 0.01 * Math.sin(i * 1.7));

for (const [type, config] of [
	['Wav2Vec2FeatureExtractor', { do_normalize: true }],
	['ASTFeatureExtractor', {}],
	['WhisperFeatureExtractor', {}],
]) {
	const extractor = getFeatureExtractor(type);
	extractor.extract(samples, config); // warm-up (and table building)
	const times = [];
	for (let r = 0; r < ROUNDS; r++) {
		const t = process.hrtime.bigint();
		extractor.extract(samples, config);
		times.push(Number(process.hrtime.bigint() - t) / 1e6);
	}
	const median = times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
	console.log(`${type.padEnd(26)} ${median.toFixed(1).padStart(7)} ms per ${SECONDS} s clip  (${((SECONDS * 1000) / median).toFixed(0)}x real time)`);
}
