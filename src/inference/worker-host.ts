/**
 * The main-thread side of ONNX Runtime's thread (ort-worker.js): sessions
 * live in the worker and are addressed by handle; inputs are copied in and
 * outputs transferred back. The worker is unref'd while idle, so it never
 * keeps a process alive, and is restarted if it ever dies.
 */
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

import { ortSpinning } from '../config';
import type { Backend } from './types';
import { nativeRuntimePath, wasmRuntimeDir } from './paths';
import type { FeatureTensor, FeatureTensors } from '../features/types';

export interface OutputTensor {
	type: string;
	dims: number[];
	data: Float32Array | BigInt64Array | Int32Array | Uint8Array;
}

interface Pending {
	resolve: (value: unknown) => void;
	reject: (error: Error) => void;
}

class InferenceThread {
	private worker?: Worker;
	private readonly pending = new Map<number, Pending>();
	private nextId = 1;
	/** Bumped whenever the worker is replaced: handles of older generations are gone. */
	generation = 0;

	private start(): Worker {
		let wasmDir: string | undefined;
		try {
			wasmDir = wasmRuntimeDir();
		} catch {
			// reported when a WASM session is asked for
		}
		const worker = new Worker(path.join(__dirname, 'ort-worker.js'), {
			workerData: { ortPath: nativeRuntimePath(), wasmDir, wasmThreads: Math.min(8, availableParallelism()) },
			stdout: false,
			stderr: false,
		});
		worker.on('message', (msg: { id: number; result?: unknown; error?: string }) => {
			const p = this.pending.get(msg.id);
			if (!p) return;
			this.pending.delete(msg.id);
			if (this.pending.size === 0) worker.unref();
			if (msg.error !== undefined) p.reject(new Error(msg.error));
			else p.resolve(msg.result);
		});
		const fail = (error: Error) => {
			if (this.worker !== worker) return;
			this.worker = undefined;
			this.generation++;
			const all = [...this.pending.values()];
			this.pending.clear();
			for (const p of all) p.reject(error);
		};
		worker.on('error', (error) => fail(new Error(`ONNX Runtime's thread failed: ${error.message}`)));
		worker.on('exit', (code) => fail(new Error(`ONNX Runtime's thread stopped (exit code ${code})`)));
		worker.unref();
		return worker;
	}

	call<T>(message: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<T> {
		if (!this.worker) this.worker = this.start();
		const worker = this.worker;
		const id = this.nextId++;
		return new Promise<T>((resolve, reject) => {
			this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
			worker.ref();
			worker.postMessage({ ...message, id }, transfer);
		});
	}

	/** Stops the worker (tests, shutdown); the next call starts a new one. */
	async stop(): Promise<void> {
		const worker = this.worker;
		if (!worker) return;
		await worker.terminate();
	}
}

const inferenceThread = new InferenceThread();

/** Loads onnxruntime-node in ONNX Runtime's thread: undefined when it loads, else the loader's error text. */
export async function probeNative(): Promise<string | undefined> {
	try {
		await inferenceThread.call({ op: 'probe' });
		return undefined;
	} catch (error) {
		return (error as Error).message;
	}
}

/** A session loaded in ONNX Runtime's thread. */
export class RemoteSession {
	private released = false;

	constructor(
		private readonly handle: number,
		private readonly generation: number,
		readonly inputNames: readonly string[],
		readonly outputNames: readonly string[],
	) {}

	/** `bytes`: the model's size, for the spinning choice (large models spin). */
	static async create(onnxPath: string, backend: Backend, provider: string, threads?: number, bytes = 0): Promise<RemoteSession> {
		if (backend === 'wasm') wasmRuntimeDir(); // a clear error when the WASM files are missing
		const generation = inferenceThread.generation;
		const r = await inferenceThread.call<{ handle: number; inputNames: string[]; outputNames: string[] }>({
			op: 'create',
			path: onnxPath,
			backend,
			provider,
			threads: threads ?? 0,
			spinning: ortSpinning(bytes),
		});
		return new RemoteSession(r.handle, generation, r.inputNames, r.outputNames);
	}

	/** False once released, or when the worker that held it has been replaced. */
	get alive(): boolean {
		return !this.released && this.generation === inferenceThread.generation;
	}

	/**
	 * Runs the model. The feeds' buffers are moved to ONNX Runtime's thread,
	 * not copied (a 10-minute clip is 38 MB): the caller must not use them after.
	 */
	async run(feeds: Record<string, FeatureTensor>): Promise<Record<string, OutputTensor>> {
		if (!this.alive) throw new Error('this session was released');
		for (const [name, t] of Object.entries(feeds)) {
			// A buffer already moved to the thread reads as empty: refuse it here (ONNX Runtime would not answer).
			const size = t.dims.reduce((n, d) => n * d, 1);
			if (t.fill === undefined && t.data.length !== size) throw new Error(`input "${name}" has ${t.data.length} values for dims [${t.dims.join(', ')}] (a feed can be run only once)`);
		}
		const transfer = new Set<ArrayBuffer>();
		for (const t of Object.values(feeds)) if (t.data.buffer instanceof ArrayBuffer) transfer.add(t.data.buffer);
		const r = await inferenceThread.call<{ outputs: Record<string, OutputTensor> }>({ op: 'run', handle: this.handle, feeds }, [...transfer]);
		return r.outputs;
	}

	async release(): Promise<void> {
		if (!this.alive) return;
		this.released = true;
		await inferenceThread.call({ op: 'release', handle: this.handle }).catch(() => undefined);
	}
}

export type { FeatureTensors };
