/**
 * The resampler's dot products in WebAssembly SIMD (resample-kernel.wat): one
 * small instance per thread, built synchronously on first use. The JavaScript
 * loop in resample.ts stays the fallback (no SIMD, or a table too large to
 * keep in the instance's memory) and the reference the tests compare with.
 */
import { RESAMPLE_KERNEL_WASM } from './resample-kernel.wasm';

// The global as far as this module uses it (the project's lib has no WebAssembly types).
declare const WebAssembly: {
	Module: new (bytes: Uint8Array) => object;
	Instance: new (module: object, imports: object) => { exports: unknown };
};

/** Tables up to this many coefficients (256 KB) are copied into the instance; all usual rate pairs fit. */
export const KERNEL_MAX_TABLE = 65536;

interface Exports {
	memory: { buffer: ArrayBuffer; grow(pages: number): number };
	run(table: number, stride: number, input: number, out: number, count: number, phase: number, offset: number, up: number, down: number): void;
}

interface Kernel {
	exports: Exports;
	/** The Float64 table whose f32 copy sits at address 0, and its row stride. */
	table?: Float64Array;
	stride: number;
	/** A view of the instance's memory (made again when the memory grows). */
	heap: Float32Array;
}

let kernel: Kernel | null | undefined;
let enabled = true;

/** Tests and the benchmark compare the two paths; n8n never calls this. */
export function setResampleKernel(on: boolean): void {
	enabled = on;
}

function instance(): Kernel | null {
	if (kernel === undefined) {
		try {
			const module = new WebAssembly.Module(Buffer.from(RESAMPLE_KERNEL_WASM, 'base64'));
			const exports = new WebAssembly.Instance(module, {}).exports as Exports;
			kernel = { exports, stride: 0, heap: new Float32Array(exports.memory.buffer) };
		} catch {
			kernel = null; // no WebAssembly SIMD here: the JavaScript loop does the work
		}
	}
	return kernel;
}

export interface KernelBlock {
	table: Float64Array;
	taps: number;
	phases: number;
	up: number;
	down: number;
	/** Input window of the block (zeros past its end are added here). */
	input: Float32Array;
	/** Phase of the block's first output; its input starts at input[0]. */
	phase: number;
	out: Float32Array;
}

/**
 * Computes out.length outputs with the kernel, or returns false when it cannot
 * (no SIMD, disabled, a table too large, or a table without one row per phase).
 */
export function runKernel(b: KernelBlock): boolean {
	if (!enabled || b.phases !== b.up || b.phases * b.taps > KERNEL_MAX_TABLE || b.down >= 2 ** 20) return false;
	const k = instance();
	if (!k) return false;
	const stride = (b.taps + 3) & ~3;
	const tableBytes = b.phases * stride * 4;
	const inputBytes = (b.input.length + stride) * 4;
	const need = tableBytes + inputBytes + b.out.length * 4;
	const memory = k.exports.memory;
	if (memory.buffer.byteLength < need) {
		try {
			memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536));
		} catch {
			return false; // no room: the JavaScript loop needs none
		}
		k.heap = new Float32Array(memory.buffer); // the contents (the table) stay; the old view does not
	}
	const heap = k.heap;
	if (k.table !== b.table || k.stride !== stride) {
		// f32 rows padded with zeros to the stride (the table's values are fixed once filled)
		heap.fill(0, 0, tableBytes / 4);
		for (let ph = 0; ph < b.phases; ph++) {
			for (let j = 0; j < b.taps; j++) heap[ph * stride + j] = b.table[ph * b.taps + j];
		}
		k.table = b.table;
		k.stride = stride;
	}
	const inputAt = tableBytes / 4;
	heap.set(b.input, inputAt);
	heap.fill(0, inputAt + b.input.length, inputAt + b.input.length + stride);
	const outAt = inputAt + b.input.length + stride;
	k.exports.run(0, stride, inputAt * 4, outAt * 4, b.out.length, b.phase, 0, b.up, b.down);
	b.out.set(heap.subarray(outAt, outAt + b.out.length));
	return true;
}
