/**
 * n8n's queue mode on loopback for the scaling test: Debian's redis-server
 * and PostgreSQL started in a private folder, one `n8n start` main and
 * `n8n worker` processes sharing the encryption key, the database, Redis
 * and a Hugging Face cache folder. Every process is a child of the test and
 * is stopped, and every folder removed, by `stop()` (called from afterAll,
 * so also when a test fails).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import type { N8nInstance } from './n8n-instance';

export interface Proc {
	name: string;
	child: ChildProcess;
	log: string;
}

function startProc(name: string, cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Proc {
	const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
	const proc: Proc = { name, child, log: '' };
	child.stdout?.on('data', (c: Buffer) => (proc.log += c.toString()));
	child.stderr?.on('data', (c: Buffer) => (proc.log += c.toString()));
	return proc;
}

async function stopProc(p: Proc, signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<void> {
	if (p.child.exitCode !== null || p.child.signalCode !== null) return;
	const exited = new Promise<void>((r) => p.child.once('exit', () => r()));
	p.child.kill(signal);
	const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
	if ((await Promise.race([exited, timer])) === 'timeout') {
		p.child.kill('SIGKILL');
		await exited;
	}
}

export async function freePort(): Promise<number> {
	return await new Promise((resolve, reject) => {
		const server = net.createServer();
		server.listen(0, '127.0.0.1', () => {
			const { port } = server.address() as net.AddressInfo;
			server.close(() => resolve(port));
		});
		server.on('error', reject);
	});
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, proc?: Proc, timeoutMs = 120_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if (proc && proc.child.exitCode !== null) throw new Error(`${proc.name} exited (${proc.child.exitCode}): ${proc.log.slice(-3000)}`);
		try {
			if (await check()) return;
		} catch {
			// not ready yet
		}
		await new Promise((r) => setTimeout(r, 300));
	}
	throw new Error(`${what} not ready in ${timeoutMs / 1000} s${proc ? `: ${proc.log.slice(-3000)}` : ''}`);
}

async function tcpAnswers(port: number, send: string, expect: RegExp): Promise<boolean> {
	return await new Promise((resolve) => {
		const s = net.connect(port, '127.0.0.1');
		let got = '';
		s.on('connect', () => s.write(send));
		s.on('data', (d) => {
			got += d.toString();
			if (expect.test(got)) {
				s.destroy();
				resolve(true);
			}
		});
		s.on('error', () => resolve(false));
		setTimeout(() => {
			s.destroy();
			resolve(false);
		}, 2000).unref();
	});
}

function postgresBin(): string {
	const base = '/usr/lib/postgresql';
	const versions = existsSync(base) ? readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
	for (const v of versions) if (existsSync(path.join(base, v, 'bin', 'postgres'))) return path.join(base, v, 'bin');
	throw new Error('PostgreSQL is not installed (Debian: apt-get install postgresql); .ci/run installs it');
}

/** PostgreSQL refuses to run as root: as root, its processes run as the `postgres` user. */
function asPostgresUser(cmd: string, args: string[]): [string, string[]] {
	if (process.getuid?.() !== 0) return [cmd, args];
	return ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', cmd, ...args]];
}

export interface QueueStack {
	root: string;
	redisPort: number;
	pgPort: number;
	mainPort: number;
	hfHome: string;
	main?: Proc;
	workers: Map<string, Proc>;
	/** Worker logs of processes that have exited (a killed or restarted worker). */
	pastLogs: Proc[];
	sql(query: string): string;
	startMain(): Promise<Proc>;
	stopMain(): Promise<void>;
	startWorker(name: string): Promise<Proc>;
	stopWorker(name: string, signal?: NodeJS.Signals): Promise<void>;
	stop(): Promise<void>;
}

