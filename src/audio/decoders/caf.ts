/**
 * Apple's Core Audio Format (CAF), as iPhones send voice messages: linear
 * PCM, A-law and µ-law read in place, and AAC, ALAC and Opus in-process.
 *
 * FFmpeg's WebAssembly build here has the AAC and ALAC decoders but no CAF
 * demuxer, so the chunks are read here (`desc`, `kuki`, `pakt`, `data`, in
 * any order: Apple writes the packet table before the audio, ffmpeg after
 * it) with every size checked against the file, and the packets go to
 * FFmpeg's decoders (AAC, ALAC) or to libopus (Opus, as for Ogg and WebM).
 *
 * The encoder's priming frames and the last packet's remainder (the packet
 * table's header) are trimmed, as Apple's players do, so the audio starts
 * where the recording did. ffmpeg ignores them when it reads a CAF (its
 * output starts with the priming: 1024 frames for AAC from ffmpeg's
 * encoder, 2112 from Apple's); test/caf.test.ts compares the two with that
 * offset.
 *
 * Bounded: the packet count and every packet size are checked against the
 * data chunk, and the audio the table declares against the duration limit,
 * before anything is decoded; decoding then goes a few dozen packets at a
 * time, counted again by the sink, with the event loop getting a turn
 * between batches.
 */
import { AudioClassificationError } from '../../errors';
import { ALAW, interleavedMonoSource, MULAW, type SampleReader } from '../wav';
import { DECODER_NAME, esdsInfo, pushFrames } from './aac';
import { AVMEDIA_TYPE_AUDIO, type LibavFrame, type LibavModule, LibavSession, decodePackets } from './libav';
import { OpusStream } from './opus';
import { invalid, pcmReader, unsupported } from './pcm';
import { MonoSink, undecodable } from './sink';
import type { DecodeContext, DecodedPcm, Decoder } from './types';

/** Frames decoded between turns of the event loop: 64 AAC packets, 16 of ALAC's 4096 frames, 68 of Opus's 960 (a few ms each). */
const BATCH_FRAMES = 65_536;
const batchOf = (framesPerPacket: number) => Math.max(1, Math.min(256, Math.floor(BATCH_FRAMES / (framesPerPacket || 1024))));
/** FFmpeg's AVCodecIDs. */
const CODEC_ID = { aac: 86018, alac: 86032 } as const;
/** The longest packet accepted: far above any AAC (6144 bits a channel), ALAC or Opus packet. */
const MAX_PACKET = 1 << 20;
const MAX_CHANNELS = 8;

interface CafDesc {
	rate: number;
	format: string;
	flags: number;
	bytesPerPacket: number;
	framesPerPacket: number;
	channels: number;
	bits: number;
}

interface Span {
	start: number;
	end: number;
}

/** The chunks decoding needs, as spans of the file. */
export interface CafChunks {
	desc: CafDesc;
	kuki?: Span;
	pakt?: Span;
	data: Span;
}

/** Walks the chunks: each size is checked against the file; a data chunk of size -1 runs to its end. */
export function readCafChunks(input: Buffer): CafChunks {
	if (input.length < 8 || input.toString('latin1', 0, 4) !== 'caff') throw invalid('CAF', 'it does not start with "caff"');
	let desc: CafDesc | undefined;
	let kuki: Span | undefined;
	let pakt: Span | undefined;
	let data: Span | undefined;
	for (let o = 8; o + 12 <= input.length; ) {
		const id = input.toString('latin1', o, o + 4);
		const declared = Number(input.readBigInt64BE(o + 4));
		const body = o + 12;
		// A chunk that says it runs past the end is cut there (a truncated upload), as ffmpeg reads it.
		const end = declared < 0 || !Number.isSafeInteger(declared) ? input.length : Math.min(input.length, body + declared);
		if (id === 'desc') {
			if (end - body < 32) throw invalid('CAF', 'its desc chunk is cut short');
			desc = {
				rate: input.readDoubleBE(body),
				format: input.toString('latin1', body + 8, body + 12),
				flags: input.readUInt32BE(body + 12),
				bytesPerPacket: input.readUInt32BE(body + 16),
				framesPerPacket: input.readUInt32BE(body + 20),
				channels: input.readUInt32BE(body + 24),
				bits: input.readUInt32BE(body + 28),
			};
		} else if (id === 'kuki') {
			kuki = { start: body, end };
		} else if (id === 'pakt') {
			pakt = { start: body, end };
		} else if (id === 'data') {
			if (end - body < 4) throw invalid('CAF', 'its data chunk is cut short');
			data = { start: body + 4, end }; // after mEditCount
		}
		if (declared < 0 || !Number.isSafeInteger(declared) || body + declared >= input.length) break;
		o = body + declared;
	}
	if (!desc) throw invalid('CAF', 'it has no desc chunk');
	if (!data) throw invalid('CAF', 'it has no data chunk');
	if (!(desc.rate > 0) || !Number.isFinite(desc.rate)) throw invalid('CAF', `it declares a sample rate of ${desc.rate}`);
	if (desc.channels < 1 || desc.channels > 64) throw invalid('CAF', `it declares ${desc.channels} channels`);
	return { desc, kuki, pakt, data };
}

