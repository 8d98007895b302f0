/**
 * In-process WAV reader: PCM 8/16/24/32-bit, IEEE float 32/64, A-law, µ-law,
 * WAVE_FORMAT_EXTENSIBLE, any channel count and rate. WAV is the format most
 * workflows produce and the one that must work without ffmpeg.
 */
import { AudioDecodeError } from '../errors';
import type { SampleSource } from './resample';

export interface PcmAudio {
	sampleRate: number;
	/** One Float32Array per channel, samples in [-1, 1]. */
	channels: Float32Array[];
}

const FORMAT_PCM = 1;
const FORMAT_FLOAT = 3;
const FORMAT_ALAW = 6;
const FORMAT_MULAW = 7;
const FORMAT_EXTENSIBLE = 0xfffe;

export function isWav(buffer: Buffer): boolean {
	return (
		buffer.length >= 12 &&
		buffer.toString('ascii', 0, 4) === 'RIFF' &&
		buffer.toString('ascii', 8, 12) === 'WAVE'
	);
}

interface WavFormat {
	format: number;
	channels: number;
	sampleRate: number;
	bitsPerSample: number;
	blockAlign: number;
}

/** Reads the format chunk; every read is inside the chunk and the buffer. */
function readFormat(buffer: Buffer, offset: number, size: number): WavFormat {
	const available = Math.min(size, buffer.length - offset);
	if (available < 16) throw invalid(size < 16 ? 'its "fmt " chunk is shorter than 16 bytes' : 'it ends inside its "fmt " chunk');
	let format = buffer.readUInt16LE(offset);
	if (format === FORMAT_EXTENSIBLE) {
		// The first two bytes of the SubFormat GUID are the real format tag.
		if (available < 26) throw invalid('its WAVE_FORMAT_EXTENSIBLE header is cut short');
		format = buffer.readUInt16LE(offset + 24);
	}
	return {
		format,
		channels: buffer.readUInt16LE(offset + 2),
		sampleRate: buffer.readUInt32LE(offset + 4),
		blockAlign: buffer.readUInt16LE(offset + 12),
		bitsPerSample: buffer.readUInt16LE(offset + 14),
	};
}

function invalid(why: string): AudioDecodeError {
	return new AudioDecodeError(
		`The WAV file is invalid: ${why}`,
		'Check that the file was fully downloaded, or convert it to a standard PCM WAV.',
	);
}

export interface WavInfo extends WavFormat {
	dataStart: number;
	/** Whole sample frames present in the buffer. */
	frames: number;
	/** Bytes per sample of one channel. */
	bytes: number;
}

/** Walks the RIFF chunks to the "fmt " and "data" chunks and validates the header. */
export function readWavInfo(buffer: Buffer): WavInfo {
	let fmt: WavFormat | undefined;
	let offset = 12;
	while (offset + 8 <= buffer.length) {
		const id = buffer.toString('ascii', offset, offset + 4);
		const size = buffer.readUInt32LE(offset + 4);
		const body = offset + 8;
		if (id === 'fmt ') {
			fmt = readFormat(buffer, body, size);
		} else if (id === 'data') {
			if (!fmt) break;
			// Streamed WAVs (ffmpeg to a pipe, some recorders) leave the size 0 or
			// 0xFFFFFFFF; a truncated upload declares more than it has.
			const rest = buffer.length - body;
			const dataSize = size === 0 || size === 0xffffffff || size > rest ? rest : size;
			return validate(fmt, body, dataSize);
		}
		offset = body + size + (size % 2); // chunks are word-aligned
	}
	throw invalid(fmt ? 'it has no "data" chunk' : 'it has no "fmt " chunk');
}

