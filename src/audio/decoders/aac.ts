/**
 * M4A/MP4/MOV (AAC, ALAC, and the other codecs FFmpeg's WebAssembly build
 * carries) and ADTS AAC in-process, with FFmpeg's own demuxer and decoders
 * (libav.js, LGPL-2.1; see ./libav.ts): the same decoder the Python
 * pipeline's ffmpeg uses, so the samples are ffmpeg's.
 *
 * Memory and time stay bounded: an MP4's index is read first and the audio
 * it can yield is checked against the duration limit before anything is
 * decoded (an M4A without a complete index is refused); an ADTS stream's
 * frames are counted from their headers first; decoding then goes a few
 * dozen packets at a time, counted again by the sink, with the event loop
 * getting a turn between batches. A codec the WebAssembly build lacks is a
 * decode error, so `auto` hands the file to ffmpeg when it is there.
 */
import { AudioClassificationError, AudioDecodeError } from '../../errors';
import { type Mp4Box as Box, mp4Boxes } from '../probe';
import { AVERROR_EAGAIN, AVERROR_EOF, AVMEDIA_TYPE_AUDIO, type LibavFrame, type LibavPacket, LibavSession, decodePackets, frameChannels } from './libav';
import { MonoSink, undecodable } from './sink';
import type { DecodeContext, DecodedPcm, Decoder } from './types';

/** How the log names FFmpeg's decoders in WebAssembly (M4A, ADTS, CAF). */
export const DECODER_NAME = "(libav.js: FFmpeg's decoder in WebAssembly)";
/** FFmpeg's AVCodecID of the codecs named in the log; others log as their container. */
const CODEC_NAMES: Record<number, string> = { 86018: 'aac', 86032: 'alac', 86017: 'mp3', 86076: 'opus', 86028: 'flac' };
/** Compressed bytes read per batch: a few ms of decoding. */
const READ_BYTES = 32 * 1024;
const ADTS_BATCH = 64;

function isMp4(head: Buffer): boolean {
	return head.length >= 12 && head.toString('latin1', 4, 8) === 'ftyp';
}

export function isAdts(head: Buffer): boolean {
	// 12 sync bits, layer 00, then a valid sampling-frequency index.
	return head.length >= 7 && head[0] === 0xff && (head[1] & 0xf6) === 0xf0 && ((head[2] >> 2) & 0x0f) < 13;
}

export const ASC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

const child = (buf: Buffer, parent: Box, type: string) => {
	for (const b of mp4Boxes(buf, parent.start, parent.end)) if (b.type === type) return b;
	return undefined;
};

/**
 * From an esds body (ES -> DecoderConfig -> DecoderSpecificInfo): the
 * objectTypeIndication (0x40 AAC, 0x69/0x6B MP3, ...) and, for AAC, the
 * AudioSpecificConfig's core rate (0 when absent).
 */
export function esdsInfo(buf: Buffer, esds: Box): { objectType: number; rate: number; asc?: Buffer } {
	let o = esds.start + 4; // version, flags
	const descriptor = (tag: number): number => {
		if (o >= esds.end || buf[o] !== tag) return -1;
		o++;
		let len = 0;
		for (let i = 0; i < 4 && o < esds.end; i++) {
			const b = buf[o++];
			len = (len << 7) | (b & 0x7f);
			if (!(b & 0x80)) break;
		}
		return len;
	};
	if (descriptor(0x03) < 0) return { objectType: 0, rate: 0 };
	const flags = buf[o + 2];
	o += 3 + (flags & 0x80 ? 2 : 0);
	if (flags & 0x40) o += 1 + buf[o];
	if (flags & 0x20) o += 2;
	if (descriptor(0x04) < 0 || o >= esds.end) return { objectType: 0, rate: 0 };
	const objectType = buf[o];
	o += 13;
	const ascLength = descriptor(0x05);
	if (ascLength < 2 || o + 2 > esds.end) return { objectType, rate: 0 };
	const asc = buf.subarray(o, Math.min(esds.end, o + ascLength));
	const aot = buf[o] >> 3;
	let index = ((buf[o] & 7) << 1) | (buf[o + 1] >> 7);
	if (aot === 31) index = o + 3 > esds.end ? 15 : (buf[o + 1] >> 1) & 15;
	if (index === 15) {
		if (o + 5 > esds.end) return { objectType, asc, rate: 0 };
		return { objectType, asc, rate: ((buf[o + 1] & 0x7f) << 17) | (buf[o + 2] << 9) | (buf[o + 3] << 1) | (buf[o + 4] >> 7) };
	}
	return { objectType, asc, rate: ASC_RATES[index] ?? 0 };
}

const MP3_OBJECT_TYPES = new Set([0x69, 0x6b]);

