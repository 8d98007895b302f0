/**
 * The helper thread of parallel.ts: computes the frames it is sent with the
 * same logMelFrames as n8n's thread, into shared memory, and says so through
 * the shared state word.
 */
import { parentPort, workerData } from 'node:worker_threads';

import { type LogMelOptions, logMelFrames, newWork, type Work } from './dsp';

const state = workerData.state as Int32Array;
/** Per options id (sent once): the options and the FFT buffers reused for them. */
const configs = new Map<number, { o: LogMelOptions; work: Work }>();

interface Request {
	id: number;
	options?: LogMelOptions;
	signal: Float32Array | Float64Array;
	length: number;
	out: Float32Array;
	first: number;
	from: number;
	to: number;
}

parentPort!.on('message', (r: Request) => {
	try {
		if (r.options) configs.set(r.id, { o: r.options, work: newWork(r.options.fftLength) });
		const { o, work } = configs.get(r.id)!;
		logMelFrames(r.signal.subarray(0, r.length), o, work, r.out, r.first, r.from, r.to);
		Atomics.store(state, 0, 2);
	} catch {
		Atomics.store(state, 0, 3);
	}
	Atomics.notify(state, 0);
});
parentPort!.postMessage('ready');