function validate(fmt: WavFormat, dataStart: number, dataSize: number): WavInfo {
	const { channels, sampleRate, bitsPerSample } = fmt;
	if (channels < 1) throw invalid('it declares 0 channels');
	if (sampleRate < 1 || sampleRate > 768_000) throw invalid(`it declares a sample rate of ${sampleRate} Hz`);
	sampleReader(fmt.format, bitsPerSample); // unsupported encodings fail here, before any allocation
	const bytes = bitsPerSample / 8;
	const blockAlign = fmt.blockAlign || bytes * channels;
	if (blockAlign < bytes * channels) throw invalid(`its block size (${blockAlign}) is smaller than one frame of samples`);
	return { ...fmt, blockAlign, bytes, dataStart, frames: Math.floor(dataSize / blockAlign) };
}

/** Channel count from the header alone (decode.ts routes >2 channels to ffmpeg). */
export function wavChannelCount(buffer: Buffer): number {
	return readWavInfo(buffer).channels;
}

export function decodeWav(buffer: Buffer): PcmAudio {
	const info = readWavInfo(buffer);
	const { channels, dataStart, frames, blockAlign, bytes, sampleRate } = info;
	const read = sampleReader(info.format, info.bitsPerSample);
	const out = Array.from({ length: channels }, () => new Float32Array(frames));
	for (let i = 0; i < frames; i++) {
		const frameOffset = dataStart + i * blockAlign;
		for (let c = 0; c < channels; c++) {
			out[c][i] = read(buffer, frameOffset + c * bytes);
		}
	}
	return { sampleRate, channels: out };
}