/**
 * The most audio (seconds) the decoder can produce from this MP4: for every
 * audio track, the frames its sample-size table lists times the samples per
 * frame (1024 for AAC at the core rate, the ALAC cookie's frame length,
 * 1152 for MP3 at the sample entry's rate).
 * Undefined when there is no complete index to read; NaN when an audio
 * track's rate cannot be read.
 */
export function mp4DecodableSeconds(buf: Buffer): number | undefined {
	const moov = [...mp4Boxes(buf, 0, buf.length)].find((b) => b.type === 'moov');
	if (!moov) return undefined;
	let most = 0;
	for (const trak of mp4Boxes(buf, moov.start, moov.end)) {
		if (trak.type !== 'trak') continue;
		const mdia = child(buf, trak, 'mdia');
		const stbl = mdia && child(buf, mdia, 'minf') && child(buf, child(buf, mdia, 'minf')!, 'stbl');
		const stsd = stbl && child(buf, stbl, 'stsd');
		const stsz = stbl && (child(buf, stbl, 'stsz') ?? child(buf, stbl, 'stz2'));
		if (!stsd || !stsz || stsd.start + 16 > stsd.end || stsz.start + 12 > stsz.end) continue;
		const frames = buf.readUInt32BE(stsz.start + 8);
		const entry = stsd.start + 8;
		const kind = buf.toString('latin1', entry + 4, entry + 8);
		if (kind !== 'mp4a' && kind !== 'alac') continue;
		const version = entry + 18 <= stsd.end ? buf.readUInt16BE(entry + 16) : 0;
		const head = version === 1 ? 52 : version === 2 && entry + 40 <= stsd.end ? buf.readUInt32BE(entry + 36) : 36;
		const entryEnd = Math.min(stsd.end, entry + buf.readUInt32BE(entry));
		let perSecond = 0;
		const inner = [...mp4Boxes(buf, entry + head, entryEnd)];
		const wave = inner.find((b) => b.type === 'wave'); // QuickTime keeps esds inside 'wave'
		if (wave) inner.push(...mp4Boxes(buf, wave.start, wave.end));
		for (const b of inner) {
			if (b.type === 'esds') {
				const { objectType, rate } = esdsInfo(buf, b);
				const entryRate = entry + 34 <= stsd.end ? buf.readUInt16BE(entry + 32) : 0; // 16.16 fixed point
				if (rate) perSecond = rate / 1024;
				else if (MP3_OBJECT_TYPES.has(objectType) && entryRate) perSecond = entryRate / 1152;
			}
			if (b.type === 'alac' && b.end - b.start >= 28) {
				const cookie = b.end - 24; // ALACSpecificConfig: frameLength first, sampleRate last
				perSecond = buf.readUInt32BE(cookie + 20) / Math.max(1, buf.readUInt32BE(cookie));
			}
		}
		if (!perSecond) return NaN; // a track the decoder may read, but no bound can be read from it
		most = Math.max(most, frames / perSecond);
	}
	return most;
}

const decodeError = (detail?: string) => undecodable('M4A/AAC', detail);

function errorText(error: unknown): string {
	return String((error as Error)?.message ?? error);
}

export async function pushFrames(sink: MonoSink, frames: LibavFrame[]): Promise<void> {
	for (const f of frames) {
		if (f.nb_samples <= 0) continue;
		const channels = frameChannels(f);
		if (!channels) throw decodeError(`sample format ${f.format} is not supported`);
		await sink.push(channels, f.nb_samples, f.sample_rate);
	}
}

