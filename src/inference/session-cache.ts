/**
 * Sessions are expensive to create (file read, graph optimisation) and cheap
 * to reuse, so they are cached across items and executions: a bounded LRU
 * keyed by model file, device and threads; concurrent requests for the same
 * key share one load; evicted sessions are released.
 */
import type { InferenceSession } from 'onnxruntime-node';

import { DeviceUnavailableError, GraphMismatchError } from '../errors';
import { DEVICE_HINT, type Device, gpuProviderForPlatform, loadOrt } from './runtime';

export interface SessionRequest {
	onnxPath: string;
	device: Device;
	threads?: number;
}

export interface LoadedSession {
	session: InferenceSession;
	/** The provider actually used: 'cpu', 'cuda', 'dml' or 'coreml'. */
	provider: string;
	/** Set when `auto` fell back to CPU: why. */
	fallbackReason?: string;
}

function keyOf(r: SessionRequest): string {
	return `${r.onnxPath}\u0000${r.device}\u0000${r.threads ?? 0}`;
}

async function createSession(onnxPath: string, provider: string, threads?: number) {
	const ort = loadOrt();
	const options: InferenceSession.SessionOptions = {
		executionProviders: [provider],
		graphOptimizationLevel: 'all',
	};
	if (threads && threads > 0) {
		options.intraOpNumThreads = threads;
		options.interOpNumThreads = 1;
	}
	return await ort.InferenceSession.create(onnxPath, options);
}

export async function openSession(r: SessionRequest): Promise<LoadedSession> {
	if (r.device === 'cpu') {
		return { session: await createWithContext(r.onnxPath, 'cpu', r.threads), provider: 'cpu' };
	}
	const gpu = r.device === 'auto' ? gpuProviderForPlatform() : r.device;
	if (gpu) {
		try {
			return { session: await createSession(r.onnxPath, gpu, r.threads), provider: gpu };
		} catch (error) {
			if (r.device !== 'auto') {
				throw new DeviceUnavailableError(
					`The ${gpu.toUpperCase()} execution provider could not be used: ${firstLine(error)}`,
					DEVICE_HINT[gpu],
				);
			}
			const session = await createWithContext(r.onnxPath, 'cpu', r.threads);
			return {
				session,
				provider: 'cpu',
				fallbackReason: `${gpu.toUpperCase()} unavailable (${firstLine(error)}); using CPU. ${DEVICE_HINT[gpu]}`,
			};
		}
	}
	const session = await createWithContext(r.onnxPath, 'cpu', r.threads);
	return { session, provider: 'cpu', fallbackReason: `No GPU provider on ${process.platform}; using CPU.` };
}

async function createWithContext(onnxPath: string, provider: string, threads?: number) {
	try {
		return await createSession(onnxPath, provider, threads);
	} catch (error) {
		if (error instanceof DeviceUnavailableError) throw error;
		throw new GraphMismatchError(
			`ONNX Runtime could not load ${onnxPath}: ${firstLine(error)}`,
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
}

export class SessionCache {
	private readonly entries = new Map<string, Entry>();

	constructor(private readonly capacity = 4) {}

	/**
	 * Runs `fn` with a cached session. A session evicted while in use is
	 * released only when its last user is done.
	 */
	async use<T>(r: SessionRequest, fn: (loaded: LoadedSession) => Promise<T>): Promise<T> {
		const key = keyOf(r);
		let entry = this.entries.get(key);
		if (entry) {
			this.entries.delete(key); // re-insert: most recently used goes last
		} else {
			entry = { loading: openSession(r), users: 0, evicted: false };
			const created = entry;
			created.loading.catch(() => {
				if (this.entries.get(key) === created) this.entries.delete(key);
			});
		}
		this.entries.set(key, entry);
		entry.users++;
		this.evict();
		try {
			return await fn(await entry.loading);
		} finally {
			entry.users--;
			if (entry.evicted && entry.users === 0) release(entry);
		}
	}

	get size(): number {
		return this.entries.size;
	}

	private evict(): void {
		while (this.entries.size > this.capacity) {
			const [oldest, entry] = this.entries.entries().next().value as [string, Entry];
			this.entries.delete(oldest);
			entry.evicted = true;
			if (entry.users === 0) release(entry);
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
export const sessionCache = new SessionCache(Number(process.env.N8N_AUDIO_CLASSIFICATION_MAX_SESSIONS) || 4);
