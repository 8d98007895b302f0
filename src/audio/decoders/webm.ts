/**
 * A small Matroska/WebM demuxer: enough to take the Opus packets of the
 * first audio track out of what browsers' MediaRecorder and most tools
 * write (SimpleBlocks or BlockGroups; no, Xiph, fixed or EBML lacing;
 * clusters of known or unknown size). Everything else in the file is
 * skipped by its size. Opus packets then go to the shared libopus (opus.ts).
 */
import { AudioDecodeError } from '../../errors';
import { decodeOpusPackets, parseOpusHead } from './opus';
import { MonoSink, trapAsUndecodable, undecodable } from './sink';
import type { Decoder } from './types';

const ID = {
	EBML: 0x1a45dfa3,
	Segment: 0x18538067,
	Cluster: 0x1f43b675,
	Tracks: 0x1654ae6b,
	TrackEntry: 0xae,
	TrackNumber: 0xd7,
	TrackType: 0x83,
	CodecID: 0x86,
	CodecPrivate: 0x63a2,
	BlockGroup: 0xa0,
	Block: 0xa1,
	SimpleBlock: 0xa3,
};
/** Elements we descend into; all others are skipped by their size. */
const MASTERS = new Set([ID.Segment, ID.Cluster, ID.Tracks, ID.TrackEntry, ID.BlockGroup]);
const MAX_FRAMES = 2_000_000; // ~11 hours of 20 ms packets: beyond any duration limit

function invalid(why: string): AudioDecodeError {
	return new AudioDecodeError(`The WebM file is invalid: ${why}`, 'Check that the upload is complete, or convert it to WAV or Ogg.');
}

/** A variable-length integer: [value, length]; value -1 = "unknown size". */
function vint(b: Buffer, o: number, keepMarker: boolean): [number, number] {
	if (o >= b.length) throw invalid('it ends inside an element header');
	const first = b[o];
	let length = 1;
	while (length <= 8 && !(first & (0x80 >> (length - 1)))) length++;
	if (length > 8) throw invalid('it has an element header longer than 8 bytes');
	if (o + length > b.length) throw invalid('it ends inside an element header');
	let value = keepMarker ? first : first & (0xff >> length);
	let allOnes = value === 0xff >> length;
	for (let i = 1; i < length; i++) {
		value = value * 256 + b[o + i];
		if (b[o + i] !== 0xff) allOnes = false;
	}
	return [!keepMarker && allOnes ? -1 : value, length];
}

export interface WebmOpusTrack {
	opusHead: Buffer;
	frames: Uint8Array[];
}

