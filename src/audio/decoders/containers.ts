/**
 * Ogg (Opus, Vorbis, FLAC), WebM/Matroska (Opus, Vorbis) and FLAC, read by
 * FFmpeg's own demuxers and decoders in WebAssembly (./libav.ts): the samples
 * the Python pipeline's ffmpeg gives, from one long-lived WebAssembly
 * instance. (A new WebAssembly instance per voice note, as the per-codec
 * decoders needed, allocates a fresh WebAssembly memory each time; inside
 * n8n's large heap that set off a full garbage collection nearly every
 * note: 82 ms per one-second Opus note instead of 9.)
 */
import { AudioDecodeError } from '../../errors';
import { LIBAV_NAME, type LibavDemux, decodeWithLibav } from './libav';
import { MonoSink } from './sink';
import type { DecodeContext, DecodedPcm, Decoder } from './types';

function entry(id: string, formats: string, sniff: (head: Buffer) => boolean, demux: LibavDemux, container?: string): Decoder {
	return {
		id,
		formats,
		builtIn: true,
		sniff,
		async decode(input: Buffer, ctx: DecodeContext): Promise<DecodedPcm> {
			const sink = new MonoSink(ctx);
			const codec = await decodeWithLibav(input, ctx, sink, demux);
			if (sink.frames === 0) throw emptyError(demux.what);
			return { sampleRate: sink.rate, source: sink.toSource(), name: `${container ? `${container}-${codec}` : codec} ${LIBAV_NAME}` };
		},
	};
}

function emptyError(what: string): AudioDecodeError {
	return new AudioDecodeError(`The ${what} file could not be decoded (no audio samples)`, 'The file is probably truncated or corrupt; check the source, or convert it to WAV.');
}

export const oggDecoder = entry('ogg', 'Ogg (Opus, Vorbis, FLAC)', (head) => head.length >= 4 && head.toString('latin1', 0, 4) === 'OggS', { demuxer: 'ogg', what: 'Ogg' }, 'ogg');

export const webmDecoder = entry(
	'webm',
	'WebM/Matroska (Opus, Vorbis)',
	(head) => head.length >= 4 && head.readUInt32BE(0) === 0x1a45dfa3,
	{ demuxer: 'matroska', what: 'WebM/Matroska' },
	'webm',
);

export const flacDecoder = entry('flac', 'FLAC', (head) => head.length >= 4 && head.toString('latin1', 0, 4) === 'fLaC', { demuxer: 'flac', what: 'FLAC' });
