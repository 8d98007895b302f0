/**
 * Benchmarks in the real n8n (`npm run bench:n8n`): the pinned release `npm run test:e2e`
 * installs, this package installed as n8n's installer does, and beside it a bench-only node
 * running transformers.js's pipeline (bench/n8n-tjs). Each row is `n8n execute` of a workflow
 * Manual Trigger -> Read Files -> node "first" -> node "second" (the same node twice, on the
 * same items), a fresh n8n process per execution: "first" is the first execution after n8n's
 * start (cold: the model's load, WebAssembly compiles and the worker threads' start
 * included), "second" the same work warm. Times are n8n's own executionTime of each node.
 * Configurations alternate process by process; medians of ROUNDS processes (default 3).
 * Prints markdown tables (BENCHMARKS.md: "In the real n8n"). BENCH_WAVEFILE=1 adds transformers.js
 * fed through wavefile, as its Node guide reads a WAV (slow: 26.8 s for the 40 clips here).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { builtInForTjs } from '../scripts/lib/bench';
import { type N8nInstance, prepareN8n } from '../test/e2e/n8n-instance';

const REPO = path.join(__dirname, '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const OURS = 'n8n-nodes-audio-classification.audioClassification';
const TJS = 'n8n-nodes-bench-tjs.benchTransformersJs';

let n8n: N8nInstance;
let work: string;
let astDir: string;
const tables: string[] = [];

/** The bench node as a package tarball (its transformers.js and wavefile from the npm registry). */
function packTjsNode(dir: string): string {
	const pkg = path.join(dir, 'n8n-nodes-bench-tjs');
	mkdirSync(pkg, { recursive: true });
	const deps = require('../package.json').devDependencies as Record<string, string>;
	writeFileSync(
		path.join(pkg, 'package.json'),
		JSON.stringify({
			name: 'n8n-nodes-bench-tjs',
			version: '0.0.0',
			private: true,
			n8n: { n8nNodesApiVersion: 1, nodes: ['BenchTransformersJs.node.js'] },
			dependencies: { '@huggingface/transformers': deps['@huggingface/transformers'], wavefile: deps.wavefile },
		}),
	);
	copyFileSync(path.join(REPO, 'bench', 'n8n-tjs', 'BenchTransformersJs.node.js'), path.join(pkg, 'BenchTransformersJs.node.js'));
	copyFileSync(path.join(REPO, 'scripts', 'lib', 'bench.js'), path.join(pkg, 'bench-lib.js'));
	const out = execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: pkg, encoding: 'utf8' });
	return path.join(dir, out.trim().split('\n').pop()!);
}

/** `count` copies of a `seconds`-long clip of looped speech in `format`, in a folder of n8n's audio folder. */
function clips(name: string, seconds: number, count: number, format: 'wav' | 'ogg', rate = 16_000): string {
	const dir = path.join(n8n.audioDir, 'bench', name);
	mkdirSync(dir, { recursive: true });
	const one = path.join(work, `${name}.${format}`);
	const codec = format === 'ogg' ? ['-c:a', 'libopus', '-b:a', '24k'] : ['-c:a', 'pcm_s16le'];
	const speech = path.join(REPO, 'test', 'fixtures', 'audio', 'speech-16k-mono-s16.wav');
	execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '-1', '-i', speech, '-t', String(seconds), '-ar', String(rate), '-ac', '1', ...codec, one]);
	for (let i = 0; i < count; i++) copyFileSync(one, path.join(dir, `clip-${String(i).padStart(3, '0')}.${format}`));
	return `${dir}/*.${format}`;
}

interface Timing {
	first: number;
	second: number;
	items: number;
}

