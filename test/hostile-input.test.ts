/**
 * Every upload to a public webhook is untrusted. The generated corpus of bad
 * inputs (scripts/security/bad-inputs.js) goes through the node under n8n's
 * engine: one output per input, a clear error with a hint for each bad one,
 * n8n's event loop never blocked long, memory bounded, nothing left behind.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

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

describe('the bad-input corpus through the node (built-in model, Continue On Fail)', () => {
	it(`gives each of the ${cases.length} inputs exactly one item: its labels or a clear error`, () => {
		// The built node in a plain Node process under n8n's engine (scripts/security/hostile-corpus.js),
		// as n8n runs it: jest's sandbox adds GC pauses of its own around large buffers, which would
		// be measured as the node's. Its temp files go to a private folder, checked empty afterwards.
		const privateTmp = mkdtempSync(path.join(tmpdir(), 'hostile-tmp-'));
		let out: string;
		try {
			out = execFileSync(process.execPath, [path.join(__dirname, '..', 'scripts', 'security', 'hostile-corpus.js'), '--json'], {
				encoding: 'utf8',
				maxBuffer: 1 << 26,
				env: { ...process.env, TMPDIR: privateTmp },
			});
			// The M4A temp copies (src/audio/ffmpeg.ts, n8n-audio-*) were made here, and removed.
			// (ONNX Runtime's empty mat-debug-<pid>.log and n8n-core's .ses are not ours.)
			expect(readdirSync(privateTmp).filter((f) => f.startsWith('n8n-audio-'))).toEqual([]);
		} finally {
			rmSync(privateTmp, { recursive: true, force: true });
		}
		const run = JSON.parse(out.split('\n').find((l) => l.startsWith('RESULT '))!.slice(7)) as {
			cases: Array<{ name: string; expect: string; match?: string }>;
			items: Array<{ json: { error?: string; hint?: string; label?: string }; pairedItem: { item: number } }>;
			error?: string;
			maxDelayMs: number;
			rssGrowthMb: number;
			children: number[];
		};

		expect(run.error).toBeUndefined();
		expect(run.cases.map((c) => c.name)).toEqual(cases.map((c) => c.name));
		expect(run.items).toHaveLength(cases.length);
		run.items.forEach((item, i) => {
			const c = cases[i];
			expect({ name: c.name, paired: item.pairedItem.item }).toEqual({ name: c.name, paired: i });
			const json = item.json;
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
		console.log(`hostile-input: ${cases.length} cases, max event-loop delay ${run.maxDelayMs.toFixed(0)} ms, RSS growth ${run.rssGrowthMb.toFixed(0)} MB`);
		// Its event-loop bound is checked by scripts/security/event-loop.js (CI), in plain processes with a margin.
		expect(run.rssGrowthMb).toBeLessThan(600);
		expect(run.children).toEqual([]);
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
