/**
 * Cooperative time slicing: long loops call `tick()` every few thousand
 * iterations; once a slice has used its budget the loop yields to the event
 * loop (so n8n keeps serving webhooks and the editor) and checks for
 * cancellation.
 */
import { performance } from 'node:perf_hooks';

import { CancelledError } from '../errors';

const SLICE_MS = 25;

export class Slicer {
	private sliceStart = performance.now();

	constructor(
		private readonly signal?: AbortSignal,
		private readonly budgetMs = SLICE_MS,
	) {}

	/** Throws CancelledError once the execution is stopped. */
	check(): void {
		if (this.signal?.aborted) throw new CancelledError();
	}

	async tick(): Promise<void> {
		if (performance.now() - this.sliceStart < this.budgetMs) return;
		await new Promise<void>((resolve) => setImmediate(resolve));
		this.sliceStart = performance.now();
		this.check();
	}
}

/**
 * Long computations are written as generators that `yield` between chunks of
 * work; they run to completion synchronously (runSync) or yielding to the
 * event loop when their slice is used up (runSliced).
 */
export type Steps<T> = Generator<void, T, void>;

export function runSync<T>(steps: Steps<T>): T {
	for (;;) {
		const r = steps.next();
		if (r.done) return r.value;
	}
}

export async function runSliced<T>(steps: Steps<T>, slicer: Slicer): Promise<T> {
	try {
		for (;;) {
			const r = steps.next();
			if (r.done) return r.value;
			await slicer.tick();
		}
	} catch (error) {
		steps.return(undefined as T); // the steps' finally blocks run (e.g. a helper thread is released)
		throw error;
	}
}
