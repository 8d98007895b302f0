/**
 * Awaiting WebAssembly's asynchronous compile or instantiate with nothing
 * else pending leaves Node's event loop empty: Node then waits in
 * NodePlatform::DrainTasks for every background task, and on Node 20 that
 * deadlocked when one of them was an optimizing compile waiting for the main
 * thread to collect garbage (gdb: CollectionBarrier::AwaitCollectionBackground
 * against DrainTasks; 4 of 40 runs of a script decoding Opus, then MP3).
 * n8n's server keeps its loop busy, but scripts, tests and the demo do not:
 * a timer is held for the wait.
 */
export async function keepLoopAlive<T>(pending: Promise<T>): Promise<T> {
	const timer = setInterval(() => undefined, 1 << 30);
	try {
		return await pending;
	} finally {
		clearInterval(timer);
	}
}
