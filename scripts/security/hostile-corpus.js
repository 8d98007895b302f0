#!/usr/bin/env node
// The hostile-input corpus (bad-inputs.js) through the built node under
// n8n's engine, in a plain Node process as n8n runs it, with Continue On
// Fail: prints one line per case, the longest event-loop delay, the RSS
// growth, the child processes left, and (with --json) a RESULT line the
// jest test reads. Run after `npm run build`:
//   node scripts/security/hostile-corpus.js [--json]
// jest's module sandbox keeps large buffers alive longer and adds GC pauses
// of its own, so the event-loop figure is measured here, not inside jest.
'use strict';
const { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const path = require('node:path');
const { monitorEventLoopDelay } = require('node:perf_hooks');
const { execFileSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..', '..');
process.env.N8N_RESTRICT_FILE_ACCESS_TO ??= [ROOT, tmpdir()].join(';');

const { buildCases } = require('./bad-inputs');
const { runClassifierWorkflow } = require('../lib/n8n-harness');

function systemFfmpeg() {
	try {
		return execFileSync('sh', ['-c', 'command -v ffmpeg'], { encoding: 'utf8' }).trim() || undefined;
	} catch {
		return undefined;
	}
}

function childProcesses() {
	const kids = [];
	for (const task of readdirSync(`/proc/${process.pid}/task`)) {
		const list = readFileSync(`/proc/${process.pid}/task/${task}/children`, 'utf8').trim();
		if (list) kids.push(...list.split(/\s+/).map(Number));
	}
	return kids;
}

async function main() {
	const json = process.argv.includes('--json');
	const { AudioClassification } = require(path.join(ROOT, 'dist', 'nodes', 'AudioClassification', 'AudioClassification.node.js'));
	const { sessionCache } = require(path.join(ROOT, 'dist', 'src'));
	const cases = buildCases({ ffmpegPath: systemFfmpeg() });
	const dir = mkdtempSync(path.join(tmpdir(), 'hostile-corpus-'));
	try {
		for (const c of cases) writeFileSync(path.join(dir, c.name), c.bytes);
		const files = cases.map((c) => ({ path: path.join(dir, c.name), fileName: c.fileName ?? `${c.name}.bin` }));
		const delay = monitorEventLoopDelay({ resolution: 10 });
		const rssBefore = process.memoryUsage().rss;
		let peakRss = rssBefore;
		const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
		delay.enable();
		let run;
		try {
			run = await runClassifierWorkflow({
				classifier: new AudioClassification(),
				files,
				parameters: { outputMode: 'perInput', topK: 3 },
				nodeSettings: { onError: 'continueRegularOutput' },
			});
		} finally {
			delay.disable();
			clearInterval(sampler);
		}
		await sessionCache.clear();
		const result = {
			cases: cases.map(({ name, expect, match }) => ({ name, expect, match })),
			items: run.items.map((i) => ({ json: i.json, pairedItem: i.pairedItem })),
			error: run.error ? String(run.error.message ?? run.error) : undefined,
			maxDelayMs: delay.max / 1e6,
			rssGrowthMb: (peakRss - rssBefore) / 2 ** 20,
			children: childProcesses(),
		};
		if (json) {
			console.log('RESULT ' + JSON.stringify(result));
		} else {
			run.items.forEach((item, i) => {
				const j = item.json;
				console.log(`${cases[i].name.padEnd(28)} ${j.error !== undefined ? 'error: ' + j.error : j.label + ' ' + Number(j.score).toFixed(3)}`);
			});
			console.log(`${cases.length} cases, max event-loop delay ${result.maxDelayMs.toFixed(0)} ms, RSS growth ${result.rssGrowthMb.toFixed(0)} MB, child processes left ${result.children.length}`);
		}
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
