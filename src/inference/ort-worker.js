// ONNX Runtime's thread. onnxruntime-node runs models synchronously on the
// thread that calls it, so the engine keeps every session here: loading a
// large model or classifying a long clip never blocks n8n's event loop.
// Plain JavaScript so the same file runs from dist/ and under ts-jest.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');

const fs = require('node:fs');
const path = require('node:path');

// Each runtime is loaded on first use: a system where onnxruntime-node's
// binary cannot load (Alpine/musl) never touches it when WASM is chosen.
const runtimes = {};
function runtime(backend) {
	if (runtimes[backend]) return runtimes[backend];
	if (backend === 'wasm') {
		const ort = require(path.join(workerData.wasmDir, 'ort.node.min.js'));
		ort.env.wasm.wasmPaths = workerData.wasmDir + path.sep;
		ort.env.wasm.numThreads = workerData.wasmThreads;
		runtimes.wasm = ort;
	} else {
		if (!workerData.ortPath) throw new Error('onnxruntime-node is not installed');
		runtimes.native = require(workerData.ortPath);
	}
	return runtimes[backend];
}

/** WASM cannot open files next to the model by itself: list its external-data files. */
function externalData(modelPath) {
	const dir = path.dirname(modelPath);
	const base = path.basename(modelPath);
	return fs
		.readdirSync(dir)
		.filter((f) => f !== base && (f.startsWith(`${base}_data`) || f.startsWith(`${base}.data`)))
		.map((f) => ({ path: f, data: path.join(dir, f) }));
}

const sessions = new Map();
let nextHandle = 1;

/** A tensor of one repeated value, built here rather than on n8n's thread (an all-ones mask). */
function filled(t) {
	const size = t.dims.reduce((n, d) => n * d, 1);
	if (t.type === 'int64') {
		const out = new BigInt64Array(size);
		if (t.fill === 1) {
			const words = new Int32Array(out.buffer); // little-endian low words: several times faster than BigInt fill
			for (let i = 0; i < words.length; i += 2) words[i] = 1;
		} else if (t.fill !== 0) out.fill(BigInt(t.fill));
		return out;
	}
	if (t.type === 'bool') return new Uint8Array(size).fill(t.fill ? 1 : 0);
	return new Float32Array(size).fill(t.fill);
}

function plainTensor(t) {
	return { type: t.type, dims: Array.from(t.dims, Number), data: t.data };
}

async function handle(msg) {
	if (msg.op === 'probe') {
		runtime('native');
		return {};
	}
	if (msg.op === 'create') {
		const ort = runtime(msg.backend);
		const options = { executionProviders: [msg.provider], graphOptimizationLevel: 'all' };
		if (msg.backend === 'wasm') {
			const data = externalData(msg.path);
			if (data.length) options.externalData = data;
		} else {
			if (msg.threads > 0) {
				options.intraOpNumThreads = msg.threads;
				options.interOpNumThreads = 1;
			}
			// ONNX Runtime's pool threads spin after each run by default, burning the cores n8n
			// needs (13.2 vs 2.8 ms of CPU per run of the built-in model when runs come 10 ms apart).
			const spin = msg.spinning ? '1' : '0';
			options.extra = { session: { intra_op: { allow_spinning: spin }, inter_op: { allow_spinning: spin } } };
		}
		const session = await ort.InferenceSession.create(msg.path, options);
		const id = nextHandle++;
		sessions.set(id, { session, ort });
		return { handle: id, inputNames: session.inputNames, outputNames: session.outputNames };
	}
	if (msg.op === 'run') {
		const entry = sessions.get(msg.handle);
		if (!entry) throw new Error('this session was released');
		const { session, ort } = entry;
		const feeds = {};
		for (const [name, t] of Object.entries(msg.feeds)) feeds[name] = new ort.Tensor(t.type, t.fill === undefined ? t.data : filled(t), t.dims);
		const results = await session.run(feeds);
		const outputs = {};
		const transfer = [];
		for (const [name, t] of Object.entries(results)) {
			outputs[name] = plainTensor(t);
			if (t.data && t.data.buffer instanceof ArrayBuffer) transfer.push(t.data.buffer);
		}
		return { outputs, transfer };
	}
	if (msg.op === 'release') {
		const entry = sessions.get(msg.handle);
		sessions.delete(msg.handle);
		if (entry) await entry.session.release();
		return {};
	}
	throw new Error(`unknown operation ${msg.op}`);
}

parentPort.on('message', (msg) => {
	handle(msg).then(
		(result) => {
			const transfer = result.transfer || [];
			delete result.transfer;
			parentPort.postMessage({ id: msg.id, result }, transfer);
		},
		(error) => parentPort.postMessage({ id: msg.id, error: String((error && error.message) || error) }),
	);
});
