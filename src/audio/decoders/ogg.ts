/**
 * Ogg (RFC 3533) for Opus (RFC 7845): pages are read in place, packets
 * reassembled from their lacing, and Opus packets decoded page by page by
 * the shared libopus instance (opus.ts). Pre-skip is applied by libopus, the
 * end trimmed to the last page's granule position and the header's output
 * gain applied, as ffmpeg does. Pages of other logical streams (a video
 * track, a second audio track) are skipped; a chained file (one stream after
 * another) is decoded stream after stream.
 */
import { AudioDecodeError } from '../../errors';
import { OpusStream, parseOpusHead } from './opus';
import { MonoSink, isTrap, trapAsUndecodable, undecodable } from './sink';
import type { Decoder } from './types';

interface Page {
	flags: number;
	granule: number;
	serial: number;
	/** Packets that end on this page, in order (the first may have begun on earlier pages). */
	packets: Uint8Array[];
}

/** Chained streams per file: real files have one or a few; each costs a libopus handle (23 KB a channel, kept). */
const MAX_STREAMS = 256;
const CONTINUED = 1;
const FIRST = 2;
const LAST = 4;

/** The Ogg pages of `input`, resyncing past junk as ffmpeg does; a page cut short yields what it holds. */
function* pages(input: Buffer): Generator<Page> {
	const carry = new Map<number, Uint8Array[]>(); // per stream: a packet's parts that began on earlier pages
	let o = input.indexOf('OggS', 0, 'latin1');
	while (o >= 0 && o + 27 <= input.length) {
		if (input[o + 4] !== 0) {
			o = input.indexOf('OggS', o + 1, 'latin1');
			continue;
		}
		const flags = input[o + 5];
		const granule = Number(input.readBigInt64LE(o + 6));
		const serial = input.readUInt32LE(o + 14);
		const segments = input[o + 26];
		let at = o + 27 + segments;
		if (at > input.length) return;
		let parts = carry.get(serial) ?? [];
		if (!(flags & CONTINUED)) parts = []; // a packet left unfinished is dropped
		const packets: Uint8Array[] = [];
		let start = at;
		let complete = true;
		for (let i = 0; i < segments; i++) {
			const lace = input[o + 27 + i];
			if (at + lace > input.length) {
				complete = false;
				break;
			}
			at += lace;
			if (lace < 255) {
				parts.push(input.subarray(start, at));
				packets.push(parts.length === 1 ? parts[0] : Buffer.concat(parts));
				parts = [];
				start = at;
			}
		}
		if (complete && at > start) parts.push(input.subarray(start, at));
		carry.set(serial, parts);
		yield { flags, granule, serial, packets };
		if (!complete) return;
		o = input.indexOf('OggS', at, 'latin1');
	}
}

export const isOpusHead = (p: Uint8Array | undefined) => !!p && p.length >= 8 && Buffer.from(p.buffer, p.byteOffset, 8).toString('latin1') === 'OpusHead';

export const oggOpusDecoder: Decoder = {
	id: 'ogg-opus',
	formats: 'Ogg Opus',
	builtIn: true,
	sniff: (head) => oggCodec(head) === 'opus',
	async decode(input, ctx) {
		const sink = new MonoSink(ctx);
		let stream: OpusStream | undefined;
		let serial = -1;
		/** Packets of the current stream so far: 0 = OpusHead, 1 = OpusTags, then audio. */
		let seen = 0;
		let firstError: string | undefined;
		let streams = 0;
		const end = () => {
			if (!stream) return;
			firstError ??= stream.firstError;
			stream.close();
			stream = undefined;
		};
		try {
			for (const page of pages(input)) {
				if (page.serial !== serial) {
					// Pages of other streams are skipped. A stream begins with a first page holding
					// an OpusHead, at the start or after the previous stream's last page (chained Ogg).
					if (serial !== -1 || !(page.flags & FIRST) || !isOpusHead(page.packets[0])) continue;
					if (++streams > MAX_STREAMS) throw new AudioDecodeError(`The Ogg file chains more than ${MAX_STREAMS} streams`, 'Re-export the recording as one stream, or convert it to WAV.');
					serial = page.serial;
					seen = 0;
				}
				const audio: Uint8Array[] = [];
				for (const packet of page.packets) {
					if (seen === 0) stream = await OpusStream.open(parseOpusHead(packet, 'Ogg Opus'), sink);
					else if (seen > 1) audio.push(packet);
					seen++;
				}
				if (!stream) continue;
				// At the stream's last page its granule position is its length (plus pre-skip).
				const limit = page.flags & LAST && page.granule >= 0 ? Math.max(0, page.granule - stream.preSkip) : undefined;
				if (audio.length) await stream.decode(audio, limit);
				if (page.flags & LAST) {
					end();
					serial = -1;
				}
				await ctx.slicer.tick();
			}
		} catch (e) {
			if (stream) stream.close(isTrap(e));
			throw trapAsUndecodable('Ogg Opus', e);
		}
		end();
		if (sink.frames === 0) throw undecodable('Ogg Opus', firstError);
		return { sampleRate: sink.rate, source: sink.toSource(), name: 'ogg-opus (opus-decoder)' };
	},
};

/** The codec of an Ogg stream, from its first page's first packet. */
export function oggCodec(head: Buffer): 'opus' | 'vorbis' | 'flac' | 'other' | undefined {
	if (head.length < 28 || head.toString('latin1', 0, 4) !== 'OggS') return undefined;
	const segments = head[26];
	const packet = 27 + segments;
	if (packet + 8 > head.length) return 'other';
	if (head.toString('latin1', packet, packet + 8) === 'OpusHead') return 'opus';
	if (head.toString('latin1', packet + 1, packet + 7) === 'vorbis' && head[packet] === 1) return 'vorbis';
	if (head.toString('latin1', packet + 1, packet + 5) === 'FLAC') return 'flac';
	return 'other';
}
