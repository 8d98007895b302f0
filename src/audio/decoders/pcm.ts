/**
 * Uncompressed containers decoded in-process: WAV (../wav.ts) and AIFF/AIFF-C
 * with linear PCM, float, A-law or µ-law samples (CAF's: ./caf.ts). Each is read in
 * place (a mono view over the buffer), never copied whole.
 */
import { AudioDecodeError } from '../../errors';
import { ALAW, interleavedMonoSource, isWav, MULAW, readWavInfo, type SampleReader, wavAlwaysFinite, wavMonoSource } from '../wav';
import type { Decoder } from './types';

export function invalid(format: string, why: string): AudioDecodeError {
	return new AudioDecodeError(`The ${format} file is invalid: ${why}`, 'Check that the file was fully downloaded, or convert it to WAV.');
}

export function unsupported(format: string, codec: string): AudioDecodeError {
	return new AudioDecodeError(
		`This ${format} encoding (${codec}) has no built-in decoder`,
		'Install ffmpeg where n8n runs (the node then uses it for this file), or convert the file to WAV.',
	);
}

/** Reads one sample of a PCM or float stream in either byte order. */
export function pcmReader(bits: number, float: boolean, littleEndian: boolean): SampleReader | undefined {
	const le = littleEndian;
	if (float) {
		if (bits === 32) return le ? (b, o) => b.readFloatLE(o) : (b, o) => b.readFloatBE(o);
		if (bits === 64) return le ? (b, o) => b.readDoubleLE(o) : (b, o) => b.readDoubleBE(o);
		return undefined;
	}
	if (bits === 8) return (b, o) => b.readInt8(o) / 128;
	if (bits === 16) return le ? (b, o) => b.readInt16LE(o) / 32768 : (b, o) => b.readInt16BE(o) / 32768;
	if (bits === 24) return le ? (b, o) => b.readIntLE(o, 3) / 8388608 : (b, o) => b.readIntBE(o, 3) / 8388608;
	if (bits === 32) return le ? (b, o) => b.readInt32LE(o) / 2147483648 : (b, o) => b.readInt32BE(o) / 2147483648;
	return undefined;
}

export const wavDecoder: Decoder = {
	id: 'wav',
	formats: 'WAV',
	builtIn: true,
	sniff: (head) => isWav(head),
	async decode(input, ctx) {
		const info = readWavInfo(input);
		ctx.checkRate?.(info.sampleRate, 'WAV file');
		if (info.frames / info.sampleRate > ctx.maxDuration) throw ctx.tooLong(info.frames / info.sampleRate);
		return { sampleRate: info.sampleRate, source: wavMonoSource(input, info), name: 'wav', finite: wavAlwaysFinite(info) };
	},
};

/** IEEE 754 80-bit extended (AIFF's sample rate). */
function readExtended(b: Buffer, o: number): number {
	const exponent = b.readUInt16BE(o) & 0x7fff;
	const hi = b.readUInt32BE(o + 2);
	const lo = b.readUInt32BE(o + 6);
	if (exponent === 0 && hi === 0 && lo === 0) return 0;
	return (hi * 2 ** 32 + lo) * 2 ** (exponent - 16383 - 63);
}

export const aiffDecoder: Decoder = {
	id: 'aiff',
	formats: 'AIFF',
	builtIn: true,
	sniff: (head) =>
		head.length >= 12 && head.toString('latin1', 0, 4) === 'FORM' && ['AIFF', 'AIFC'].includes(head.toString('latin1', 8, 12)),
	async decode(input, ctx) {
		const aifc = input.toString('latin1', 8, 12) === 'AIFC';
		let comm: { channels: number; frames: number; bits: number; rate: number; codec: string } | undefined;
		let data: { start: number; size: number } | undefined;
		for (let o = 12; o + 8 <= input.length; ) {
			const id = input.toString('latin1', o, o + 4);
			const size = input.readUInt32BE(o + 4);
			const body = o + 8;
			if (id === 'COMM') {
				if (body + 18 > input.length) throw invalid('AIFF', 'it ends inside its COMM chunk');
				comm = {
					channels: input.readInt16BE(body),
					frames: input.readUInt32BE(body + 2),
					bits: input.readInt16BE(body + 6),
					rate: readExtended(input, body + 8),
					codec: aifc && body + 22 <= input.length ? input.toString('latin1', body + 18, body + 22) : 'NONE',
				};
			} else if (id === 'SSND') {
				if (body + 8 > input.length) throw invalid('AIFF', 'it ends inside its SSND chunk');
				const start = body + 8 + input.readUInt32BE(body);
				data = { start, size: Math.max(0, Math.min(size - 8, input.length - start)) };
			}
			o = body + size + (size % 2);
		}
		if (!comm) throw invalid('AIFF', 'it has no COMM chunk');
		if (!data) throw invalid('AIFF', 'it has no SSND chunk');
		if (comm.channels < 1) throw invalid('AIFF', 'it declares 0 channels');
		const rate = Math.round(comm.rate);
		ctx.checkRate?.(rate, 'AIFF file');
		const codec = comm.codec;
		let read: SampleReader | undefined;
		let bits = comm.bits;
		if (codec === 'NONE' || codec === 'twos') read = pcmReader(bits, false, false);
		else if (codec === 'sowt') read = pcmReader(bits, false, true);
		else if (codec === 'fl32' || codec === 'FL32') read = pcmReader((bits = 32), true, false);
		else if (codec === 'fl64' || codec === 'FL64') read = pcmReader((bits = 64), true, false);
		else if (codec === 'ulaw' || codec === 'ULAW') [read, bits] = [(b, o) => MULAW[b[o]], 8];
		else if (codec === 'alaw' || codec === 'ALAW') [read, bits] = [(b, o) => ALAW[b[o]], 8];
		if (!read) throw unsupported('AIFF', `${codec}, ${comm.bits} bits`);
		const bytes = Math.ceil(bits / 8);
		const blockAlign = bytes * comm.channels;
		const frames = Math.min(comm.frames || Infinity, Math.floor(data.size / blockAlign));
		if (frames / rate > ctx.maxDuration) throw ctx.tooLong(frames / rate);
		return {
			sampleRate: rate,
			source: interleavedMonoSource(input, { channels: comm.channels, dataStart: data.start, frames, blockAlign, bytes }, read),
			name: 'aiff',
		};
	},
};
