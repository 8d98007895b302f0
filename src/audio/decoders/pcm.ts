/**
 * Uncompressed containers decoded in-process: WAV (../wav.ts), AIFF/AIFF-C
 * and CAF with linear PCM, float, A-law or µ-law samples. Each is read in
 * place (a mono view over the buffer), never copied whole.
 */
import { AudioDecodeError } from '../../errors';
import { ALAW, interleavedMonoSource, isWav, MULAW, readWavInfo, type SampleReader, wavAlwaysFinite, wavMonoSource } from '../wav';
import type { Decoder } from './types';

function invalid(format: string, why: string): AudioDecodeError {
	return new AudioDecodeError(`The ${format} file is invalid: ${why}`, 'Check that the file was fully downloaded, or convert it to WAV.');
}

function unsupported(format: string, codec: string): AudioDecodeError {
	return new AudioDecodeError(
		`This ${format} encoding (${codec}) has no built-in decoder`,
		'Install ffmpeg where n8n runs (the node then uses it for this file), or convert the file to WAV.',
	);
}

/** Reads one sample of a PCM or float stream in either byte order. */
function pcmReader(bits: number, float: boolean, littleEndian: boolean): SampleReader | undefined {
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

export const cafDecoder: Decoder = {
	id: 'caf',
	formats: 'CAF (PCM, A-law, µ-law)',
	builtIn: true,
	sniff: (head) => head.length >= 8 && head.toString('latin1', 0, 4) === 'caff',
	async decode(input, ctx) {
		let desc: { rate: number; format: string; flags: number; bytesPerPacket: number; channels: number; bits: number } | undefined;
		let data: { start: number; size: number } | undefined;
		for (let o = 8; o + 12 <= input.length; ) {
			const id = input.toString('latin1', o, o + 4);
			const declared = Number(input.readBigInt64BE(o + 4));
			const body = o + 12;
			if (id === 'desc') {
				if (body + 32 > input.length) throw invalid('CAF', 'it ends inside its desc chunk');
				desc = {
					rate: input.readDoubleBE(body),
					format: input.toString('latin1', body + 8, body + 12),
					flags: input.readUInt32BE(body + 12),
					bytesPerPacket: input.readUInt32BE(body + 16),
					channels: input.readUInt32BE(body + 24),
					bits: input.readUInt32BE(body + 28),
				};
			} else if (id === 'data') {
				const rest = input.length - (body + 4);
				data = { start: body + 4, size: declared < 0 ? rest : Math.max(0, Math.min(declared - 4, rest)) };
				if (declared < 0) break; // "until the end of the file"
			}
			if (declared < 0 || !Number.isSafeInteger(declared)) break;
			o = body + declared;
		}
		if (!desc) throw invalid('CAF', 'it has no desc chunk');
		if (!data) throw invalid('CAF', 'it has no data chunk');
		if (desc.channels < 1 || desc.channels > 64) throw invalid('CAF', `it declares ${desc.channels} channels`);
		const rate = Math.round(desc.rate);
		ctx.checkRate?.(rate, 'CAF file');
		let read: SampleReader | undefined;
		let bytes = Math.ceil(desc.bits / 8);
		if (desc.format === 'lpcm') {
			const float = (desc.flags & 1) !== 0;
			read = pcmReader(desc.bits, float, (desc.flags & 2) !== 0);
		} else if (desc.format === 'ulaw') [read, bytes] = [(b, o) => MULAW[b[o]], 1];
		else if (desc.format === 'alaw') [read, bytes] = [(b, o) => ALAW[b[o]], 1];
		if (!read) throw unsupported('CAF', desc.format === 'lpcm' ? `PCM, ${desc.bits} bits` : desc.format);
		const blockAlign = desc.bytesPerPacket || bytes * desc.channels;
		if (blockAlign < bytes * desc.channels) throw invalid('CAF', 'its packet size is smaller than one frame');
		const frames = Math.floor(data.size / blockAlign);
		if (frames / rate > ctx.maxDuration) throw ctx.tooLong(frames / rate);
		return {
			sampleRate: rate,
			source: interleavedMonoSource(input, { channels: desc.channels, dataStart: data.start, frames, blockAlign, bytes }, read),
			name: 'caf',
		};
	},
};
