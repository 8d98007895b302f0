/**
 * Compressed formats decoded in-process by maintained WebAssembly decoders
 * (the wasm-audio-decoders family, MIT): MP3 (mpg123), FLAC (libFLAC),
 * Ogg Vorbis (libvorbis), Ogg Opus and WebM/Opus (libopus); and AMR-NB/WB
 * (opencore-amr, Apache-2.0, via @audio/decode-amr). Input is fed in
 * slices, output counted against the duration limit as it arrives, and the
 * event loop gets a turn between slices.
 */
import { MonoSink, feedInSlices, undecodable } from './sink';
import type { DecodeContext, DecodedPcm, Decoder } from './types';
import { demuxWebmOpus } from './webm';

interface DecodedAudio {
	channelData: Float32Array[];
	samplesDecoded: number;
	sampleRate: number;
	bitDepth?: number;
	errors?: Array<{ message: string }>;
}

interface StreamingDecoder {
	ready: Promise<void>;
	decode(data: Uint8Array): DecodedAudio | Promise<DecodedAudio>;
	flush?(): Promise<DecodedAudio>;
	/** Ready for a new file (the wasm-audio-decoders have it; absent: never reused). */
	reset?(): Promise<void> | void;
	free(): void;
}

/**
 * One idle decoder kept per kind: a WebAssembly instance (and its memory) per
 * voice note costs more than decoding it. A decoder is reused only after a
 * clean decode and a reset; one that failed is freed.
 */
const idle = new Map<() => StreamingDecoder, StreamingDecoder>();

function acquire(make: () => StreamingDecoder): StreamingDecoder {
	const kept = idle.get(make);
	if (kept) {
		idle.delete(make);
		return kept;
	}
	return make();
}

async function release(make: () => StreamingDecoder, decoder: StreamingDecoder, clean: boolean): Promise<void> {
	if (clean && decoder.reset && !idle.has(make)) {
		try {
			await decoder.reset();
			idle.set(make, decoder);
			return;
		} catch {
			// fall through: not reusable
		}
	}
	decoder.free();
}

/**
 * libFLAC's wrapper divides b-bit samples by 2^(b-1) - 1; ffmpeg and
 * transformers by 2^(b-1). Lossless means the same samples: rescaled here.
 */
function exactIntegerPcm(decoder: StreamingDecoder): StreamingDecoder {
	const rescale = (r: DecodedAudio): DecodedAudio => {
		if (r.bitDepth && r.bitDepth > 1 && r.bitDepth <= 32) {
			const k = (2 ** (r.bitDepth - 1) - 1) / 2 ** (r.bitDepth - 1);
			for (const channel of r.channelData) for (let i = 0; i < r.samplesDecoded; i++) channel[i] *= k;
		}
		return r;
	};
	return {
		get ready() {
			return decoder.ready;
		},
		decode: async (data) => rescale(await decoder.decode(data)),
		flush: decoder.flush && (async () => rescale(await decoder.flush!())),
		reset: decoder.reset && (() => decoder.reset!()),
		free: () => decoder.free(),
	};
}

// ES modules, loaded on first use (require(esm), Node >= 20.19)
const load = {
	mp3: () => new (require('mpg123-decoder').MPEGDecoder)() as StreamingDecoder,
	flac: () => exactIntegerPcm(new (require('@wasm-audio-decoders/flac').FLACDecoder)() as StreamingDecoder),
	vorbis: () => new (require('@wasm-audio-decoders/ogg-vorbis').OggVorbisDecoder)() as StreamingDecoder,
	opus: () => new (require('ogg-opus-decoder').OggOpusDecoder)() as StreamingDecoder,
	amr: (): StreamingDecoder => {
		// @audio/decode-amr: an async factory and a synchronous decode() without a sample count.
		type Amr = { decode(d: Uint8Array): { channelData: Float32Array[]; sampleRate: number }; free(): void };
		let inner: Amr | undefined;
		let freed = false;
		const ready = (require('@audio/decode-amr').decoder() as Promise<Amr>).then((d) => {
			inner = d;
			if (freed) d.free();
		});
		return {
			ready,
			decode(data) {
				const r = inner!.decode(data);
				return { channelData: r.channelData, samplesDecoded: r.channelData[0]?.length ?? 0, sampleRate: r.sampleRate };
			},
			free() {
				freed = true;
				inner?.free();
			},
		};
	},
};


async function decodeStreaming(
	input: Buffer,
	ctx: DecodeContext,
	format: string,
	name: string,
	make: () => StreamingDecoder,
): Promise<DecodedPcm> {
	const sink = new MonoSink(ctx);
	const decoder = acquire(make);
	let firstError: string | undefined;
	const take = async (r: DecodedAudio) => {
		if (r.errors?.length && !firstError) firstError = r.errors[0].message;
		if (r.samplesDecoded > 0) await sink.push(r.channelData, r.samplesDecoded, r.sampleRate);
	};
	let clean = false;
	try {
		await decoder.ready;
		await feedInSlices(input, ctx, async (slice) => await take(await decoder.decode(slice)));
		if (decoder.flush) await take(await decoder.flush());
		clean = !firstError;
	} finally {
		await release(make, decoder, clean);
	}
	if (sink.frames === 0) throw undecodable(format, firstError);
	return { sampleRate: sink.rate, source: sink.toSource(), name };
}

