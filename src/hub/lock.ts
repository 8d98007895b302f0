/**
 * A lock file next to the blob being downloaded, so two executions (or two
 * n8n processes sharing a cache) never download the same file at once. It
 * records the holder's pid and host and is refreshed while held; a lock whose
 * holder is dead (same host) or that has not been refreshed for a minute is
 * taken over, so a crashed download never blocks the next one.
 */
import { closeSync, openSync, readFileSync, rmSync, statSync, utimesSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';

const STALE_MS = 60_000;
const HEARTBEAT_MS = 10_000;
const POLL_MS = 200;

function holderIsGone(lockPath: string): boolean {
	try {
		const age = Date.now() - statSync(lockPath).mtimeMs;
		if (age > STALE_MS) return true;
		const { pid, host } = JSON.parse(readFileSync(lockPath, 'utf8')) as { pid: number; host: string };
		if (host !== hostname()) return false;
		try {
			process.kill(pid, 0);
			return false;
		} catch (error) {
			return (error as NodeJS.ErrnoException).code === 'ESRCH';
		}
	} catch {
		return true; // unreadable or half-written: treat as stale
	}
}

export async function acquireLock(lockPath: string, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<() => void> {
	const deadline = Date.now() + (opts.timeoutMs ?? 30 * 60_000);
	for (;;) {
		try {
			const fd = openSync(lockPath, 'wx');
			writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }));
			closeSync(fd);
			const beat = setInterval(() => {
				try {
					const now = new Date();
					utimesSync(lockPath, now, now);
				} catch {
					// lock removed under us; release() handles it
				}
			}, HEARTBEAT_MS);
			beat.unref();
			return () => {
				clearInterval(beat);
				rmSync(lockPath, { force: true });
			};
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
		}
		if (holderIsGone(lockPath)) {
			rmSync(lockPath, { force: true });
			continue;
		}
		if (opts.signal?.aborted) throw new Error('cancelled while waiting for another download');
		if (Date.now() > deadline) throw new Error(`timed out waiting for the download lock ${lockPath}`);
		await new Promise((r) => setTimeout(r, POLL_MS));
	}
}