export async function startQueueStack(n8n: N8nInstance, extraEnv: NodeJS.ProcessEnv): Promise<QueueStack> {
	const root = path.join(n8n.root, 'queue');
	mkdirSync(root, { recursive: true });
	const procs: Proc[] = [];
	const [redisPort, pgPort, mainPort] = [await freePort(), await freePort(), await freePort()];
	const hfHome = path.join(root, 'hf-home'); // one Hugging Face cache for every worker, as a shared volume
	mkdirSync(hfHome, { recursive: true });

	const stack: QueueStack = {
		root,
		redisPort,
		pgPort,
		mainPort,
		hfHome,
		workers: new Map(),
		pastLogs: [],
		sql(query) {
			return execFileSync('psql', ['-h', '127.0.0.1', '-p', String(pgPort), '-U', 'n8n', '-d', 'n8n', '-At', '-c', query], { encoding: 'utf8' });
		},
		async startMain() {
			const p = n8nProc('main', ['start'], { N8N_PORT: String(mainPort), N8N_LISTEN_ADDRESS: '127.0.0.1', N8N_HOST: '127.0.0.1' });
			await waitFor('n8n main', async () => (await fetch(`http://127.0.0.1:${mainPort}/healthz/readiness`)).ok, p);
			stack.main = p;
			return p;
		},
		async stopMain() {
			if (stack.main) await stopProc(stack.main);
			stack.main = undefined;
		},
		async startWorker(name) {
			const p = n8nProc(name, ['worker', '--concurrency=10'], { QUEUE_WORKER_NAME: name });
			await waitFor(`n8n ${name}`, () => /worker.*(ready|started)|Worker started|n8n worker is now ready/i.test(p.log), p);
			stack.workers.set(name, p);
			return p;
		},
		async stopWorker(name, signal = 'SIGTERM') {
			const p = stack.workers.get(name);
			if (!p) return;
			stack.workers.delete(name);
			await stopProc(p, signal);
			stack.pastLogs.push(p);
		},
		async stop() {
			for (const p of [...procs].reverse()) await stopProc(p, p.name === 'postgres' ? 'SIGINT' : 'SIGTERM');
			rmSync(root, { recursive: true, force: true });
		},
	};

	// Best effort if the test process itself is killed: no orphaned servers.
	process.once('exit', () => {
		for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
	});

	let brokerPort = 5760; // each n8n process runs a task-runner broker: one port each
	const n8nProc = (name: string, args: string[], env: NodeJS.ProcessEnv): Proc => {
		// Each process: its own n8n user folder (as on its own machine), the same installed nodes.
		const userFolder = path.join(root, `user-${name}-${Date.now()}`);
		mkdirSync(path.join(userFolder, '.n8n'), { recursive: true });
		symlinkSync(path.join(n8n.env.N8N_USER_FOLDER!, '.n8n', 'nodes'), path.join(userFolder, '.n8n', 'nodes'));
		const p = startProc(name, path.join(n8n.nodeBin, 'node'), [n8n.n8nBin, ...args], {
			cwd: root,
			env: {
				...n8n.env,
				...queueEnv,
				...extraEnv,
				...env,
				N8N_USER_FOLDER: userFolder,
				N8N_RUNNERS_BROKER_PORT: String(brokerPort++),
			},
		});
		procs.push(p);
		return p;
	};

	const queueEnv: NodeJS.ProcessEnv = {
		EXECUTIONS_MODE: 'queue',
		QUEUE_BULL_REDIS_HOST: '127.0.0.1',
		QUEUE_BULL_REDIS_PORT: String(redisPort),
		DB_TYPE: 'postgresdb',
		DB_POSTGRESDB_HOST: '127.0.0.1',
		DB_POSTGRESDB_PORT: String(pgPort),
		DB_POSTGRESDB_DATABASE: 'n8n',
		DB_POSTGRESDB_USER: 'n8n',
		DB_POSTGRESDB_PASSWORD: '',
		N8N_DEFAULT_BINARY_DATA_MODE: 'database', // the upload travels from main to worker in Postgres
		HF_HOME: hfHome,
		OFFLOAD_MANUAL_EXECUTIONS_TO_WORKERS: 'true',
		N8N_SECURE_COOKIE: 'false',
		// a killed worker's jobs are noticed within seconds, not the default minute
		QUEUE_WORKER_LOCK_DURATION: '5000',
		QUEUE_WORKER_LOCK_RENEW_TIME: '2500',
		QUEUE_WORKER_STALLED_INTERVAL: '5000',
	};

	try {
		// Redis: no persistence, loopback only
		const redis = startProc('redis', 'redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', root]);
		procs.push(redis);
		await waitFor('redis', () => tcpAnswers(redisPort, 'PING\r\n', /PONG/), redis, 30_000);

		// PostgreSQL: a throw-away cluster (no fsync), trust auth on loopback
		const bin = postgresBin();
		const pgDir = path.join(root, 'pg');
		mkdirSync(pgDir);
		if (process.getuid?.() === 0) {
			chmodSync(n8n.root, 0o755);
			chmodSync(root, 0o755);
			chownSync(pgDir, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })));
		}
		const [initCmd, initArgs] = asPostgresUser(path.join(bin, 'initdb'), ['-D', path.join(pgDir, 'data'), '-U', 'n8n', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
		execFileSync(initCmd, initArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
		const [pgCmd, pgArgs] = asPostgresUser(path.join(bin, 'postgres'), [
			'-D', path.join(pgDir, 'data'), '-p', String(pgPort), '-h', '127.0.0.1', '-k', pgDir,
			'-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200',
		]);
		const pg = startProc('postgres', pgCmd, pgArgs);
		procs.push(pg);
		await waitFor('postgres', () => {
			execFileSync('psql', ['-h', '127.0.0.1', '-p', String(pgPort), '-U', 'n8n', '-d', 'postgres', '-At', '-c', 'select 1'], { stdio: 'ignore' });
			return true;
		}, pg, 60_000);
		execFileSync('psql', ['-h', '127.0.0.1', '-p', String(pgPort), '-U', 'n8n', '-d', 'postgres', '-c', 'CREATE DATABASE n8n'], { stdio: 'ignore' });
	} catch (error) {
		await stack.stop();
		throw error;
	}
	return stack;
}