/** A decoder-list entry for one of the wasm-audio-decoders streaming decoders. */
function streamingEntry(id: string, formats: string, sniff: (head: Buffer) => boolean, name: string, make: () => StreamingDecoder): Decoder {
	return { id, formats, builtIn: true, sniff, decode: (input, ctx) => decodeStreaming(input, ctx, formats, name, make) };
}

function isMp3(head: Buffer): boolean {
	if (head.length >= 3 && head.toString('latin1', 0, 3) === 'ID3') return true;
	// An MPEG audio frame header: 11 sync bits, a layer (not the reserved 00, which ADTS AAC uses).
	return head.length >= 2 && head[0] === 0xff && (head[1] & 0xe0) === 0xe0 && ((head[1] >> 1) & 3) !== 0 && ((head[1] >> 3) & 3) !== 1;
}

export const mp3Decoder = streamingEntry('mp3', 'MP3', isMp3, 'mp3 (mpg123-decoder)', load.mp3);

export const flacDecoder = streamingEntry('flac', 'FLAC', (head) => head.length >= 4 && head.toString('latin1', 0, 4) === 'fLaC', 'flac (@wasm-audio-decoders/flac)', load.flac);

/** The codec of an Ogg stream, from its first page's first packet. */
function oggCodec(head: Buffer): 'opus' | 'vorbis' | 'flac' | 'other' | undefined {
	if (head.length < 28 || head.toString('latin1', 0, 4) !== 'OggS') return undefined;
	const segments = head[26];
	const packet = 27 + segments;
	if (packet + 8 > head.length) return 'other';
	if (head.toString('latin1', packet, packet + 8) === 'OpusHead') return 'opus';
	if (head.toString('latin1', packet + 1, packet + 7) === 'vorbis' && head[packet] === 1) return 'vorbis';
	if (head.toString('latin1', packet + 1, packet + 5) === 'FLAC') return 'flac';
	return 'other';
}

export const oggOpusDecoder = streamingEntry('ogg-opus', 'Ogg Opus', (head) => oggCodec(head) === 'opus', 'ogg-opus (ogg-opus-decoder)', load.opus);

export const oggVorbisDecoder = streamingEntry('ogg-vorbis', 'Ogg Vorbis', (head) => oggCodec(head) === 'vorbis', 'ogg-vorbis (@wasm-audio-decoders/ogg-vorbis)', load.vorbis);

/** AMR storage format (RFC 4867 section 5): single-channel AMR-NB or AMR-WB; multi-channel AMR goes to ffmpeg. */
export const amrDecoder = streamingEntry(
	'amr',
	'AMR',
	(head) => head.length >= 6 && (head.toString('latin1', 0, 6) === '#!AMR\n' || head.toString('latin1', 0, 9) === '#!AMR-WB\n'),
	'amr (@audio/decode-amr)',
	load.amr,
);

export const webmOpusDecoder: Decoder = {
	id: 'webm-opus',
	formats: 'WebM/Matroska with Opus audio',
	builtIn: true,
	sniff: (head) => head.length >= 4 && head.readUInt32BE(0) === 0x1a45dfa3,
	async decode(input, ctx) {
		const track = demuxWebmOpus(input);
		const { OpusDecoder } = require('opus-decoder');
		const head = track.opusHead;
		const channels = head[9] || 1;
		const mappingFamily = head.length > 18 ? head[18] : 0;
		const decoder = new OpusDecoder({
			channels,
			preSkip: head.readUInt16LE(10),
			...(mappingFamily && head.length >= 21 + channels
				? { streamCount: head[19], coupledStreamCount: head[20], channelMappingTable: Array.from(head.subarray(21, 21 + channels)) }
				: {}),
		}) as { ready: Promise<void>; decodeFrames(f: Uint8Array[]): DecodedAudio; free(): void };
		const sink = new MonoSink(ctx);
		let firstError: string | undefined;
		try {
			await decoder.ready;
			for (let i = 0; i < track.frames.length; i += 256) {
				const r = decoder.decodeFrames(track.frames.slice(i, i + 256));
				if (r.errors?.length && !firstError) firstError = r.errors[0].message;
				if (r.samplesDecoded > 0) await sink.push(r.channelData, r.samplesDecoded, r.sampleRate);
				await ctx.slicer.tick();
			}
		} finally {
			decoder.free();
		}
		if (sink.frames === 0) throw undecodable('WebM', firstError);
		return { sampleRate: sink.rate, source: sink.toSource(), name: 'webm-opus (opus-decoder)' };
	},
};