/** MP4/M4A/MOV: FFmpeg's demuxer over the bytes, its decoder over the first audio track. */
async function decodeMp4(input: Buffer, ctx: DecodeContext, sink: MonoSink): Promise<string> {
	const seconds = mp4DecodableSeconds(input);
	if (seconds === undefined) throw decodeError('no complete index (moov box)');
	if (Number.isNaN(seconds)) throw decodeError('the audio track header could not be read');
	if (seconds > ctx.maxDuration + 1) throw ctx.tooLong(seconds);
	const lib = new LibavSession();
	const name = lib.fileName();
	try {
		await lib.call((m) => m.writeFile(name, new Uint8Array(input.buffer, input.byteOffset, input.length)));
		// The first file in a process runs FFmpeg's code cold (40-70 ms a step here): a turn between steps.
		await ctx.slicer.tick();
		let fmt: number;
		let streams: Array<{ codec_type: number; codec_id: number; codecpar: number }>;
		try {
			// The MP4/MOV demuxer, named: FFmpeg does not guess another format (a playlist, a
			// concat script) from the bytes. It reads only this in-memory file (external data
			// references are off by default in FFmpeg, and there is no real file system here).
			[fmt, streams] = await lib.call((m) => m.ff_init_demuxer_file(name, 'mov'));
		} catch (error) {
			throw decodeError(errorText(error));
		}
		await ctx.slicer.tick();
		try {
			const index = streams.findIndex((st) => st.codec_type === AVMEDIA_TYPE_AUDIO);
			if (index < 0) throw decodeError('no audio track');
			const codecId = streams[index].codec_id;
			const codec = CODEC_NAMES[codecId] ?? 'mp4';
			let c: number, pkt: number, frame: number;
			try {
				[, c, pkt, frame] = await lib.call((m) => m.ff_init_decoder(codecId, streams[index].codecpar));
			} catch (error) {
				throw new AudioDecodeError(
					`The audio codec of this MP4/MOV file (FFmpeg codec id ${codecId}) has no built-in decoder (${errorText(error).slice(0, 80)})`,
					'Built in are AAC and ALAC in MP4/M4A/MOV. For other codecs install ffmpeg where n8n runs, or convert the file.',
					{ kind: 'noBuiltInDecoder' },
				);
			}
			await ctx.slicer.tick();
			try {
				// A small first read: the decoder's code is cold then (compiled on first use).
				for (let limit = READ_BYTES / 8; ; limit = READ_BYTES) {
					const [res, packets] = await lib.call((m) => m.ff_read_multi(fmt, pkt, null, { limit }));
					// Like the ffmpeg command: a read error ends the stream; what came before is kept.
					const end = res === AVERROR_EOF || (res < 0 && res !== AVERROR_EAGAIN);
					const frames = await lib.call((m) => decodePackets(m, c, pkt, frame, packets[index] ?? [], end));
					await pushFrames(sink, frames);
					if (end) break;
					await ctx.slicer.tick();
				}
			} finally {
				await lib.call((m) => m.ff_free_decoder(c, pkt, frame));
			}
			return codec;
		} finally {
			await lib.call((m) => m.avformat_close_input_js(fmt));
		}
	} finally {
		await lib.call((m) => m.unlink(name)).catch(() => undefined);
		await lib.finish();
	}
}

/** ADTS: frames split here (FFmpeg's decoder reads their headers), counted against the limit first. */
async function decodeAdts(input: Buffer, ctx: DecodeContext, sink: MonoSink): Promise<void> {
	const packets: LibavPacket[] = [];
	let seconds = 0;
	for (let o = 0; o + 7 <= input.length; ) {
		if (!isAdts(input.subarray(o, o + 7))) break; // lost sync: keep what came before, as ffmpeg does at a truncated end
		const length = ((input[o + 3] & 3) << 11) | (input[o + 4] << 3) | (input[o + 5] >> 5);
		if (length < 7 || o + length > input.length) break;
		const rate = ASC_RATES[(input[o + 2] >> 2) & 0x0f];
		seconds += (1024 * ((input[o + 6] & 3) + 1)) / rate;
		packets.push({ data: new Uint8Array(input.buffer, input.byteOffset + o, length) });
		o += length;
	}
	if (packets.length === 0) throw decodeError('no ADTS frames');
	if (seconds > ctx.maxDuration + 1) throw ctx.tooLong(seconds);
	const lib = new LibavSession();
	let c: number, pkt: number, frame: number;
	try {
		[, c, pkt, frame] = await lib.call((m) => m.ff_init_decoder('aac'));
		try {
			for (let i = 0; i < packets.length; i += ADTS_BATCH) {
				const fin = i + ADTS_BATCH >= packets.length;
				const frames = await lib.call((m) => decodePackets(m, c, pkt, frame, packets.slice(i, i + ADTS_BATCH), fin));
				await pushFrames(sink, frames);
				await ctx.slicer.tick();
			}
		} finally {
			await lib.call((m) => m.ff_free_decoder(c, pkt, frame));
		}
	} finally {
		await lib.finish();
	}
}

export const aacDecoder: Decoder = {
	id: 'aac',
	formats: 'M4A/MP4/MOV (AAC, ALAC), ADTS AAC',
	builtIn: true,
	sniff: (head) => isMp4(head) || isAdts(head),
	async decode(input: Buffer, ctx: DecodeContext): Promise<DecodedPcm> {
		const sink = new MonoSink(ctx);
		let codec = 'aac';
		try {
			if (isMp4(input)) codec = await decodeMp4(input, ctx, sink);
			else await decodeAdts(input, ctx, sink);
		} catch (error) {
			if (error instanceof AudioClassificationError) throw error;
			throw decodeError(errorText(error));
		}
		if (sink.frames === 0) throw decodeError();
		return { sampleRate: sink.rate, source: sink.toSource(), name: `${codec} ${DECODER_NAME}` };
	},
};
