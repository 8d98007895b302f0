/**
 * Two ways to run ONNX models, behind one choice:
 * - `native`: onnxruntime-node (fast; glibc Linux, macOS, Windows; GPUs);
 * - `wasm`: onnxruntime-web's WebAssembly build running inside Node (works
 *   everywhere Node runs, e.g. n8n's official Alpine/musl image; slower).
 * `auto` takes native when its binary loads on this system, else WASM.
 * Only src/inference/ knows either runtime.
 */
import type { DeviceUnavailableError } from '../errors';
import { nativeLoadError } from './runtime';
import type { Backend, BackendChoice } from './types';
import { probeNative } from './worker-host';

export type { Backend, BackendChoice } from './types';

type NativeStatus = { ok: true } | { ok: false; error: DeviceUnavailableError };
let nativeProbe: Promise<NativeStatus> | undefined;

/**
 * Whether onnxruntime-node's binary loads here, probed once per process in
 * ONNX Runtime's thread: loading its 20 MB library never blocks n8n's event loop.
 */
function nativeStatus(): Promise<NativeStatus> {
	nativeProbe ??= probeNative().then((failure): NativeStatus => (failure === undefined ? { ok: true } : { ok: false, error: nativeLoadError(failure) }));
	return nativeProbe;
}

export interface BackendResolution {
	backend: Backend;
	/** Set when `auto` could not use native: why, and the faster setup. */
	fallbackReason?: string;
}

export async function resolveBackend(choice: BackendChoice = 'auto'): Promise<BackendResolution> {
	if (choice === 'wasm') return { backend: 'wasm' };
	const native = await nativeStatus();
	if (native.ok) return { backend: 'native' };
	if (choice === 'native') throw native.error;
	return {
		backend: 'wasm',
		fallbackReason:
			`${native.error.message}; running models on ONNX Runtime's WebAssembly build instead (several times slower). ` +
			"For full speed run n8n on a glibc system: n8n's Debian image variant, or a Debian-based image (see the README's Docker section).",
	};
}

