/** Mel filter banks, laid out [numMelBins][numFftBins]. */

const tables = new Map<string, unknown>();

/** Filter banks and windows depend only on the config: build them once, not per item. */
export function cachedTable<T>(key: string, build: () => T): T {
	let table = tables.get(key) as T | undefined;
	if (table === undefined) {
		table = build();
		tables.set(key, table);
	}
	return table;
}

/** One filter's non-zero span: applying it touches only these bins. */
export interface SparseFilter {
	start: number;
	weights: Float64Array;
}

/** Each triangular filter covers a few bins: skip the zeros (most of the mel products; the FFT dominates the rest). */
export function sparsify(banks: Float64Array[]): SparseFilter[] {
	return banks.map((row) => {
		let start = 0;
		while (start < row.length && row[start] === 0) start++;
		let end = row.length;
		while (end > start && row[end - 1] === 0) end--;
		return { start, weights: row.slice(start, end) };
	});
}

export function applyFilter(filter: SparseFilter, power: Float64Array): number {
	let e = 0;
	const { start, weights } = filter;
	for (let k = 0; k < weights.length; k++) e += weights[k] * power[start + k];
	return e;
}

/** Kaldi's banks as torchaudio.compliance.kaldi builds them (mel = 1127 ln(1 + f/700)). */
export function kaldiMelBanks(
	numMelBins: number,
	paddedWindowSize: number,
	sampleRate: number,
	lowFreq = 20,
	highFreq = 0,
): Float64Array[] {
	const numFftBins = paddedWindowSize / 2; // Kaldi drops the Nyquist bin
	const nyquist = sampleRate / 2;
	const high = highFreq <= 0 ? highFreq + nyquist : highFreq;
	const binWidth = sampleRate / paddedWindowSize;
	const mel = (f: number) => 1127 * Math.log(1 + f / 700);
	const melLow = mel(lowFreq);
	const delta = (mel(high) - melLow) / (numMelBins + 1);
	const banks: Float64Array[] = [];
	for (let b = 0; b < numMelBins; b++) {
		const left = melLow + b * delta;
		const center = melLow + (b + 1) * delta;
		const right = melLow + (b + 2) * delta;
		const row = new Float64Array(numFftBins + 1);
		for (let i = 0; i < numFftBins; i++) {
			const m = mel(binWidth * i);
			const up = (m - left) / (center - left);
			const down = (right - m) / (right - center);
			row[i] = Math.max(0, Math.min(up, down));
		}
		banks.push(row);
	}
	return banks;
}

const MIN_LOG_HZ = 1000;
const MIN_LOG_MEL = 15;
const LOGSTEP = 27 / Math.log(6.4);

function hzToSlaneyMel(f: number): number {
	return f >= MIN_LOG_HZ ? MIN_LOG_MEL + Math.log(f / MIN_LOG_HZ) * LOGSTEP : (3 * f) / 200;
}

function slaneyMelToHz(m: number): number {
	return m >= MIN_LOG_MEL ? MIN_LOG_HZ * Math.exp((m - MIN_LOG_MEL) / LOGSTEP) : (200 * m) / 3;
}

/** Slaney-scale, slaney-normalised banks (librosa's default; Whisper's filters). */
export function slaneyMelBanks(
	numMelBins: number,
	numFftBins: number,
	sampleRate: number,
	minFreq: number,
	maxFreq: number,
): Float64Array[] {
	const melMin = hzToSlaneyMel(minFreq);
	const melMax = hzToSlaneyMel(maxFreq);
	const edges = Array.from({ length: numMelBins + 2 }, (_, i) =>
		slaneyMelToHz(melMin + ((melMax - melMin) * i) / (numMelBins + 1)),
	);
	const nyquist = Math.floor(sampleRate / 2);
	const banks: Float64Array[] = [];
	for (let b = 0; b < numMelBins; b++) {
		const row = new Float64Array(numFftBins);
		const enorm = 2 / (edges[b + 2] - edges[b]);
		for (let i = 0; i < numFftBins; i++) {
			const f = (nyquist * i) / (numFftBins - 1);
			const down = (f - edges[b]) / (edges[b + 1] - edges[b]);
			const up = (edges[b + 2] - f) / (edges[b + 2] - edges[b + 1]);
			row[i] = Math.max(0, Math.min(down, up)) * enorm;
		}
		banks.push(row);
	}
	return banks;
}
