/**
 * Decoders for live streams, whose bytes arrive without end: the same
 * in-process decoders as for files, kept open and fed as bytes come, state
 * carried from one chunk to the next. MP3 (mpg123), ADTS AAC (FFmpeg's
 * decoder, frames split here) and Ogg Opus (libopus, pages read here);
 * the format is recognised from the first bytes. Mono PCM goes to `onPcm`
 * (at the stream's rate) as it is decoded. Buffers hold at most one frame
 * or page that is still arriving (bounded by MAX_PENDING).
 */
import { AudioDecodeError } from '../../errors';
import { Slicer } from '../../util/slicer';
import { keepLoopAlive } from '../../util/keep-alive';
import { ASC_RATES, isAdts, pushFrames } from './aac';
import { decodePackets, LibavSession, type LibavPacket } from './libav';
import { isOpusHead } from './ogg';
import { OpusStream, parseOpusHead } from './opus';
import { MonoSink } from './sink';
import type { DecodeContext } from './types';
import { isMp3, liveMp3 } from './wasm';

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

/** What the first bytes are: 'mp3', 'adts', 'ogg-opus', or undefined (not enough bytes yet, or not a live format). */
export function sniffLive(head: Buffer): 'mp3' | 'adts' | 'ogg-opus' | 'ogg-other' | undefined {
	if (head.length >= 4 && head.toString('latin1', 0, 4) === 'OggS') {
		const packet = 27 + (head.length > 26 ? head[26] : 0);
		if (head.length < packet + 8) return undefined;
		return isOpusHead(head.subarray(packet, packet + 8)) ? 'ogg-opus' : 'ogg-other';
	}
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
			return await mp3Live(onPcm);
		case 'adts':
			return adtsLive(onPcm);
		case 'ogg-opus':
			return oggOpusLive(onPcm);
		case 'ogg-other':
			throw new AudioDecodeError('This Ogg stream is not Opus (Ogg Vorbis and FLAC are not decoded live yet)', 'Use an MP3, AAC or Ogg Opus stream, or the FFmpeg source.', { kind: 'liveFormat' });
		default:
			throw new AudioDecodeError('The stream is not audio this can decode live (MP3, AAC/ADTS or Ogg Opus)', 'Check the address points at the audio itself (not a web page or a playlist); for other formats use the FFmpeg source.', {
				kind: 'liveFormat',
			});
	}
}

async function mp3Live(onPcm: PcmHandler): Promise<LiveDecoder> {
	const decoder = liveMp3();
	await keepLoopAlive(decoder.ready);
	const sink = new MonoSink(liveContext(onPcm));
	let freed = false;
	return {
		name: 'mp3 (mpg123-decoder)',
		async push(bytes) {
			const r = await decoder.decode(bytes);
			if (r.samplesDecoded > 0) await sink.push(r.channelData, r.samplesDecoded, r.sampleRate);
		},
		async close() {
			if (freed) return;
			freed = true;
			try {
				decoder.free();
			} catch {
				// a trapped instance: dropped either way
			}
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