interface Packets {
	/** Byte spans in the file. */
	spans: Span[];
	/** Frames the packets hold in all (at the desc rate), before trimming. */
	frames: number;
	/** Frames to drop at the start (encoder priming) and keep in all (valid frames), from the packet table. */
	priming: number;
	valid?: number;
}

/** The packet table's variable-length integers: 7 bits a byte, high bit on all but the last (at most 5 bytes). */
function readVarint(buf: Buffer, at: { o: number }, end: number): number {
	let v = 0;
	for (let i = 0; i < 5; i++) {
		if (at.o >= end) throw invalid('CAF', 'its packet table ends inside an entry');
		const b = buf[at.o++];
		v = v * 128 + (b & 0x7f);
		if (!(b & 0x80)) return v;
	}
	throw invalid('CAF', 'its packet table has an entry longer than 5 bytes');
}

/**
 * Where each packet is: from the desc's constant packet size, or from the
 * packet table's sizes. Packets are listed only while they fit in the data
 * chunk (a cut-off file keeps what it has, as ffmpeg does).
 */
export function cafPackets(input: Buffer, c: CafChunks): Packets {
	const { desc, pakt, data } = c;
	let priming = 0;
	let valid: number | undefined;
	let count: number | undefined;
	const at = { o: 0 };
	if (pakt) {
		if (pakt.end - pakt.start < 24) throw invalid('CAF', 'its packet table is cut short');
		count = Number(input.readBigInt64BE(pakt.start));
		const validFrames = Number(input.readBigInt64BE(pakt.start + 8));
		priming = Math.max(0, input.readInt32BE(pakt.start + 16));
		if (count < 0 || !Number.isSafeInteger(count)) throw invalid('CAF', `its packet table declares ${count} packets`);
		if (validFrames >= 0 && Number.isSafeInteger(validFrames)) valid = validFrames;
		at.o = pakt.start + 24;
	}
	const constantSize = desc.bytesPerPacket;
	if (!constantSize && !pakt) {
		throw invalid('CAF', `its ${desc.format.trim()} packets vary in size and it has no packet table (pakt chunk)`);
	}
	if (!desc.framesPerPacket && !pakt) throw invalid('CAF', 'its packets vary in length and it has no packet table (pakt chunk)');
	const spans: Span[] = [];
	let frames = 0;
	let offset = data.start;
	// Each packet is at least a byte: no table can list more packets than the data holds.
	const most = Math.min(count ?? Infinity, data.end - data.start);
	for (let i = 0; i < most; i++) {
		let size = constantSize;
		let length = desc.framesPerPacket;
		if (pakt && (!constantSize || !length)) {
			if (at.o >= pakt.end) break; // fewer entries than declared: what the table lists
			if (!constantSize) size = readVarint(input, at, pakt.end);
			if (!length) length = readVarint(input, at, pakt.end);
		}
		if (size === 0 || size > MAX_PACKET) throw invalid('CAF', `it lists a packet of ${size} bytes`);
		if (offset + size > data.end) break;
		spans.push({ start: offset, end: offset + size });
		offset += size;
		frames += length;
	}
	if (spans.length === 0) throw invalid('CAF', 'its data chunk holds no whole packet');
	return { spans, frames, priming, valid };
}

/** Drops the first `skip` frames and everything after `keep` frames, as frames come from the decoder. */
class Trim {
	private seen = 0;

	constructor(
		private readonly sink: MonoSink,
		private skip: number,
		private readonly keep: number,
	) {}

	async push(frames: LibavFrame[]): Promise<void> {
		const kept: LibavFrame[] = [];
		for (const f of frames) {
			if (f.nb_samples <= 0) continue;
			const from = Math.min(this.skip, f.nb_samples);
			this.skip -= from;
			const to = Math.min(f.nb_samples, from + Math.max(0, this.keep - this.seen));
			if (to <= from) continue;
			this.seen += to - from;
			kept.push(from === 0 && to === f.nb_samples ? f : sliceFrame(f, from, to));
		}
		await pushFrames(this.sink, kept);
	}
}

