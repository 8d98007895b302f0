/**
 * Compressed formats decoded in-process by maintained WebAssembly decoders
 * (the wasm-audio-decoders family, MIT): MP3 (mpg123), FLAC (libFLAC),
 * Ogg Vorbis (libvorbis); and AMR-NB/WB
 * (opencore-amr, Apache-2.0, via @audio/decode-amr). Input is fed in
 * slices, output counted against the duration limit as it arrives, and the
 * event loop gets a turn between slices.
 */
import { keepLoopAlive } from '../../util/keep-alive';
import { MonoSink, feedInSlices, trapAsUndecodable, undecodable } from './sink';
import type { DecodeContext, DecodedPcm, Decoder } from './types';
import { oggCodec } from './ogg';

export interface DecodedAudio {
	channelData: Float32Array[];
	samplesDecoded: number;
	sampleRate: number;
	bitDepth?: number;
	errors?: Array<{ message: string }>;
}

export interface StreamingDecoder {
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
	try {
		decoder.free();
	} catch {
		// an instance that trapped may trap again here: it is dropped either way, and the file's own error stands
	}
}

/** The parts of mpg123-decoder 1.0.x that freshMpg123Handle touches (pinned in package.json). */
interface Mpg123Internals {
	_decoder: number;
	_sampleRate: number;
	_inputBytes: number;
	_outputSamples: number;
	_frameNumber: number;
	_common: { wasm: { HEAP: ArrayBuffer; malloc(n: number): number; free(p: number): void; mpeg_frame_decoder_create(p: number, gapless: number): number; mpeg_frame_decoder_destroy(d: number): void } };
}

/**
 * Ready for the next file without a new WebAssembly instance: a new instance
 * per voice note allocates a fresh WebAssembly memory, and inside n8n's large
 * heap that set off a full garbage collection nearly every note. Same state as
 * mpg123-decoder's reset() (a new handle, counters at zero), same instance.
 */
function freshMpg123Handle(d: Mpg123Internals): void {
	const w = d._common.wasm;
	w.mpeg_frame_decoder_destroy(d._decoder);
	w.free(d._decoder);
	const at = w.malloc(4);
	try {
		const error = w.mpeg_frame_decoder_create(at, 1); // gapless, mpg123-decoder's default
		if (error) throw new Error(`mpg123 handle: error ${error}`);
		d._decoder = new Uint32Array(w.HEAP, at, 1)[0];
	} finally {
		w.free(at);
	}
	d._sampleRate = 0;
	d._inputBytes = 0;
	d._outputSamples = 0;
	d._frameNumber = 0;
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
	mp3: (): StreamingDecoder => {
		const d = new (require('mpg123-decoder').MPEGDecoder)() as StreamingDecoder & Mpg123Internals;
		// mpg123-decoder's own reset() builds a new WebAssembly instance (and memory) per file;
		// this one starts a fresh mpg123 handle inside the instance it has.
		return {
			get ready() {
				return d.ready;
			},
			decode: (data) => d.decode(data),
			free: () => d.free(),
			reset: () => freshMpg123Handle(d),
		};
	},
	flac: () => exactIntegerPcm(new (require('@wasm-audio-decoders/flac').FLACDecoder)() as StreamingDecoder),
	vorbis: () => new (require('@wasm-audio-decoders/ogg-vorbis').OggVorbisDecoder)() as StreamingDecoder,
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
		await keepLoopAlive(decoder.ready);
		await feedInSlices(input, ctx, async (slice) => await take(await decoder.decode(slice)));
		if (decoder.flush) await take(await decoder.flush());
		clean = !firstError;
	} catch (e) {
		throw trapAsUndecodable(format, e);
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

export function isMp3(head: Buffer): boolean {
	if (head.length >= 3 && head.toString('latin1', 0, 3) === 'ID3') return true;
	// An MPEG audio frame header: 11 sync bits, a layer (not the reserved 00, which ADTS AAC uses).
	return head.length >= 2 && head[0] === 0xff && (head[1] & 0xe0) === 0xe0 && ((head[1] >> 1) & 3) !== 0 && ((head[1] >> 3) & 3) !== 1;
}

/** A new decoder for a live stream (it keeps its state between chunks); free() it when done. */
export function liveWasm(kind: 'mp3' | 'flac' | 'vorbis'): StreamingDecoder {
	return load[kind]();
}

export const mp3Decoder = streamingEntry('mp3', 'MP3', isMp3, 'mp3 (mpg123-decoder)', load.mp3);

export const flacDecoder = streamingEntry('flac', 'FLAC', (head) => head.length >= 4 && head.toString('latin1', 0, 4) === 'fLaC', 'flac (@wasm-audio-decoders/flac)', load.flac);

export const oggVorbisDecoder = streamingEntry('ogg-vorbis', 'Ogg Vorbis', (head) => oggCodec(head) === 'vorbis', 'ogg-vorbis (@wasm-audio-decoders/ogg-vorbis)', load.vorbis);

/** AMR storage format (RFC 4867 section 5): single-channel AMR-NB or AMR-WB; multi-channel AMR goes to ffmpeg. */
export const amrDecoder = streamingEntry(
	'amr',
	'AMR',
	(head) => head.length >= 6 && (head.toString('latin1', 0, 6) === '#!AMR\n' || head.toString('latin1', 0, 9) === '#!AMR-WB\n'),
	'amr (@audio/decode-amr)',
	load.amr,
);
