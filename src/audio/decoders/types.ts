/** One entry of the decoder list: sniff the first bytes, decode to PCM. */
import type { Slicer } from '../../util/slicer';
import type { SampleSource } from '../resample';

export interface DecodeContext {
	slicer: Slicer;
	signal?: AbortSignal;
	/** The model's rate (ffmpeg resamples to it itself). */
	targetRate: number;
	/** Longest audio accepted, in seconds. */
	maxDuration: number;
	/** The error for audio longer than maxDuration (declared: what a header says). */
	tooLong: (declared?: number) => Error;
	/** The instance's ffmpeg ("FFmpeg Path" of saved workflows, checked), for the ffmpeg entry. */
	ffmpegPath?: string;
	/** Throws for sample rates outside the supported range. */
	checkRate?: (rate: number, what: string) => void;
	/**
	 * Streaming: compressed decoders hand mono blocks here as they decode
	 * (at `rate`), instead of keeping them; the DecodedPcm they return is then empty.
	 */
	onPcm?: (mono: Float32Array, rate: number) => Promise<void>;
	/** Streaming: whether samples were already handed on (then no other decoder may start over). */
	started?: () => boolean;
}

/** Mono samples at `sampleRate` (the source's rate, or the target's when `resampled`). */
export interface DecodedPcm {
	sampleRate: number;
	/** Read block by block: a long WAV is never copied whole at its own rate. */
	source: SampleSource;
	/** Already at the model's rate (ffmpeg). */
	resampled?: boolean;
	/** Every sample is finite by construction (integer PCM): the NaN/infinity scan is skipped. */
	finite?: boolean;
	/** Which decoder, for the log: e.g. "mp3 (mpg123-decoder)", "ffmpeg (PATH)". */
	name: string;
}

export interface Decoder {
	/** Short id, e.g. 'mp3'. */
	id: string;
	/** Human name of the formats, for errors. */
	formats: string;
	/** Whether these first bytes are this decoder's format. */
	sniff(head: Buffer): boolean;
	/** In-process (false only for ffmpeg). */
	builtIn: boolean;
	decode(input: Buffer, ctx: DecodeContext): Promise<DecodedPcm>;
}
