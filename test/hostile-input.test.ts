/**
 * Every upload to a public webhook is untrusted. The generated corpus of bad
 * inputs (scripts/security/bad-inputs.js) goes through the node under n8n's
 * engine: one output per input, a clear error with a hint for each bad one,
 * n8n's event loop never blocked long, memory bounded, nothing left behind.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';

import { sessionCache } from '../src/inference/session-cache';
import { systemFfmpeg } from './helpers/fixtures';
import { runClassifier } from './helpers/n8n';

const { buildCases } = require('../scripts/security/bad-inputs.js') as {
	buildCases: (o: { ffmpegPath?: string }) => Array<{ name: string; bytes: Buffer; fileName?: string; expect: 'ok' | 'error' | 'any'; match?: string }>;
};

if (!systemFfmpeg) console.log('hostile-input: ffmpeg not on PATH, compressed-format cases skipped (CI installs ffmpeg)');
const cases = buildCases({ ffmpegPath: systemFfmpeg });
let dir: string;

beforeAll(() => {
	dir = mkdtempSync(path.join(tmpdir(), 'hostile-corpus-'));
	for (const c of cases) writeFileSync(path.join(dir, c.name), c.bytes);
});
afterAll(async () => {
	rmSync(dir, { recursive: true, force: true });
	await sessionCache.clear();
});

const files = () => cases.map((c) => ({ path: path.join(dir, c.name), fileName: c.fileName ?? `${c.name}.bin` }));

function childProcesses(): number[] {
	const kids: number[] = [];
	for (const task of readdirSync(`/proc/${process.pid}/task`)) {
		const list = readFileSync(`/proc/${process.pid}/task/${task}/children`, 'utf8').trim();
		if (list) kids.push(...list.split(/\s+/).map(Number));
	}
	return kids;
}

// The engine's temp files go to os.tmpdir(): a private one per run, so other test files cannot interfere.
let privateTmp = '';
const leftoverTemp = () => readdirSync(privateTmp);

describe('the bad-input corpus through the node (built-in model, Continue On Fail)', () => {
	it(`gives each of the ${cases.length} inputs exactly one item: its labels or a clear error`, async () => {
		privateTmp = mkdtempSync(path.join(tmpdir(), 'hostile-tmp-'));
		const savedTmp = process.env.TMPDIR;
		process.env.TMPDIR = privateTmp;
		const delay = monitorEventLoopDelay({ resolution: 10 });
		let peakRss = process.memoryUsage().rss;
		const rssBefore = peakRss;
		const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
		delay.enable();
		let run;
		try {
			run = await runClassifier(files(), { outputMode: 'perInput', topK: 3 }, { onError: 'continueRegularOutput' });
		} finally {
			delay.disable();
			clearInterval(sampler);
			process.env.TMPDIR = savedTmp;
		}
		const { items, error } = run;

		expect(error).toBeUndefined();
		expect(items).toHaveLength(cases.length);
		items.forEach((item, i) => {
			const c = cases[i];
			expect({ name: c.name, paired: (item.pairedItem as { item: number }).item }).toEqual({ name: c.name, paired: i });
			const json = item.json as { error?: string; hint?: string; label?: string };
			if (json.error !== undefined) {
				expect({ name: c.name, error: json.error, outcome: 'error' }).toMatchObject({ name: c.name, outcome: c.expect === 'ok' ? 'ok' : 'error' });
				// Our own errors carry a hint; anything unexpected would arrive without one.
				expect({ name: c.name, hint: Boolean(json.hint) }).toEqual({ name: c.name, hint: true });
				if (c.match) expect(json.error).toMatch(new RegExp(c.match));
				expect(json.error).not.toMatch(/root:|\/etc\/passwd:/);
			} else {
				expect({ name: c.name, outcome: 'ok' }).toEqual({ name: c.name, outcome: c.expect === 'error' ? 'error' : 'ok' });
				expect(typeof json.label).toBe('string');
			}
		});
		const maxDelayMs = delay.max / 1e6;
		const rssGrowthMb = (peakRss - rssBefore) / 2 ** 20;
		console.log(`hostile-input: ${cases.length} cases, max event-loop delay ${maxDelayMs.toFixed(0)} ms, RSS growth ${rssGrowthMb.toFixed(0)} MB`);
		expect(maxDelayMs).toBeLessThan(250);
		expect(rssGrowthMb).toBeLessThan(600);
		expect(childProcesses()).toEqual([]);
		expect(leftoverTemp()).toEqual([]); // the M4A temp copies were made here, and removed
		rmSync(privateTmp, { recursive: true, force: true });
	}, 300_000);

	it('One Item per Label: no input vanishes, even when Minimum Score drops every label', async () => {
		const { items, error } = await runClassifier(files(), { outputMode: 'perLabel', topK: 3, options: { minScore: 0.9999 } }, { onError: 'continueRegularOutput' });
		expect(error).toBeUndefined();
		const perInput = new Map<number, number>();
		for (const item of items) {
			const i = (item.pairedItem as { item: number }).item;
			perInput.set(i, (perInput.get(i) ?? 0) + 1);
		}
		expect([...perInput.keys()].sort((a, b) => a - b)).toEqual(cases.map((_, i) => i));
		for (const item of items) {
			if (item.json.error !== undefined) expect(perInput.get((item.pairedItem as { item: number }).item)).toBe(1);
		}
		const empty = items.find((i) => i.json.error === undefined && i.json.label === null);
		expect(empty?.json).toMatchObject({ label: null, score: null, rank: null, binaryProperty: 'data' });
	}, 300_000);
});