/** Frames [from, to) of a decoded frame, in its own sample format. */
function sliceFrame(f: LibavFrame, from: number, to: number): LibavFrame {
	const planar = f.format >= 5;
	const cut = (a: ArrayLike<number>, step: number) => (a as Float32Array).subarray(from * step, to * step);
	const data = planar ? (f.data as Array<ArrayLike<number>>).map((ch) => cut(ch, 1)) : cut(f.data as ArrayLike<number>, f.channels);
	return { ...f, nb_samples: to - from, data };
}

interface CodecParModule extends LibavModule {
	avcodec_parameters_alloc(): number;
	avcodec_parameters_free_js(par: number): void;
	AVCodecParameters_codec_type_s(par: number, v: number): void;
	AVCodecParameters_codec_id_s(par: number, v: number): void;
	AVCodecParameters_sample_rate_s(par: number, v: number): void;
	AVCodecParameters_channels_s(par: number, v: number): void;
	AVCodecParameters_ch_layout_nb_channels_s(par: number, v: number): void;
	AVCodecParameters_extradata_s(par: number, v: number): void;
	AVCodecParameters_extradata_size_s(par: number, v: number): void;
	calloc(n: number, size: number): number;
	free(ptr: number): void;
}

/** ALAC's decoder wants the 36-byte 'alac' atom; a cookie may hold it inside other atoms, or be the bare 24-byte config. */
function alacExtradata(cookie: Buffer): Buffer {
	for (let o = 0; o + 36 <= cookie.length; ) {
		const size = cookie.readUInt32BE(o);
		if (cookie.toString('latin1', o + 4, o + 8) === 'alac' && size >= 36 && o + size <= cookie.length) return cookie.subarray(o, o + 36);
		if (size < 8) break;
		o += size;
	}
	if (cookie.length === 24) {
		const atom = Buffer.alloc(36);
		atom.writeUInt32BE(36, 0);
		atom.write('alac', 4, 'latin1');
		cookie.copy(atom, 12);
		return atom;
	}
	throw invalid('CAF', 'its ALAC magic cookie (kuki chunk) has no ALAC configuration');
}

/** AAC and ALAC through FFmpeg's decoders, given the codec's configuration from the magic cookie. */
async function decodeWithLibav(input: Buffer, c: CafChunks, p: Packets, ctx: DecodeContext, sink: MonoSink): Promise<string> {
	const { desc } = c;
	const cookie = c.kuki ? input.subarray(c.kuki.start, c.kuki.end) : undefined;
	let codec: 'aac' | 'alac';
	let extradata: Buffer;
	if (desc.format === 'aac ') {
		codec = 'aac';
		const info = cookie && esdsInfo(input, { type: 'esds', start: c.kuki!.start, end: c.kuki!.end });
		if (!info?.asc) throw invalid('CAF', 'its AAC magic cookie (kuki chunk) has no AudioSpecificConfig');
		extradata = info.asc;
	} else {
		codec = 'alac';
		if (!cookie) throw invalid('CAF', 'its ALAC audio has no magic cookie (kuki chunk)');
		extradata = alacExtradata(cookie);
	}
	const rate = Math.round(desc.rate);
	const lib = new LibavSession();
	try {
		let c0 = 0;
		let pkt = 0;
		let frame = 0;
		await lib.call(async (mod) => {
			const m = mod as CodecParModule;
			const par = m.avcodec_parameters_alloc();
			if (!par) throw new Error('out of memory');
			const extra = m.calloc(extradata.length + 64, 1); // FFmpeg reads up to 64 bytes past extradata
			try {
				if (!extra) throw new Error('out of memory');
				m.HEAPU8.set(extradata, extra);
				m.AVCodecParameters_codec_type_s(par, AVMEDIA_TYPE_AUDIO);
				m.AVCodecParameters_codec_id_s(par, CODEC_ID[codec]);
				m.AVCodecParameters_sample_rate_s(par, rate);
				m.AVCodecParameters_channels_s?.(par, desc.channels);
				m.AVCodecParameters_ch_layout_nb_channels_s?.(par, desc.channels);
				m.AVCodecParameters_extradata_s(par, extra);
				m.AVCodecParameters_extradata_size_s(par, extradata.length);
				[, c0, pkt, frame] = await m.ff_init_decoder(CODEC_ID[codec], par);
			} finally {
				// The decoder copied the configuration: ours is freed here, not by FFmpeg.
				m.AVCodecParameters_extradata_s(par, 0);
				m.AVCodecParameters_extradata_size_s(par, 0);
				m.avcodec_parameters_free_js(par);
				if (extra) m.free(extra);
			}
		});
		try {
			// Priming and valid frames count at the desc's rate; HE-AAC may decode at twice it.
			let trim: Trim | undefined;
			const n = batchOf(desc.framesPerPacket);
			for (let i = 0; i < p.spans.length; i += n) {
				const fin = i + n >= p.spans.length;
				const batch = p.spans.slice(i, i + n).map((s) => ({ data: new Uint8Array(input.buffer, input.byteOffset + s.start, s.end - s.start) }));
				const frames = await lib.call((m) => decodePackets(m, c0, pkt, frame, batch, fin));
				if (!trim && frames.length) {
					const k = frames[0].sample_rate / rate || 1;
					trim = new Trim(sink, Math.round(p.priming * k), p.valid === undefined ? Infinity : Math.round(p.valid * k));
				}
				if (trim) await trim.push(frames);
				await ctx.slicer.tick();
			}
		} finally {
			await lib.call((m) => m.ff_free_decoder(c0, pkt, frame));
		}
	} finally {
		await lib.finish();
	}
	return codec;
}

