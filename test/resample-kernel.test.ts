import { readFileSync } from 'node:fs';
import path from 'node:path';

import { resample, StreamingResampler } from '../src/audio/resample';
import { KERNEL_MAX_TABLE, runKernel, setResampleKernel } from '../src/audio/resample-kernel';
import { Slicer } from '../src/util/slicer';

const build = require('../scripts/wasm/build.js') as {
	SOURCES: Array<{ wat: string; name: string }>;
	compile(source: { wat: string; name: string }): Promise<string>;
	target(wat: string): string;
};

/** Speech-like input: a few sines under a slow envelope, plus noise, deterministic. */
function signal(length: number, seed = 1): Float32Array {
	let s = seed;
	const out = new Float32Array(length);
	for (let i = 0; i < length; i++) {
		s = (s * 1103515245 + 12345) % 2 ** 31;
		const env = 0.5 + 0.5 * Math.sin(i / 900);
		out[i] = env * (0.4 * Math.sin(i * 0.031) + 0.3 * Math.sin(i * 0.27) + 0.2 * Math.sin(i * 1.9)) + 0.05 * (s / 2 ** 31 - 0.5);
	}
	return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
	let m = 0;
	for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
	return m;
}

function withKernel<T>(on: boolean, fn: () => T): T {
	setResampleKernel(on);
	try {
		return fn();
	} finally {
		setResampleKernel(true);
	}
}

describe('resampler SIMD kernel', () => {
	it('the committed binary is the current compile of the .wat source', async () => {
		for (const source of build.SOURCES) {
			expect(readFileSync(build.target(source.wat), 'utf8')).toBe(await build.compile(source));
		}
		expect(build.SOURCES.map((s) => path.basename(s.wat))).toContain('resample-kernel.wat');
	});

	// Every common rate to 16 kHz (and 48 kHz for CLAP), odd lengths included: the kernel sums in
	// float32, the JavaScript loop in float64, so they agree to float32 rounding, not bit for bit.
	it.each([
		[44100, 16000, 44100 * 2 + 7],
		[48000, 16000, 48000 + 1],
		[22050, 16000, 22050 * 3 + 3],
		[11025, 16000, 11025 + 5],
		[8000, 16000, 8000 * 2 + 1],
		[24000, 16000, 24000 + 2],
		[32000, 16000, 32000 + 9],
		[96000, 16000, 96000 + 11],
		[16000, 48000, 16000 + 3],
		[44100, 48000, 44100 + 13],
		[44100, 16000, 5],
	])('%i -> %i Hz, %i samples: within 2e-6 of the JavaScript loop', (from, to, length) => {
		const input = signal(length);
		const js = withKernel(false, () => resample(input, from, to));
		const simd = resample(input, from, to);
		expect(simd.length).toBe(js.length);
		expect(maxAbsDiff(simd, js)).toBeLessThan(2e-6);
		// the kernel really ran: float32 sums are not the float64 loop's bits
		if (length > 100) expect(Buffer.compare(Buffer.from(simd.buffer), Buffer.from(js.buffer))).not.toBe(0);
	});

	it('streamed in uneven pieces, it gives the same samples as the whole input', async () => {
		const input = signal(44100 * 3 + 17, 7);
		const whole = resample(input, 44100, 16000);
		const stream = await StreamingResampler.create(44100, 16000, new Slicer());
		const parts: Float32Array[] = [];
		for (let i = 0, k = 0; i < input.length; k++) {
			const n = [1, 4096, 333, 20000, 7][k % 5];
			parts.push(stream.push(input.subarray(i, i + n)));
			i += n;
		}
		parts.push(stream.flush());
		const streamed = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
		let at = 0;
		for (const p of parts) {
			streamed.set(p, at);
			at += p.length;
		}
		expect(streamed.length).toBe(whole.length);
		expect(maxAbsDiff(streamed, whole)).toBe(0);
	});

	it('declines what it cannot hold: a table past its limit, or one without a row per phase', () => {
		const out = new Float32Array(4);
		const base = { input: new Float32Array(64), phase: 0, out, down: 3 };
		expect(runKernel({ ...base, table: new Float64Array(KERNEL_MAX_TABLE + 32), taps: 32, phases: KERNEL_MAX_TABLE / 32 + 1, up: KERNEL_MAX_TABLE / 32 + 1 })).toBe(false);
		expect(runKernel({ ...base, table: new Float64Array(64), taps: 32, phases: 2, up: 5 })).toBe(false);
		expect(runKernel({ ...base, table: new Float64Array(64), taps: 32, phases: 2, up: 2 })).toBe(true);
	});

	it('a rate pair whose table is too large still resamples (the JavaScript loop)', () => {
		// 44,099 Hz has no small common factor with 16 kHz: thousands of phases
		const input = signal(44099);
		const a = resample(input, 44099, 16000);
		const b = withKernel(false, () => resample(input, 44099, 16000));
		expect(maxAbsDiff(a, b)).toBe(0);
	});
});
