/**
 * The decoder list, in the order `auto` tries them: each entry sniffs the
 * first bytes and decodes to PCM in-process; ffmpeg is the last entry, for
 * what none of them reads (multi-channel AMR, Matroska video, WMA, ...) or
 * they fail on.
 */
import { aacDecoder } from './aac';
import { cafDecoder } from './caf';
import { aiffDecoder, wavDecoder } from './pcm';
import { ffmpegDecoder } from './ffmpeg';
import type { Decoder } from './types';
import { oggOpusDecoder } from './ogg';
import { amrDecoder, flacDecoder, mp3Decoder, oggVorbisDecoder } from './wasm';
import { webmOpusDecoder } from './webm';

export const DECODERS: readonly Decoder[] = [
	wavDecoder,
	oggOpusDecoder,
	webmOpusDecoder,
	mp3Decoder,
	flacDecoder,
	oggVorbisDecoder,
	aiffDecoder,
	cafDecoder,
	amrDecoder,
	aacDecoder,
	ffmpegDecoder,
];

export const BUILT_IN_FORMATS = DECODERS.filter((d) => d.builtIn).map((d) => d.formats);

/** A name for a format no built-in decoder reads, for the error that says to add ffmpeg. */
export function guessFormat(head: Buffer): string {
	const at = (o: number, n: number) => head.toString('latin1', o, o + n);
	if (head.length >= 5 && at(0, 5) === '#!AMR') return 'multi-channel AMR';
	if (head.length >= 4 && at(0, 4) === 'OggS') return 'Ogg (not Opus or Vorbis)';
	if (head.length >= 4 && head.readUInt32BE(0) === 0x1a45dfa3) return 'Matroska/WebM (not Opus)';
	if (head.length >= 4 && at(0, 4) === 'RIFF') return 'RIFF (not WAV)';
	if (head.length >= 16 && head.readUInt32BE(0) === 0x3026b275) return 'WMA/ASF';
	return 'this format';
}

export type { DecodeContext, DecodedPcm, Decoder } from './types';
