// ONNX Runtime's thread. onnxruntime-node runs models synchronously on the
// thread that calls it, so the engine keeps every session here: loading a
// large model or classifying a long clip never blocks n8n's event loop.
// Plain JavaScript so the same file runs from dist/ and under ts-jest.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');

const ort = require(workerData.ortPath);
const sessions = new Map();
let nextHandle = 1;

function plainTensor(t) {
	return { type: t.type, dims: Array.from(t.dims, Number), data: t.data };
}

async function handle(msg) {
	if (msg.op === 'create') {
		const options = { executionProviders: [msg.provider], graphOptimizationLevel: 'all' };
		if (msg.threads > 0) {
			options.intraOpNumThreads = msg.threads;
			options.interOpNumThreads = 1;
		}
		const session = await ort.InferenceSession.create(msg.path, options);
		const id = nextHandle++;
		sessions.set(id, session);
		return { handle: id, inputNames: session.inputNames, outputNames: session.outputNames };
	}
	if (msg.op === 'run') {
		const session = sessions.get(msg.handle);
		if (!session) throw new Error('this session was released');
		const feeds = {};
		for (const [name, t] of Object.entries(msg.feeds)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
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
		const session = sessions.get(msg.handle);
		sessions.delete(msg.handle);
		if (session) await session.release();
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