/** Where interleaved PCM frames are in a buffer. */
export interface PcmLayout {
	channels: number;
	dataStart: number;
	frames: number;
	blockAlign: number;
	/** Bytes per sample of one channel. */
	bytes: number;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** 16-bit and 32-bit float samples (nearly every WAV): read through a typed view, ~10x faster than a reader call per sample. */
export type FastPcm = 'int16le' | 'float32le';

/** The samples as a typed array over the buffer, when the encoding allows one and they sit at an aligned address. */
function typedView(buffer: Buffer, layout: PcmLayout, fast: FastPcm | undefined): Int16Array | Float32Array | undefined {
	const { channels, dataStart, frames, blockAlign } = layout;
	const size = fast === 'int16le' ? 2 : fast === 'float32le' ? 4 : 0;
	const at = buffer.byteOffset + dataStart;
	if (!size || !LITTLE_ENDIAN_HOST || blockAlign !== size * channels || at % size) return undefined;
	return size === 2 ? new Int16Array(buffer.buffer, at, frames * channels) : new Float32Array(buffer.buffer, at, frames * channels);
}

/**
 * Interleaved PCM samples, down-mixed to mono as they are read (see
 * downmixToMono), for the resampler to pull block by block: no full-length
 * copy per channel. Shared by the WAV, AIFF and CAF readers.
 */
export function interleavedMonoSource(buffer: Buffer, layout: PcmLayout, read: SampleReader, fast?: FastPcm): SampleSource {
	const { channels, dataStart, frames, blockAlign, bytes } = layout;
	const gain = channels === 2 ? Math.SQRT1_2 : 1 / channels;
	const typed = typedView(buffer, layout, fast);
	const divisor = fast === 'int16le' ? 32768 : 1; // the per-sample reader's scale
	return {
		length: frames,
		read(start, into) {
			// Outside the data: zeros.
			const from = Math.min(into.length, Math.max(0, -start));
			const to = Math.max(from, Math.min(into.length, frames - start));
			into.fill(0, 0, from);
			into.fill(0, to);
			if (typed) {
				typedBlock(typed, divisor, (start + from) * channels, channels, gain, into, from, to);
				return;
			}
			for (let k = from, o = dataStart + (start + from) * blockAlign; k < to; k++, o += blockAlign) {
				if (channels === 1) {
					into[k] = read(buffer, o);
					continue;
				}
				let sum = 0;
				for (let c = 0; c < channels; c++) sum += read(buffer, o + c * bytes);
				into[k] = sum * gain;
			}
		},
	};
}

// The same arithmetic as the per-sample reader (sample / scale in double, summed, times the gain).
function typedBlock(pcm: Int16Array | Float32Array, divisor: number, first: number, channels: number, gain: number, into: Float32Array, from: number, to: number): void {
	if (channels === 1) {
		for (let k = from, i = first; k < to; k++, i++) into[k] = pcm[i] / divisor;
		return;
	}
	for (let k = from, i = first; k < to; k++, i += channels) {
		let sum = 0;
		for (let c = 0; c < channels; c++) sum += pcm[i + c] / divisor;
		into[k] = sum * gain;
	}
}

export function wavMonoSource(buffer: Buffer, info: WavInfo): SampleSource {
	const { format, bitsPerSample: bits } = info;
	const fast = format === FORMAT_PCM && bits === 16 ? 'int16le' : format === FORMAT_FLOAT && bits === 32 ? 'float32le' : undefined;
	return interleavedMonoSource(buffer, info, sampleReader(format, bits), fast);
}

/** Integer PCM, A-law and mu-law cannot hold NaN or infinity (float WAVs can). */
export function wavAlwaysFinite(info: WavInfo): boolean {
	return info.format !== FORMAT_FLOAT;
}

export type SampleReader = (buffer: Buffer, offset: number) => number;

export function sampleReader(format: number, bits: number): SampleReader {
	if (format === FORMAT_PCM) {
		if (bits === 8) return (b, o) => (b[o] - 128) / 128;
		if (bits === 16) return (b, o) => b.readInt16LE(o) / 32768;
		if (bits === 24) return (b, o) => b.readIntLE(o, 3) / 8388608;
		if (bits === 32) return (b, o) => b.readInt32LE(o) / 2147483648;
	}
	if (format === FORMAT_FLOAT) {
		if (bits === 32) return (b, o) => b.readFloatLE(o);
		if (bits === 64) return (b, o) => b.readDoubleLE(o);
	}
	if (format === FORMAT_ALAW && bits === 8) return (b, o) => ALAW[b[o]];
	if (format === FORMAT_MULAW && bits === 8) return (b, o) => MULAW[b[o]];
	throw new AudioDecodeError(
		`This WAV encoding is not supported in-process (format tag ${format}, ${bits} bits)`,
		'Install ffmpeg so the node can decode it, or convert the file to 16-bit PCM WAV.',
	);
}

/** G.711 tables, scaled like ffmpeg's pcm_alaw/pcm_mulaw decoders (/32768). */
export const ALAW = new Float32Array(256);
export const MULAW = new Float32Array(256);
for (let i = 0; i < 256; i++) {
	let a = i ^ 0x55;
	const exponent = (a & 0x70) >> 4;
	let mantissa = a & 0x0f;
	mantissa = exponent > 0 ? (mantissa << 4) + 0x108 : (mantissa << 4) + 8;
	a = exponent > 1 ? mantissa << (exponent - 1) : mantissa;
	ALAW[i] = ((i ^ 0x55) & 0x80 ? a : -a) / 32768;

	const u = ~i & 0xff;
	let t = ((u & 0x0f) << 3) + 0x84;
	t <<= (u & 0x70) >> 4;
	MULAW[i] = (u & 0x80 ? 0x84 - t : t - 0x84) / 32768;
}

/**
 * Down-mix to mono the way `ffmpeg -ac 1` does for float output: stereo is
 * (L + R) / sqrt(2) (ffmpeg's rematrix, not a plain mean), so features match
 * the Python pipeline, which decodes through ffmpeg. With `into`, written
 * there from `at` (the decoders' sink fills its blocks so, allocating nothing).
 */
export function downmixToMono(channels: Float32Array[], into?: Float32Array, at = 0): Float32Array {
	if (channels.length === 1 && !into) return channels[0];
	const n = channels[0].length;
	const out = into ?? new Float32Array(n);
	if (channels.length === 1) {
		out.set(channels[0], at);
		return out;
	}
	if (channels.length === 2) {
		const [l, r] = channels;
		for (let i = 0; i < n; i++) out[at + i] = (l[i] + r[i]) * Math.SQRT1_2;
		return out;
	}
	// More than two channels only reach here when ffmpeg is unavailable.
	out.fill(0, at, at + n);
	for (const ch of channels) for (let i = 0; i < n; i++) out[at + i] += ch[i] / channels.length;
	return out;
}
