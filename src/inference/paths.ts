/** Where the two ONNX Runtimes are installed (read by the main thread and by ONNX Runtime's thread). */
import { existsSync } from 'node:fs';
import path from 'node:path';

import { DeviceUnavailableError } from '../errors';

/** Where onnxruntime-web's Node build and its WASM file are: shipped in dist/vendor, or the dev dependency. */
export function wasmRuntimeDir(): string {
	const candidates = [path.join(__dirname, '..', '..', 'vendor', 'onnxruntime-web')];
	try {
		candidates.push(path.dirname(require.resolve('onnxruntime-web'))); // its Node entry is dist/ort.node.min.js
	} catch {
		// not installed: only the shipped copy can serve
	}
	for (const dir of candidates) {
		if (existsSync(path.join(dir, 'ort.node.min.js')) && existsSync(path.join(dir, 'ort-wasm-simd-threaded.wasm'))) return dir;
	}
	throw new DeviceUnavailableError(
		"ONNX Runtime's WebAssembly build is missing from this installation",
		'Reinstall the package (Settings > Community Nodes, or npm install in ~/.n8n/nodes); its dist/vendor/onnxruntime-web folder should be there.',
	);
}

/** onnxruntime-node's entry file, when it is installed at all. */
export function nativeRuntimePath(): string | undefined {
	try {
		return require.resolve('onnxruntime-node');
	} catch {
		return undefined;
	}
}
