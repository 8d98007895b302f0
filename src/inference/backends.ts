/**
 * Two ways to run ONNX models, behind one choice:
 * - `native`: onnxruntime-node (fast; glibc Linux, macOS, Windows; GPUs);
 * - `wasm`: onnxruntime-web's WebAssembly build running inside Node (works
 *   everywhere Node runs, e.g. n8n's official Alpine/musl image; slower).
 * `auto` takes native when its binary loads on this system, else WASM.
 * Only src/inference/ knows either runtime.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

import { DeviceUnavailableError } from '../errors';
import { loadOrt } from './runtime';

export type BackendChoice = 'auto' | 'native' | 'wasm';
export type Backend = 'native' | 'wasm';

let nativeProbe: { ok: true } | { ok: false; error: DeviceUnavailableError } | undefined;

/** Whether onnxruntime-node's binary loads here (probed once per process). */
function nativeStatus(): { ok: true } | { ok: false; error: DeviceUnavailableError } {
	if (!nativeProbe) {
		try {
			loadOrt();
			nativeProbe = { ok: true };
		} catch (error) {
			nativeProbe = { ok: false, error: error as DeviceUnavailableError };
		}
	}
	return nativeProbe;
}

export interface BackendResolution {
	backend: Backend;
	/** Set when `auto` could not use native: why, and the faster setup. */
	fallbackReason?: string;
}

export function resolveBackend(choice: BackendChoice = 'auto'): BackendResolution {
	if (choice === 'wasm') return { backend: 'wasm' };
	const native = nativeStatus();
	if (native.ok) return { backend: 'native' };
	if (choice === 'native') throw native.error;
	return {
		backend: 'wasm',
		fallbackReason:
			`${native.error.message}; running models on ONNX Runtime's WebAssembly build instead (several times slower). ` +
			"For full speed run n8n on a glibc system: n8n's Debian image variant, or a Debian-based image (see the README's Docker section).",
	};
}

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
