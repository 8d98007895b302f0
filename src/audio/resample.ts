/**
 * Band-limited resampling (Kaiser-windowed sinc), with the parameters of
 * ffmpeg's default swresample filter (32 taps at the lower rate, cutoff 0.97,
 * beta 9) so in-process WAV decoding stays close to what `ffmpeg -ar` gives
 * the Python pipeline. Rational rates use an exact polyphase table.
 */

const FILTER_SIZE = 32;
const CUTOFF = 0.97;
const KAISER_BETA = 9;
const MAX_PHASES = 8192;

function besselI0(x: number): number {
	let sum = 1;
	let term = 1;
	const half = x / 2;
	for (let k = 1; k < 50; k++) {
		term *= (half / k) * (half / k);
		sum += term;
		if (term < sum * 1e-12) break;
	}
	return sum;
}

function gcd(a: number, b: number): number {
	while (b) [a, b] = [b, a % b];
	return a;
}

export function resample(input: Float32Array, fromRate: number, toRate: number): Float32Array {
	if (fromRate === toRate || input.length === 0) return input;
	const ratio = toRate / fromRate;
	const scale = Math.min(1, ratio);
	const fc = CUTOFF * scale; // cutoff as a fraction of the input Nyquist
	const halfWidth = Math.ceil(FILTER_SIZE / 2 / scale); // in input samples
	const i0Beta = besselI0(KAISER_BETA);

	const weights = (frac: number, into: Float64Array): void => {
		// Taps k = -halfWidth+1 .. halfWidth around floor(t); x = frac - k.
		let sum = 0;
		for (let j = 0; j < into.length; j++) {
			const x = frac - (j - halfWidth + 1);
			const r = x / halfWidth;
			let w = 0;
			if (r > -1 && r < 1) {
				const arg = Math.PI * fc * x;
				const sinc = x === 0 ? 1 : Math.sin(arg) / arg;
				w = sinc * (besselI0(KAISER_BETA * Math.sqrt(1 - r * r)) / i0Beta);
			}
			into[j] = w;
			sum += w;
		}
		for (let j = 0; j < into.length; j++) into[j] /= sum; // unit DC gain
	};

	const taps = 2 * halfWidth;
	const g = gcd(fromRate, toRate);
	const up = toRate / g; // output samples per `down` input samples
	const down = fromRate / g;
	const outLength = Math.round(input.length * ratio);
	const out = new Float32Array(outLength);
	const table = up <= MAX_PHASES ? new Float64Array(up * taps) : undefined;
	if (table) {
		for (let p = 0; p < up; p++) weights(p / up, table.subarray(p * taps, (p + 1) * taps));
	}
	const scratch = new Float64Array(taps);
	for (let n = 0; n < outLength; n++) {
		// Exact input position n * down / up, split into integer and phase.
		const num = n * down;
		const base = Math.floor(num / up);
		const phase = num - base * up;
		let w: Float64Array;
		if (table) {
			w = table.subarray(phase * taps, (phase + 1) * taps);
		} else {
			weights(phase / up, scratch);
			w = scratch;
		}
		let acc = 0;
		const start = base - halfWidth + 1;
		const jFrom = Math.max(0, -start);
		const jTo = Math.min(taps, input.length - start);
		for (let j = jFrom; j < jTo; j++) acc += w[j] * input[start + j];
		out[n] = acc;
	}
	return out;
}
