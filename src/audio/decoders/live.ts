/**
 * Decoders for live streams, whose bytes arrive without end: the same
 * in-process decoders as for files, kept open and fed as bytes come, state
 * carried from one chunk to the next. MP3 (mpg123), ADTS AAC (FFmpeg's
 * decoder, frames split here), Ogg Opus (libopus, pages read here), Ogg
 * Vorbis (libvorbis), FLAC (libFLAC) and WAV (PCM read here; a live WAV
 * declares no end); the format is recognised from the first bytes. Mono PCM goes to `onPcm`
 * (at the stream's rate) as it is decoded. Buffers hold at most one frame
 * or page that is still arriving (bounded by MAX_PENDING).
 */
import { AudioDecodeError } from '../../errors';
import { StreamingResampler } from '../resample';
import { Slicer } from '../../util/slicer';
import { keepLoopAlive } from '../../util/keep-alive';
import { ASC_RATES, isAdts, pushFrames } from './aac';
import { decodePackets, LibavSession, type LibavPacket } from './libav';
import { isOpusHead, oggCodec } from './ogg';
import { OpusStream, parseOpusHead } from './opus';
import { MonoSink } from './sink';
import type { DecodeContext } from './types';
import { isMp3, liveWasm, type StreamingDecoder } from './wasm';
import { isWav, readWavInfo, sampleReader } from '../wav';

/** Bytes waiting for the rest of a frame or page; more means the stream is not what it claimed. */
const MAX_PENDING = 256 * 1024;

export interface LiveDecoder {
	/** e.g. "mp3 (mpg123-decoder)". */
	readonly name: string;
	push(bytes: Uint8Array): Promise<void>;
	/** Frees the decoder (a stream that ends or reconnects gets a new one). */
	close(): Promise<void>;
}

export type PcmHandler = (mono: Float32Array, rate: number) => Promise<void>;

export type LiveKind = 'mp3' | 'adts' | 'ogg-opus' | 'ogg-vorbis' | 'flac' | 'wav' | 'ogg-other';

/** What the first bytes are, or undefined (not enough bytes yet, or not a live format). */
export function sniffLive(head: Buffer): LiveKind | undefined {
	if (head.length >= 4 && head.toString('latin1', 0, 4) === 'OggS') {
		const packet = 27 + (head.length > 26 ? head[26] : 0);
		if (head.length < packet + 8) return undefined;
		const codec = oggCodec(head);
		return codec === 'opus' ? 'ogg-opus' : codec === 'vorbis' ? 'ogg-vorbis' : 'ogg-other';
	}
	if (head.length >= 4 && head.toString('latin1', 0, 4) === 'fLaC') return 'flac';
	if (isWav(head)) return 'wav';
	if (isAdts(head)) return 'adts';
	if (isMp3(head)) return 'mp3';
	return undefined;
}

function liveContext(onPcm: PcmHandler): DecodeContext {
	return {
		slicer: new Slicer(),
		targetRate: 16000,
		maxDuration: Infinity,
		tooLong: () => new Error('unreachable'),
		onPcm,
	};
}

/** Bytes a live stream's decoder is chosen on (its format sniffed from them): the first chunks until this many. */
export const LIVE_HEAD_BYTES = 4096;

/**
 * openLiveDecoder, its PCM resampled to `rate` (the model's) as it comes: `onSamples(block, true)`.
 * close() frees the decoder, then hands out the resampler's tail with `arrived` false (it came
 * with the last bytes, not now).
 */
export async function openLiveResampled(
	head: Buffer,
	rate: number,
	slicer: Slicer,
	onSamples: (block: Float32Array, arrived: boolean) => Promise<void>,
): Promise<LiveDecoder> {
	let resampler: StreamingResampler | undefined;
	const decoder = await openLiveDecoder(head, async (mono, r) => {
		resampler ??= await StreamingResampler.create(r, rate, slicer);
		await onSamples(resampler.push(mono), true);
	});
	return {
		name: decoder.name,
		push: (bytes) => decoder.push(bytes),
		async close() {
			// The decoder first: what it still holds (a Vorbis page, a FLAC frame) goes through the resampler.
			await decoder.close();
			if (resampler) await onSamples(resampler.flush(), false);
			resampler = undefined;
		},
	};
}

/**
 * Opens the decoder the stream's first bytes call for (at least 4 KB, or the whole first
 * chunk). Throws AudioDecodeError when they are no audio this can decode live.
 */
