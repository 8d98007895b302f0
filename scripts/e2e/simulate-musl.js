// Preload (`node --require scripts/e2e/simulate-musl.js ...`, or in NODE_OPTIONS)
// that makes onnxruntime-node's native binding fail to load with the error text
// Alpine's musl loader gives for glibc binaries, as in n8n's official Docker
// image. Worker threads inherit it. Used by the install and e2e tests; no Docker
// engine runs on the project's machines.
'use strict';
const Module = require('node:module');

const original = Module._extensions['.node'];
Module._extensions['.node'] = function (module, filename) {
	if (/onnxruntime[\\/].*\.node$|onnxruntime_binding\.node$/.test(filename)) {
		throw new Error(
			`Error relocating ${filename.replace(/onnxruntime_binding\.node$/, 'libonnxruntime.so.1')}: __memcpy_chk: symbol not found`,
		);
	}
	return original.call(this, module, filename);
};