export function demuxWebmOpus(input: Buffer): WebmOpusTrack {
	const tracks = new Map<number, { type?: number; codec?: string; priv?: Buffer }>();
	const blocks: Array<{ track: number; body: Buffer }> = [];
	let current: { type?: number; codec?: string; priv?: Buffer } | undefined;
	let number = 0;

	// One flat walk: masters are entered (their children follow in the byte stream).
	for (let o = 0; o < input.length; ) {
		const [id, idLen] = vint(input, o, true);
		const [size, sizeLen] = vint(input, o + idLen, false);
		const body = o + idLen + sizeLen;
		const end = size < 0 ? input.length : Math.min(input.length, body + size);
		if (id === ID.TrackEntry) {
			if (current) tracks.set(number, current);
			current = {};
			number = 0;
		}
		if (MASTERS.has(id)) {
			o = body;
			continue;
		}
		if (size < 0) throw invalid('a non-container element has an unknown size');
		if (id === ID.TrackNumber) number = input.readUIntBE(body, Math.min(6, Math.max(1, end - body)));
		else if (id === ID.TrackType && current) current.type = input[body];
		else if (id === ID.CodecID && current) current.codec = input.toString('latin1', body, end);
		else if (id === ID.CodecPrivate && current) current.priv = input.subarray(body, end);
		else if (id === ID.SimpleBlock || id === ID.Block) {
			const [track] = vint(input, body, false);
			blocks.push({ track, body: input.subarray(body, end) });
			if (blocks.length > MAX_FRAMES) throw invalid('it has too many blocks');
		}
		o = end; // everything else (the EBML header, cues, tags, video) is skipped by its size
	}
	if (current) tracks.set(number, current);

	const audio = [...tracks.entries()].find(([, t]) => t.type === 2 || t.codec?.startsWith('A_'));
	if (!audio) throw invalid('it has no audio track');
	const [trackNumber, track] = audio;
	if (track.codec !== 'A_OPUS') {
		throw new AudioDecodeError(
			`The WebM audio is ${track.codec ?? 'of an unknown codec'}, which has no built-in decoder (only Opus does)`,
			'Install ffmpeg where n8n runs (the node then uses it for this file), or record with Opus audio.',
		);
	}
	if (!track.priv || track.priv.length < 19 || track.priv.toString('latin1', 0, 8) !== 'OpusHead') throw invalid('its Opus track has no OpusHead');

	const frames: Uint8Array[] = [];
	for (const block of blocks) {
		const [track, trackLen] = vint(block.body, 0, false);
		if (track !== trackNumber) continue;
		const flagsAt = trackLen + 2;
		if (flagsAt >= block.body.length) continue;
		const lacing = (block.body[flagsAt] >> 1) & 3;
		const payload = block.body.subarray(flagsAt + 1);
		for (const frame of unlace(payload, lacing)) frames.push(frame);
	}
	if (frames.length === 0) throw invalid('its audio track has no packets');
	return { opusHead: track.priv, frames };
}

function unlace(data: Buffer, lacing: number): Buffer[] {
	if (lacing === 0) return [data];
	if (data.length < 1) throw invalid('a laced block is empty');
	const count = data[0] + 1;
	let o = 1;
	const sizes: number[] = [];
	if (lacing === 1) {
		// Xiph: each size as a run of 255s plus a last byte
		for (let i = 0; i < count - 1; i++) {
			let size = 0;
			for (;;) {
				if (o >= data.length) throw invalid('a laced block is cut short');
				const v = data[o++];
				size += v;
				if (v !== 255) break;
			}
			sizes.push(size);
		}
	} else if (lacing === 3) {
		// EBML: the first size as a vint, the others as signed differences
		let [size, len] = vint(data, o, false);
		o += len;
		sizes.push(size);
		for (let i = 1; i < count - 1; i++) {
			const [raw, l] = vint(data, o, false);
			o += l;
			size += raw - (2 ** (7 * l - 1) - 1);
			sizes.push(size);
		}
	} else {
		// fixed: equal sizes
		const each = Math.floor((data.length - 1) / count);
		for (let i = 0; i < count - 1; i++) sizes.push(each);
	}
	const out: Buffer[] = [];
	for (const size of sizes) {
		if (size < 0 || o + size > data.length) throw invalid('a laced block has impossible sizes');
		out.push(data.subarray(o, o + size));
		o += size;
	}
	out.push(data.subarray(o));
	return out;
}

export const webmOpusDecoder: Decoder = {
	id: 'webm-opus',
	formats: 'WebM/Matroska with Opus audio',
	builtIn: true,
	sniff: (head) => head.length >= 4 && head.readUInt32BE(0) === 0x1a45dfa3,
	async decode(input, ctx) {
		const track = demuxWebmOpus(input);
		const sink = new MonoSink(ctx);
		const firstError = await decodeOpusPackets(parseOpusHead(track.opusHead, 'WebM'), track.frames, sink, ctx).catch((e) => {
			throw trapAsUndecodable('WebM', e);
		});
		if (sink.frames === 0) throw undecodable('WebM', firstError);
		return { sampleRate: sink.rate, source: sink.toSource(), name: 'webm-opus (opus-decoder)' };
	},
};