export async function openLiveDecoder(head: Buffer, onPcm: PcmHandler): Promise<LiveDecoder> {
	// Icecast MP3 may start mid-frame: look for a frame sync in the first bytes.
	let kind = sniffLive(head);
	if (!kind) {
		for (let o = 1; o + 4 < Math.min(head.length, 8192) && !kind; o++) {
			if (head[o] === 0xff) {
				const k = sniffLive(head.subarray(o));
				if (k === 'mp3' || k === 'adts') kind = k;
			}
		}
	}
	switch (kind) {
		case 'mp3':
			return await wasmLive('mp3', 'mp3 (mpg123-decoder)', onPcm);
		case 'flac':
			return await wasmLive('flac', 'flac (@wasm-audio-decoders/flac)', onPcm);
		case 'ogg-vorbis':
			return await wasmLive('vorbis', 'ogg-vorbis (@wasm-audio-decoders/ogg-vorbis)', onPcm);
		case 'wav':
			return wavLive(head, onPcm);
		case 'adts':
			return adtsLive(onPcm);
		case 'ogg-opus':
			return oggOpusLive(onPcm);
		case 'ogg-other':
			throw new AudioDecodeError('This Ogg stream is neither Opus nor Vorbis (Ogg FLAC is not decoded live)', 'Use an MP3, AAC, Ogg Opus/Vorbis, FLAC or WAV stream, or the FFmpeg source.', { kind: 'liveFormat' });
		default:
			throw new AudioDecodeError('The stream is not audio this can decode live (MP3, AAC/ADTS, Ogg Opus/Vorbis, FLAC or WAV)', 'Check the address points at the audio itself (not a web page); for an .m3u8 playlist choose the HLS source, for other formats the FFmpeg source.', {
				kind: 'liveFormat',
			});
	}
}

/**
 * MP3, FLAC, Ogg Vorbis: the wasm-audio-decoders keep their state between chunks (codec-parser
 * finds the frames). After junk mid-stream codec-parser can lose the stream for good (FLAC:
 * nothing more comes out, no error): when bytes keep arriving and no audio comes out for
 * about 1.5 s worth of them, a fresh decoder takes over, primed with the stream's headers only
 * (FLAC's metadata, Vorbis's header pages: a primer with audio frames in it makes codec-parser
 * refuse what follows), so the stream goes on without a reconnect.
 */
async function wasmLive(kind: 'mp3' | 'flac' | 'vorbis', name: string, onPcm: PcmHandler): Promise<LiveDecoder> {
	const sink = new MonoSink(liveContext(onPcm));
	let decoder: StreamingDecoder = liveWasm(kind);
	await keepLoopAlive(decoder.ready);
	const header: Buffer[] = []; // the bytes up to the first audio that came out: the stream's headers
	let headerBytes = 0;
	let bytesIn = 0;
	let secondsOut = 0;
	let sinceOutput = 0;
	let freed = false;
	const free = (d: StreamingDecoder) => {
		try {
			d.free();
		} catch {
			// a trapped instance: dropped either way
		}
	};
	const resync = async () => {
		free(decoder);
		decoder = liveWasm(kind);
		await keepLoopAlive(decoder.ready);
		const prefix = headerPrefix(kind, Buffer.concat(header));
		if (prefix.length) await decoder.decode(prefix);
		sinceOutput = 0;
	};
	return {
		name,
		async push(bytes) {
			// Slices of at most 16 KB: one call is a few ms of work, whatever the chunk the network gave.
			for (let at = 0; at < bytes.length; at += 16384) {
				const slice = bytes.subarray(at, Math.min(bytes.length, at + 16384));
				if (!secondsOut) {
					header.push(Buffer.from(slice));
					headerBytes += slice.length;
					if (headerBytes > MAX_PENDING) throw new AudioDecodeError(`No audio came out of the first ${Math.round(headerBytes / 1024)} KB of the ${kind.toUpperCase()} stream`, 'Check the stream; it is reconnected.', { kind: 'liveGarbage' });
				}
				const r = await decoder.decode(slice);
				bytesIn += slice.length;
				if (r.samplesDecoded > 0) {
					secondsOut += r.samplesDecoded / r.sampleRate;
					sinceOutput = 0;
					await sink.push(r.channelData, r.samplesDecoded, r.sampleRate);
					continue;
				}
				sinceOutput += slice.length;
				if (secondsOut > 0 && sinceOutput > Math.max(16384, (1.5 * bytesIn) / secondsOut)) {
					await resync();
				}
			}
		},
		async close() {
			if (freed) return;
			freed = true;
			try {
				// What the decoder still holds (a Vorbis page, the last FLAC frame) is audio that arrived.
				const r = decoder.flush ? await decoder.flush() : undefined;
				if (r && r.samplesDecoded > 0) await sink.push(r.channelData, r.samplesDecoded, r.sampleRate);
			} catch {
				// the stream ended inside a frame: nothing more to hand on
			} finally {
				free(decoder);
			}
		},
	};
}

