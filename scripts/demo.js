#!/usr/bin/env node
// `npm run demo`: classifies the bundled sample clips with the built-in model,
// through the node as n8n runs it (n8n-core's WorkflowExecute), offline, and
// prints a table. Run after `npm ci` (the npm script builds dist/ first).
const { readdirSync } = require('node:fs');
const path = require('node:path');

const { runClassifierWorkflow } = require('./lib/n8n-harness');

const ROOT = path.join(__dirname, '..');
const SAMPLES = path.join(ROOT, 'test', 'fixtures', 'speech-commands');

async function main() {
	const { AudioClassification } = require(path.join(ROOT, 'dist', 'nodes', 'AudioClassification', 'AudioClassification.node.js'));
	const files = readdirSync(SAMPLES).filter((f) => f.endsWith('.wav')).sort();
	const started = process.hrtime.bigint();
	const { items, error } = await runClassifierWorkflow({
		classifier: new AudioClassification(),
		files: files.map((f) => ({ path: path.join(SAMPLES, f) })),
		// The node's defaults: Built-in model, One Item per Input here for a compact table.
		parameters: { outputMode: 'perInput', topK: 3 },
	});
	const totalMs = Number(process.hrtime.bigint() - started) / 1e6;
	if (error) throw error;

	const rows = items.map((item) => {
		const file = item.json.fileName;
		const expected = /^(_[a-z]+_|[a-z]+)__/.exec(String(file))[1];
		const top = item.json.labels.map((l) => `${l.label} ${l.score.toFixed(3)}`).join('  ');
		return { file, expected, label: item.json.label, top };
	});
	const width = Math.max(...rows.map((r) => r.file.length));
	console.log(`Model: ${items[0].json.model} (built-in, offline)\n`);
	console.log(`${'file'.padEnd(width)}  ok  top labels (score)`);
	for (const r of rows) {
		console.log(`${r.file.padEnd(width)}  ${r.label === r.expected ? 'yes' : 'NO '}  ${r.top}`);
	}
	const correct = rows.filter((r) => r.label === r.expected).length;
	console.log(
		`\n${correct}/${rows.length} top labels as expected; ${rows.length} clips in ${totalMs.toFixed(0)} ms ` +
			`(${(totalMs / rows.length).toFixed(1)} ms per clip, including model load and decoding).`,
	);
}

main().catch((e) => {
	console.error(`demo failed: ${e.message}${e.description ? `\n${e.description}` : ''}`);
	process.exit(1);
});
