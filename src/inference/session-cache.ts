/**
 * Sessions are expensive to create (file read, graph optimisation) and cheap
 * to reuse, so they are cached across items and executions: an LRU keyed by
 * model file, device and threads, bounded by a count and by the bytes of the
 * model files loaded; concurrent requests for the same key share one load.
 * A session evicted while items still run on it is "draining": a new request
 * for it revives it instead of loading the model a second time, and it is
 * released when its last user is done.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

import { maxModelBytes, maxSessions, maxThreads } from '../config';
import { DeviceUnavailableError, GraphMismatchError } from '../errors';
import { type Backend, type BackendChoice, resolveBackend } from './backends';
import { DEVICE_HINT, type Device, gpuProviderForPlatform } from './runtime';
import { RemoteSession } from './worker-host';

export interface SessionRequest {
	onnxPath: string;
	device: Device;
	threads?: number;
	/** Which ONNX Runtime: `auto` (default) = native when it loads here, else WASM. */
	backend?: BackendChoice;
}

export interface LoadedSession {
	session: RemoteSession;
	/** The runtime actually used. */
	backend: Backend;
	/** The provider actually used: 'cpu', 'cuda', 'dml', 'coreml' or 'wasm'. */
	provider: string;
	/** Set when `auto` fell back (to CPU, or to WASM): why. */
	fallbackReason?: string;
	/** The model file's size with its external data (what batching and spinning are chosen by). */
	bytes: number;
}

/** Threads a request may use: 0 (ONNX Runtime decides) or 1..cores. */
export function clampThreads(threads?: number): number {
	if (!threads || !Number.isFinite(threads) || threads < 1) return 0;
	return Math.min(Math.floor(threads), maxThreads());
}

async function keyOf(r: SessionRequest): Promise<string> {
	const backend = (await resolveBackend(r.backend)).backend; // the cache is keyed by the runtime actually used
	return `${backend}\u0000${r.onnxPath}\u0000${r.device}\u0000${clampThreads(r.threads)}`;
}

/** The model file plus its external-data files: what loading it costs in memory, roughly. */
export function modelBytes(onnxPath: string): number {
	let bytes = 0;
	try {
		bytes = statSync(onnxPath).size;
		const dir = path.dirname(onnxPath);
		const base = path.basename(onnxPath);
		for (const f of readdirSync(dir)) {
			if (f !== base && (f.startsWith(`${base}_data`) || f.startsWith(`${base}.data`))) bytes += statSync(path.join(dir, f)).size;
		}
	} catch {
		// the load itself reports a missing file
	}
	return bytes;
}

/** `bytes`: the model's size (the cache has it already), for ONNX Runtime's spinning choice. */
export async function openSession(r: SessionRequest, bytes = modelBytes(r.onnxPath)): Promise<LoadedSession> {
	return { ...(await openOn(r, bytes)), bytes };
}

async function openOn(r: SessionRequest, bytes: number): Promise<Omit<LoadedSession, 'bytes'>> {
	const { backend, fallbackReason: backendReason } = await resolveBackend(r.backend); // native unusable and asked for: its clear error
	const threads = clampThreads(r.threads);
	if (backend === 'wasm') {
		if (r.device !== 'cpu' && r.device !== 'auto') {
			throw new DeviceUnavailableError(
				`The ${r.device.toUpperCase()} device needs the native ONNX Runtime, and this run uses WebAssembly`,
				backendReason
					? `${backendReason} Or set {device} to "CPU".`
					: 'Set {backend} to "Auto" or "Native" on a system where onnxruntime-node loads, or set {device} to "CPU".',
			);
		}
		return { session: await createWithContext(r.onnxPath, 'wasm', 'wasm', threads, bytes), backend, provider: 'wasm', fallbackReason: backendReason };
	}
	if (r.device === 'cpu') {
		return { session: await createWithContext(r.onnxPath, 'native', 'cpu', threads, bytes), backend, provider: 'cpu' };
	}
	const gpu = r.device === 'auto' ? gpuProviderForPlatform() : r.device;
	if (gpu) {
		try {
			return { session: await RemoteSession.create(r.onnxPath, 'native', gpu, threads, bytes), backend, provider: gpu };
		} catch (error) {
			if (r.device !== 'auto') {
				throw new DeviceUnavailableError(
					`The ${gpu.toUpperCase()} execution provider could not be used: ${firstLine(error)}`,
					DEVICE_HINT[gpu],
				);
			}
			const session = await createWithContext(r.onnxPath, 'native', 'cpu', threads, bytes);
			return {
				session,
				backend,
				provider: 'cpu',
				fallbackReason: `${gpu.toUpperCase()} unavailable (${firstLine(error)}); using CPU. ${DEVICE_HINT[gpu]}`,
			};
		}
	}
	const session = await createWithContext(r.onnxPath, 'native', 'cpu', threads, bytes);
	return { session, backend, provider: 'cpu', fallbackReason: `No GPU provider on ${process.platform}; using CPU.` };
}

async function createWithContext(onnxPath: string, backend: Backend, provider: string, threads: number, bytes: number) {
	try {
		return await RemoteSession.create(onnxPath, backend, provider, threads, bytes);
	} catch (error) {
		if (error instanceof DeviceUnavailableError) throw error;
		throw new GraphMismatchError(
			`ONNX Runtime could not load ${path.basename(onnxPath)}: ${firstLine(error)}`,
			'The file may be incomplete (re-download it), use an operator newer than this ONNX Runtime, or not be an ONNX model.',
		);
	}
}