/** Opus: libopus, as for Ogg and WebM; an OpusHead from the desc (or the cookie, when it holds one). */
async function decodeOpus(input: Buffer, c: CafChunks, p: Packets, ctx: DecodeContext, sink: MonoSink): Promise<void> {
	const { desc } = c;
	if (desc.channels > 2) throw unsupported('CAF', `Opus with ${desc.channels} channels`);
	// Opus decodes at 48 kHz; the table counts at the desc's rate.
	const k = 48_000 / desc.rate;
	const head = { channels: desc.channels, preSkip: Math.round(p.priming * k), gain: 1, streams: 1, coupled: desc.channels - 1, mapping: desc.channels === 2 ? [0, 1] : [0] };
	const stream = await OpusStream.open(head, sink);
	const limit = p.valid === undefined ? undefined : Math.round(p.valid * k);
	const n = batchOf(desc.framesPerPacket);
	try {
		for (let i = 0; i < p.spans.length; i += n) {
			await stream.decode(
				p.spans.slice(i, i + n).map((s) => new Uint8Array(input.buffer, input.byteOffset + s.start, s.end - s.start)),
				limit,
			);
			await ctx.slicer.tick();
		}
	} catch (error) {
		stream.close(true);
		throw error;
	}
	stream.close();
}

const COMPRESSED: Record<string, string> = { 'aac ': 'AAC', alac: 'ALAC', opus: 'Opus' };

/** Whether these first bytes are a CAF file. */
export function isCaf(head: Buffer): boolean {
	return head.length >= 8 && head.toString('latin1', 0, 4) === 'caff';
}

export const cafDecoder: Decoder = {
	id: 'caf',
	formats: 'CAF (AAC, ALAC, Opus, PCM, A-law, µ-law)',
	builtIn: true,
	sniff: isCaf,
	async decode(input, ctx): Promise<DecodedPcm> {
		const c = readCafChunks(input);
		const { desc, data } = c;
		const rate = Math.round(desc.rate);
		ctx.checkRate?.(rate, 'CAF file');
		const name = COMPRESSED[desc.format];
		if (name) {
			if (desc.channels > MAX_CHANNELS) throw unsupported('CAF', `${name} with ${desc.channels} channels`);
			const p = cafPackets(input, c);
			const seconds = Math.min(p.frames, p.valid ?? Infinity) / desc.rate;
			if (seconds > ctx.maxDuration + 1) throw ctx.tooLong(seconds);
			const sink = new MonoSink(ctx);
			let label: string;
			try {
				if (desc.format === 'opus') {
					await decodeOpus(input, c, p, ctx, sink);
					label = 'opus (libopus)';
				} else {
					label = `${await decodeWithLibav(input, c, p, ctx, sink)} ${DECODER_NAME}`;
				}
			} catch (error) {
				if (error instanceof AudioClassificationError) throw error;
				throw undecodable(`CAF (${name})`, String((error as Error)?.message ?? error));
			}
			if (sink.frames === 0) throw undecodable(`CAF (${name})`, 'no audio came out of its packets');
			return { sampleRate: sink.rate, source: sink.toSource(), name: `caf: ${label}` };
		}
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
		const frames = Math.floor((data.end - data.start) / blockAlign);
		if (frames / rate > ctx.maxDuration) throw ctx.tooLong(frames / rate);
		return {
			sampleRate: rate,
			source: interleavedMonoSource(input, { channels: desc.channels, dataStart: data.start, frames, blockAlign, bytes }, read),
			name: 'caf',
		};
	},
};