/** One fresh n8n process: the workflow's two classifier nodes' executionTime (ms). */
function run(id: string, type: string, parameters: Record<string, unknown>, files: string, env: NodeJS.ProcessEnv = {}): Timing {
	const node = (name: string, x: number) => ({ id: `${id}-${name}`, name, type, typeVersion: 1, position: [x, 0], parameters });
	n8n.importWorkflow({
		id,
		name: id,
		nodes: [
			{ id: `${id}-start`, name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{ id: `${id}-read`, name: 'Read', type: 'n8n-nodes-base.readWriteFile', typeVersion: 1.1, position: [200, 0], parameters: { fileSelector: files, options: {} } },
			node('first', 400),
			node('second', 600),
		],
		connections: {
			Start: { main: [[{ node: 'Read', type: 'main', index: 0 }]] },
			Read: { main: [[{ node: 'first', type: 'main', index: 0 }]] },
			first: { main: [[{ node: 'second', type: 'main', index: 0 }]] },
		},
		settings: {},
	});
	const r = n8n.execute(id, env);
	if (r.status !== 'success') throw new Error(`${id}: ${r.status} ${JSON.stringify(r.runData.first?.[0]?.error ?? r.runData.second?.[0]?.error ?? r.output.slice(-800))}`);
	const time = (name: string) => (r.runData[name][0] as unknown as { executionTime: number }).executionTime;
	return { first: time('first'), second: time('second'), items: r.runData.second[0].data!.main[0].length };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const range = (xs: number[]) => `${Math.min(...xs)}-${Math.max(...xs)}`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;

/** Each configuration ROUNDS times, alternating process by process. */
function rounds(configs: Array<{ name: string; go: (round: number) => Timing }>): Map<string, Timing[]> {
	const out = new Map<string, Timing[]>(configs.map((c) => [c.name, []]));
	for (let k = 0; k < ROUNDS; k++) for (const c of configs) out.get(c.name)!.push(c.go(k));
	return out;
}

beforeAll(() => {
	work = mkdtempSync(path.join(tmpdir(), 'bench-n8n-'));
	n8n = prepareN8n([packTjsNode(work)]);
	astDir = path.join(n8n.audioDir, 'models', 'tiny-ast');
	cpSync(path.join(REPO, 'test', 'fixtures', 'models', 'tiny-ast'), astDir, { recursive: true });
});

afterAll(() => {
	n8n?.cleanup();
	if (work) rmSync(work, { recursive: true, force: true });
	console.log(`\n${tables.join('\n\n')}\n`);
});

it('tiny AST, 40 x 10 s WAV: ours (feature helper thread on and off) beside transformers.js, cold and warm', () => {
	const files = clips('ast-10s', 10, 40, 'wav');
	const ast = { topK: 1, outputMode: 'perInput', modelSource: 'localFolder', modelPath: astDir, options: {} };
	const r = rounds([
		{ name: 'ours', go: (k) => run(`astOurs${k}`, OURS, ast, files) },
		{ name: 'ours, FEATURE_THREAD=0', go: (k) => run(`astOursNoThread${k}`, OURS, ast, files, { N8N_AUDIO_CLASSIFICATION_FEATURE_THREAD: '0' }) },
		{ name: 'transformers.js (PCM read directly)', go: (k) => run(`astTjs${k}`, TJS, { modelPath: astDir, read: 'pcm16' }, files) },
		...(process.env.BENCH_WAVEFILE ? [{ name: 'transformers.js (wavefile, its guide)', go: (k: number) => run(`astTjsWavefile${k}`, TJS, { modelPath: astDir }, files) }] : []),
	]);
	const tjs = r.get('transformers.js (PCM read directly)')!;
	const rows = [...r].map(([name, t]) => {
		const [first, second] = [median(t.map((x) => x.first)), median(t.map((x) => x.second))];
		return `| ${name} | ${first} (${range(t.map((x) => x.first))}) | ${second} (${range(t.map((x) => x.second))}) | ${ratio(first, median(tjs.map((x) => x.first)))} | ${ratio(second, median(tjs.map((x) => x.second)))} |`;
	});
	tables.push(
		[
			`tiny AST, 40 x 10 s WAV, real n8n, ${ROUNDS} fresh processes each (ms, median and range)`,
			'',
			'| pipeline | first execution (cold) | second (warm) | cold / tjs | warm / tjs |',
			'|---|---|---|---|---|',
			...rows,
		].join('\n'),
	);
	for (const t of r.values()) for (const x of t) expect(x.items).toBe(40);
});

it('the helper thread by clip length (tiny AST, 40 clips, warm)', () => {
	const ast = { topK: 1, outputMode: 'perInput', modelSource: 'localFolder', modelPath: astDir, options: {} };
	const lines: string[] = [];
	for (const seconds of [2, 30]) {
		const files = clips(`ast-${seconds}s`, seconds, 40, 'wav');
		const r = rounds([
			{ name: 'on', go: (k) => run(`astLen${seconds}On${k}`, OURS, ast, files) },
			{ name: 'off', go: (k) => run(`astLen${seconds}Off${k}`, OURS, ast, files, { N8N_AUDIO_CLASSIFICATION_FEATURE_THREAD: '0' }) },
		]);
		const [on, off] = [r.get('on')!, r.get('off')!].map((t) => median(t.map((x) => x.second)));
		lines.push(`| ${seconds} s | ${on} (${range(r.get('on')!.map((x) => x.second))}) | ${off} (${range(r.get('off')!.map((x) => x.second))}) | ${(on / off).toFixed(2)}x |`);
	}
	tables.push(['feature helper thread, tiny AST, 40 clips, warm (ms)', '', '| clip | thread on | thread off | on / off |', '|---|---|---|---|', ...lines].join('\n'));
});

it('built-in model: the first result after n8n starts, and 100 one-second notes warm, beside transformers.js', () => {
	const builtIn = { topK: 1, outputMode: 'perInput', options: {} };
	// transformers.js has no DS-CNN: the built-in model's files with a wav2vec2 config, as bench/run.js gives it
	const tjs = { modelPath: builtInForTjs(path.join(REPO, 'models', 'speech-commands-dscnn'), path.join(n8n.audioDir, 'models', 'builtin-for-tjs')), read: 'pcm16' };
	const lines: string[] = [];
	// The first result with the prewarm (src/prewarm.ts, the default) and without it, alternating
	const one = clips('one-wav', 1, 1, 'wav');
	const oneOgg = clips('one-ogg', 1, 1, 'ogg', 48_000);
	const off = { N8N_AUDIO_CLASSIFICATION_PREWARM: 'false' };
	const firsts = rounds([
		{ name: 'WAV', go: (k) => run(`builtInOne${k}`, OURS, builtIn, one) },
		{ name: 'WAV, prewarm off', go: (k) => run(`builtInOneOff${k}`, OURS, builtIn, one, off) },
		{ name: 'WAV, transformers.js', go: (k) => run(`builtInOneTjs${k}`, TJS, tjs, one) },
		{ name: 'Ogg/Opus', go: (k) => run(`builtInOneOgg${k}`, OURS, builtIn, oneOgg) },
		{ name: 'Ogg/Opus, prewarm off', go: (k) => run(`builtInOneOggOff${k}`, OURS, builtIn, oneOgg, off) },
	]);
	const firstOf = (name: string) => median(firsts.get(name)!.map((x) => x.first));
	for (const [name, t] of firsts) {
		const versus = firsts.has(`${name}, prewarm off`) ? ` (${ratio(firstOf(name), firstOf(`${name}, prewarm off`))} of prewarm off${name === 'WAV' ? `, ${ratio(firstOf(name), firstOf('WAV, transformers.js'))} of transformers.js` : ''})` : '';
		lines.push(`| 1 x 1 s ${name} | ${median(t.map((x) => x.first))} ms (${range(t.map((x) => x.first))})${versus} | ${median(t.map((x) => x.second))} ms |`);
	}
	const perSecond = (ms: number) => Math.round(100 / (ms / 1000));
	const wav = clips('hundred-wav', 1, 100, 'wav');
	const ogg = clips('hundred-ogg', 1, 100, 'ogg', 48_000);
	const hundred = rounds([
		{ name: 'WAV', go: (k) => run(`builtIn100wav${k}`, OURS, builtIn, wav) },
		{ name: 'WAV, transformers.js', go: (k) => run(`builtIn100tjs${k}`, TJS, tjs, wav) },
		{ name: 'Ogg/Opus', go: (k) => run(`builtIn100ogg${k}`, OURS, builtIn, ogg) },
	]);
	for (const [name, t] of hundred) {
		lines.push(`| 100 x 1 s ${name} | ${perSecond(median(t.map((x) => x.first)))} notes/s | ${perSecond(median(t.map((x) => x.second)))} notes/s (${t.map((x) => perSecond(x.second)).join(', ')}) |`);
	}
	tables.push([`built-in model, real n8n, ${ROUNDS} fresh processes each`, '', '| workflow | first execution (cold) | second (warm) |', '|---|---|---|', ...lines].join('\n'));
});