function firstLine(error: unknown): string {
	return String((error as Error)?.message ?? error).split('\n')[0];
}

interface Entry {
	loading: Promise<LoadedSession>;
	users: number;
	evicted: boolean;
	bytes: number;
}

export interface SessionCacheStats {
	/** Sessions created since the cache was made. */
	loads: number;
	/** Requests served by a draining (evicted but running) session. */
	revived: number;
}

/** A model loaded into this process (for the log: queue-mode workers are sized by it). */
export interface LoadEvent {
	onnxPath: string;
	backend: Backend;
	provider: string;
	ms: number;
	/** Loads in this process so far, this one included. */
	loads: number;
	/** Loaded by the prewarm at the node's load (src/prewarm.ts), not by an execution. */
	prewarm?: boolean;
}

export class SessionCache {
	private readonly entries = new Map<string, Entry>();
	private readonly loadListeners: Array<(e: LoadEvent) => void> = [];
	/** Loads so far, replayed to a listener that comes later (the prewarm loads before any execution listens). */
	private readonly loadHistory: LoadEvent[] = [];
	private readonly draining = new Map<string, Entry>();
	readonly stats: SessionCacheStats = { loads: 0, revived: 0 };

	constructor(
		private readonly capacity = maxSessions(),
		private readonly byteBudget = maxModelBytes(),
	) {}

	/**
	 * Runs `fn` with a cached session. A session evicted while in use is
	 * released only when its last user is done, and reused until then.
	 */
	async use<T>(r: SessionRequest, fn: (loaded: LoadedSession) => Promise<T>): Promise<T> {
		const key = await keyOf(r); // from here to the lookup nothing awaits: concurrent requests share one entry
		let entry = this.entries.get(key);
		if (entry) {
			this.entries.delete(key); // re-insert: most recently used goes last
		} else if ((entry = this.draining.get(key))) {
			this.draining.delete(key);
			entry.evicted = false;
			this.stats.revived++;
		} else {
			entry = this.create(key, r);
		}
		this.entries.set(key, entry);
		entry.users++;
		this.evict();
		try {
			let loaded = await entry.loading;
			if (!loaded.session.alive) {
				// ONNX Runtime's thread was restarted: load again, once, for everyone.
				if (this.entries.get(key) === entry) {
					entry.loading = openSession(r, entry.bytes);
					this.stats.loads++;
				}
				loaded = await entry.loading;
			}
			return await fn(loaded);
		} finally {
			entry.users--;
			if (entry.evicted && entry.users === 0) {
				if (this.draining.get(key) === entry) this.draining.delete(key);
				void release(entry);
			}
		}
	}

	/**
	 * Starts loading a session without using it yet (the pipeline calls it
	 * before decoding, so ONNX Runtime's thread and the model load overlap the
	 * decode; the prewarm at the node's load). A failure is reported to the
	 * later `use`, not here: the promise says only whether a session is ready.
	 */
	preload(r: SessionRequest, prewarm = false): Promise<boolean> {
		return keyOf(r)
			.then((key) => {
				let entry = this.entries.get(key) ?? this.draining.get(key);
				if (!entry) {
					entry = this.create(key, r, prewarm);
					this.entries.set(key, entry);
					this.evict();
				}
				return entry.loading.then(() => true);
			})
			.catch(() => false);
	}

	/** Calls `listener` after each model load of this cache, and now for each earlier one. */
	onLoad(listener: (e: LoadEvent) => void): void {
		this.loadListeners.push(listener);
		for (const e of this.loadHistory) listener(e);
	}

	private create(key: string, r: SessionRequest, prewarm = false): Entry {
		const started = Date.now();
		const bytes = modelBytes(r.onnxPath);
		const entry: Entry = { loading: openSession(r, bytes), users: 0, evicted: false, bytes };
		this.stats.loads++;
		const loads = this.stats.loads;
		entry.loading.then(
			(loaded) => {
				const e: LoadEvent = { onnxPath: r.onnxPath, backend: loaded.backend, provider: loaded.provider, ms: Date.now() - started, loads, ...(prewarm ? { prewarm } : {}) };
				this.loadHistory.push(e);
				if (this.loadHistory.length > 100) this.loadHistory.shift();
				for (const l of this.loadListeners) l(e);
			},
			() => undefined,
		);
		entry.loading.catch(() => {
			if (this.entries.get(key) === entry) this.entries.delete(key);
		});
		return entry;
	}

	get size(): number {
		return this.entries.size;
	}

	/** Bytes of the model files held by cached and draining sessions. */
	get bytes(): number {
		let sum = 0;
		for (const e of this.entries.values()) sum += e.bytes;
		for (const e of this.draining.values()) sum += e.bytes;
		return sum;
	}

	private evict(): void {
		// The newest entry (the one being used) always stays, even alone over budget.
		while (this.entries.size > 1 && (this.entries.size > this.capacity || this.bytes > this.byteBudget)) {
			const [oldest, entry] = this.entries.entries().next().value as [string, Entry];
			this.entries.delete(oldest);
			entry.evicted = true;
			if (entry.users === 0) void release(entry);
			else this.draining.set(oldest, entry);
		}
	}

	async clear(): Promise<void> {
		const all = [...this.entries.values()];
		this.entries.clear();
		for (const entry of all) entry.evicted = true;
		await Promise.all(all.filter((e) => e.users === 0).map(release));
	}
}

async function release(entry: Entry): Promise<void> {
	const loaded = await entry.loading.catch(() => undefined);
	await loaded?.session.release();
}

/** Process-wide cache shared by every execution of the node. */
export const sessionCache = new SessionCache();
