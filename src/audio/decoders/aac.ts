/**
 * M4A/MP4 (AAC, ALAC) and ADTS AAC in-process, as an opt-in: the only
 * maintained WebAssembly AAC decoder on npm is FAAD2 (`@audio/decode-aac`),
 * GPL-2.0, and this package is MIT, so it is not a dependency. Whoever runs
 * n8n can add it next to this package (`npm install @audio/decode-aac` in
 * n8n's nodes folder) and accept its licence; then this entry is in the
 * decoder list. Without it, these formats go to ffmpeg.
 *
 * Memory stays bounded: ADTS and "fast start" M4A decode as the slices
 * arrive; an M4A whose index (moov) is at the end is decoded in one call once
 * the index arrives, so the number of frames the index lists is checked
 * against the duration limit first.
 */
import { AudioDecodeError } from '../../errors';
import { type Mp4Box as Box, mp4Boxes } from '../probe';
import { MonoSink, feedInSlices } from './sink';
import type { DecodeContext, DecodedPcm, Decoder } from './types';

const PACKAGE = '@audio/decode-aac';

interface AacDecoder {
	decode(data: Uint8Array): { channelData: Float32Array[]; sampleRate: number };
	free(): void;
}

let available: boolean | undefined;

/** Whether `@audio/decode-aac` was installed next to this package. */
export function aacDecoderInstalled(): boolean {
	if (available === undefined) {
		try {
			require.resolve(PACKAGE);
			available = true;
		} catch {
			available = false;
		}
	}
	return available;
}

function isMp4(head: Buffer): boolean {
	return head.length >= 12 && head.toString('latin1', 4, 8) === 'ftyp';
}

function isAdts(head: Buffer): boolean {
	// 12 sync bits, layer 00, then a valid sampling-frequency index.
	return head.length >= 7 && head[0] === 0xff && (head[1] & 0xf6) === 0xf0 && ((head[2] >> 2) & 0x0f) < 13;
}

const ASC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

const child = (buf: Buffer, parent: Box, type: string) => {
	for (const b of mp4Boxes(buf, parent.start, parent.end)) if (b.type === type) return b;
	return undefined;
};

/** The AudioSpecificConfig's core rate from an esds body (ES -> DecoderConfig -> DecoderSpecificInfo). */
function esdsRate(buf: Buffer, esds: Box): number {
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
	if (descriptor(0x03) < 0) return 0;
	const flags = buf[o + 2];
	o += 3 + (flags & 0x80 ? 2 : 0);
	if (flags & 0x40) o += 1 + buf[o];
	if (flags & 0x20) o += 2;
	if (descriptor(0x04) < 0) return 0;
	o += 13;
	if (descriptor(0x05) < 2 || o + 5 > esds.end) return 0;
	const objectType = buf[o] >> 3;
	let index = ((buf[o] & 7) << 1) | (buf[o + 1] >> 7);
	if (objectType === 31) index = (buf[o + 1] >> 1) & 15;
	if (index === 15) return ((buf[o + 1] & 0x7f) << 17) | (buf[o + 2] << 9) | (buf[o + 3] << 1) | (buf[o + 4] >> 7);
	return ASC_RATES[index] ?? 0;
}

/**
 * The most audio (seconds) the decoder can produce from this MP4: for every
 * audio track, the frames its sample-size table lists times the samples per
 * frame (1024 for AAC at the core rate, the ALAC cookie's frame length).
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
			if (b.type === 'esds') perSecond = esdsRate(buf, b) / 1024;
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

function decodeError(detail?: string): AudioDecodeError {
	return new AudioDecodeError(
		`The M4A/AAC file could not be decoded${detail ? ` (${detail.slice(0, 160)})` : ''}`,
		'The file is probably truncated or corrupt; check the source, or convert it to WAV.',
	);
}

export const aacDecoder: Decoder = {
	id: 'aac',
	formats: 'M4A/MP4 (AAC, ALAC), ADTS AAC',
	builtIn: true,
	sniff: (head) => isMp4(head) || isAdts(head),
	async decode(input: Buffer, ctx: DecodeContext): Promise<DecodedPcm> {
		if (isMp4(input)) {
			const seconds = mp4DecodableSeconds(input);
			if (seconds === undefined) throw decodeError('no complete index (moov box)');
			if (Number.isNaN(seconds)) throw decodeError('the audio track header could not be read');
			if (seconds > ctx.maxDuration + 1) throw ctx.tooLong(seconds);
		}
		const { decoder } = require(PACKAGE) as { decoder(): Promise<AacDecoder> };
		const dec = await decoder();
		const sink = new MonoSink(ctx);
		try {
			await feedInSlices(input, ctx, async (slice) => {
				let r: { channelData: Float32Array[]; sampleRate: number };
				try {
					r = dec.decode(slice);
				} catch (error) {
					throw decodeError((error as Error)?.message);
				}
				const frames = r.channelData[0]?.length ?? 0;
				if (frames > 0) await sink.push(r.channelData, frames, r.sampleRate);
			});
		} finally {
			dec.free();
		}
		if (sink.frames === 0) throw decodeError();
		return { sampleRate: sink.rate, source: sink.toSource(), name: 'aac (@audio/decode-aac, FAAD2, opt-in)' };
	},
};