/** The bytes of a stream's headers, without any audio: what a fresh decoder needs to pick the stream up mid-way. */
export function headerPrefix(kind: 'mp3' | 'flac' | 'vorbis', head: Buffer): Buffer {
	if (kind === 'flac') {
		// "fLaC", then metadata blocks (1 byte flags/type, 3 bytes length), the last one flagged.
		let o = 4;
		while (o + 4 <= head.length) {
			const last = head[o] & 0x80;
			o += 4 + head.readUIntBE(o + 1, 3);
			if (last) return o <= head.length ? head.subarray(0, o) : Buffer.alloc(0);
		}
		return Buffer.alloc(0);
	}
	if (kind === 'vorbis') {
		// Ogg pages up to the first one with a granule position: the identification, comment and setup headers.
		let o = 0;
		while (o + 27 <= head.length && head.toString('latin1', o, o + 4) === 'OggS') {
			if (head.readUInt32LE(o + 6) !== 0 || head.readUInt32LE(o + 10) !== 0) return head.subarray(0, o);
			const segments = head[o + 26];
			if (o + 27 + segments > head.length) break;
			let size = 0;
			for (let i = 0; i < segments; i++) size += head[o + 27 + i];
			o += 27 + segments + size;
		}
		return Buffer.alloc(0);
	}
	return Buffer.alloc(0);
}

/** WAV: the header from the first bytes, then interleaved frames (a frame cut between chunks waits for its rest). */
function wavLive(head: Buffer, onPcm: PcmHandler): LiveDecoder {
	const info = readWavInfo(head);
	if (info.channels > 8) throw new AudioDecodeError(`The WAV stream declares ${info.channels} channels`, 'Stream mono or stereo audio.', { kind: 'liveFormat' });
	const read = sampleReader(info.format, info.bitsPerSample);
	const sink = new MonoSink(liveContext(onPcm));
	let skip = info.dataStart; // header bytes still to pass
	let pending: Buffer = Buffer.alloc(0);
	const channels = Array.from({ length: info.channels }, () => new Float32Array(0));
	return {
		name: 'wav',
		async push(bytes) {
			let chunk = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
			if (skip > 0) {
				const n = Math.min(skip, chunk.length);
				skip -= n;
				chunk = chunk.subarray(n);
			}
			const data = pending.length ? Buffer.concat([pending, chunk]) : chunk;
			// 0.25 s of frames at most per block: a large chunk is handed on in pieces.
			const per = Math.max(1, Math.floor(info.sampleRate / 4));
			let at = 0;
			while (data.length - at >= info.blockAlign) {
				const frames = Math.min(per, Math.floor((data.length - at) / info.blockAlign));
				for (let c = 0; c < info.channels; c++) if (channels[c].length < frames) channels[c] = new Float32Array(per);
				for (let i = 0; i < frames; i++) {
					const o = at + i * info.blockAlign;
					for (let c = 0; c < info.channels; c++) channels[c][i] = read(data, o + c * info.bytes);
				}
				await sink.push(channels, frames, info.sampleRate);
				at += frames * info.blockAlign;
			}
			pending = Buffer.from(data.subarray(at));
		},
		async close() {
			pending = Buffer.alloc(0);
		},
	};
}

/** ADTS AAC: frames split from the bytes (carrying a cut frame to the next chunk), decoded by FFmpeg's AAC decoder. */
function adtsLive(onPcm: PcmHandler): LiveDecoder {
	const sink = new MonoSink(liveContext(onPcm));
	const lib = new LibavSession();
	let codec: Promise<[number, number, number]> | undefined;
	let pending: Buffer = Buffer.alloc(0);
	let closed = false;
	return {
		name: 'aac (libav.js: FFmpeg\'s decoder in WebAssembly)',
		async push(bytes) {
			pending = pending.length ? Buffer.concat([pending, bytes]) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
			const packets: LibavPacket[] = [];
			let o = 0;
			while (o + 7 <= pending.length) {
				if (!isAdts(pending.subarray(o, o + 7)) || ASC_RATES[(pending[o + 2] >> 2) & 0x0f] === undefined) {
					// Lost sync (garbage, or a cut): look for the next frame header.
					const next = pending.indexOf(0xff, o + 1);
					o = next < 0 ? pending.length : next;
					continue;
				}
				const length = ((pending[o + 3] & 3) << 11) | (pending[o + 4] << 3) | (pending[o + 5] >> 5);
				if (length < 7) {
					o++;
					continue;
				}
				if (o + length > pending.length) break;
				packets.push({ data: new Uint8Array(pending.subarray(o, o + length)) });
				o += length;
			}
			pending = Buffer.from(pending.subarray(o));
			if (pending.length > MAX_PENDING) throw new AudioDecodeError('The AAC stream lost its frame structure', 'Check the stream; it is reconnected.', { kind: 'liveGarbage' });
			if (!packets.length) return;
			codec ??= lib.call((m) => m.ff_init_decoder('aac')).then(([, c, pkt, frame]) => [c, pkt, frame] as [number, number, number]);
			const [c, pkt, frame] = await codec;
			const frames = await lib.call((m) => decodePackets(m, c, pkt, frame, packets, false));
			await pushFrames(sink, frames);
		},
		async close() {
			if (closed) return;
			closed = true;
			if (codec) {
				const [c, pkt, frame] = await codec.catch(() => [0, 0, 0]);
				if (c) await lib.call((m) => m.ff_free_decoder(c, pkt, frame)).catch(() => undefined);
			}
			await lib.finish();
		},
	};
}

/** Ogg Opus: pages read as they complete (a page cut between chunks waits for its rest), packets to libopus. */
function oggOpusLive(onPcm: PcmHandler): LiveDecoder {
	const sink = new MonoSink(liveContext(onPcm));
	let pending: Buffer = Buffer.alloc(0);
	let stream: OpusStream | undefined;
	let serial = -1;
	let seen = 0; // packets of the current logical stream: 0 = OpusHead, 1 = OpusTags, then audio
	let parts: Uint8Array[] = []; // a packet continued onto the next page
	let closed = false;
	const endStream = () => {
		stream?.close();
		stream = undefined;
		serial = -1;
		parts = [];
	};
	return {
		name: 'ogg-opus (opus-decoder)',
		async push(bytes) {
			pending = pending.length ? Buffer.concat([pending, bytes]) : Buffer.from(bytes);
			let o = 0;
			for (;;) {
				const at = pending.indexOf('OggS', o, 'latin1');
				if (at < 0) {
					o = Math.max(o, pending.length - 3);
					break;
				}
				o = at;
				if (o + 27 > pending.length) break;
				const segments = pending[o + 26];
				if (o + 27 + segments > pending.length) break;
				let size = 0;
				for (let i = 0; i < segments; i++) size += pending[o + 27 + i];
				const end = o + 27 + segments + size;
				if (end > pending.length) break;
				if (pending[o + 4] !== 0) {
					o++;
					continue;
				}
				const flags = pending[o + 5];
				const pageSerial = pending.readUInt32LE(o + 14);
				const packets: Uint8Array[] = [];
				let start = o + 27 + segments;
				let p = start;
				if (!(flags & 1)) parts = [];
				for (let i = 0; i < segments; i++) {
					const lace = pending[o + 27 + i];
					p += lace;
					if (lace < 255) {
						parts.push(pending.subarray(start, p));
						packets.push(parts.length === 1 ? new Uint8Array(parts[0]) : new Uint8Array(Buffer.concat(parts)));
						parts = [];
						start = p;
					}
				}
				if (p > start) parts.push(new Uint8Array(pending.subarray(start, p)));
				o = end;
				if (pageSerial !== serial) {
					// A stream begins with an OpusHead on a first page (Icecast chains streams per song).
					if (!(flags & 2) || !isOpusHead(packets[0])) continue;
					endStream();
					serial = pageSerial;
					seen = 0;
				}
				const audio: Uint8Array[] = [];
				for (const packet of packets) {
					if (seen === 0) stream = await OpusStream.open(parseOpusHead(packet, 'Ogg Opus'), sink);
					else if (seen > 1) audio.push(packet);
					seen++;
				}
				if (stream && audio.length) await stream.decode(audio);
				if (flags & 4) endStream();
			}
			pending = Buffer.from(pending.subarray(o));
			if (pending.length > MAX_PENDING) throw new AudioDecodeError('The Ogg stream lost its page structure', 'Check the stream; it is reconnected.', { kind: 'liveGarbage' });
		},
		async close() {
			if (closed) return;
			closed = true;
			endStream();
		},
	};
}
