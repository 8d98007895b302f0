/**
 * Bytes in, mono float32 at the model's rate out. WAV (the common case, and
 * the one n8n's Alpine image must handle without ffmpeg) is decoded
 * in-process; every other container goes through ffmpeg.
 *
 * Every input is untrusted (a public webhook may feed it), so the limits are
 * enforced before memory is committed: the duration a header declares is
 * checked first (WAV, FLAC, MP4), then the samples really produced are
 * counted while decoding, and the long loops yield to the event loop.
 */
import { DEFAULT_MAX_DURATION_S, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE } from '../config';
import { AudioClassificationError, AudioDecodeError, AudioLimitError } from '../errors';
import { Slicer } from '../util/slicer';
import { BUILT_IN_FORMATS, DECODERS, type DecodeContext, type DecodedPcm, guessFormat } from './decoders';
import { ffmpegDecoder } from './decoders/ffmpeg';
import { locateFfmpeg } from './ffmpeg';
import { probeContainer } from './probe';
import { resampleSource, StreamingResampler } from './resample';
import { wavChannelCount } from './wav';

/** Which decoders may run: built-in first then ffmpeg (`auto`), built-in only, or ffmpeg only. */
export type DecoderChoice = 'auto' | 'builtIn' | 'ffmpeg';

export interface DecodeOptions {
	samplingRate: number;
	/** "FFmpeg Path" of saved workflows: only accepted when it names an ffmpeg the instance allows. */
	ffmpegPath?: string;
	signal?: AbortSignal;
	/** Longest audio accepted, in seconds (default 600). */
	maxDuration?: number;
	/** Which decoders may run (default `auto`). */
	decoder?: DecoderChoice;
}

export interface DecodedAudio {
	samples: Float32Array;
	/** Which decoder ran, e.g. 'wav', 'mp3 (mpg123-decoder)', 'ffmpeg (PATH)'. */
	decoder: string;
	/** Duration in seconds at the source. */
	duration: number;
}

export function formatSeconds(seconds: number): string {
	if (seconds < 120) return `${Math.round(seconds * 10) / 10} s`;
	const h = Math.floor(seconds / 3600);
	const m = Math.floor((seconds % 3600) / 60);
	const s = Math.round(seconds % 60);
	return h ? `${h} h ${m} min` : `${m} min ${s} s`;
}

function tooLongError(maxDuration: number, declared?: number): AudioLimitError {
	return new AudioLimitError(
		`The audio is longer than the limit of ${formatSeconds(maxDuration)}${declared ? ` (its header says ${formatSeconds(declared)})` : ''}`,
		'Trim the recording, or raise {maxDuration} if this machine has the memory for it (classification reads the whole clip at once).',
		{ kind: 'tooLong', maxDuration, declared },
	);
}

function checkRate(rate: number, what: string): void {
	if (rate < MIN_SAMPLE_RATE || rate > MAX_SAMPLE_RATE) {
		throw new AudioLimitError(
			`The ${what} declares a sample rate of ${rate} Hz, outside the supported ${MIN_SAMPLE_RATE / 1000}-${MAX_SAMPLE_RATE / 1000} kHz`,
			'Re-export the recording at a standard rate (8, 16, 44.1 or 48 kHz).',
		);
	}
}

/** A parser bug must still be this item's clear error, never a crash. */
async function asOwnErrors<T>(run: () => Promise<T>): Promise<T> {
	try {
		return await run();
	} catch (error) {
		if (error instanceof AudioClassificationError) throw error;
		throw new AudioDecodeError(
			`The audio could not be decoded (${(error as Error)?.name ?? 'error'}: ${String((error as Error)?.message ?? error).split('\n')[0].slice(0, 200)})`,
			'The file is probably corrupt or truncated; check the source, or convert it to a standard WAV or MP3.',
		);
	}
}

/** The checks before any decoding, and the context every decoder gets. */
function prepare(input: Buffer, options: DecodeOptions): DecodeContext {
	if (input.length === 0) {
		throw new AudioDecodeError('The audio is empty (0 bytes)', 'Check the node that produced the file: the download or upload may have failed.');
	}
	checkRate(options.samplingRate, "model's preprocessor_config.json");
	const maxDuration = options.maxDuration ?? DEFAULT_MAX_DURATION_S;
	const slicer = new Slicer(options.signal);
	slicer.check();
	const probe = probeContainer(input);
	if (probe.duration !== undefined && probe.duration > maxDuration) throw tooLongError(maxDuration, probe.duration);
	return {
		slicer,
		signal: options.signal,
		targetRate: options.samplingRate,
		maxDuration,
		tooLong: (declared) => tooLongError(maxDuration, declared),
		ffmpegPath: options.ffmpegPath,
		checkRate,
	};
}

export async function decodeAudio(input: Buffer, options: DecodeOptions): Promise<DecodedAudio> {
	return await asOwnErrors(() => decode(input, options));
}

async function decode(input: Buffer, options: DecodeOptions): Promise<DecodedAudio> {
	const ctx = prepare(input, options);
	const { samplingRate } = options;
	const { maxDuration, slicer } = ctx;
	const pcm = await runDecoders(input, ctx, options.decoder ?? 'auto');
	let samples: Float32Array;
	if (pcm.resampled) {
		samples = await resampleSource(pcm.source, samplingRate, samplingRate, slicer); // a copy, block by block
	} else {
		checkRate(pcm.sampleRate, 'audio');
		if (pcm.source.length / pcm.sampleRate > maxDuration) throw tooLongError(maxDuration);
		samples = await resampleSource(pcm.source, pcm.sampleRate, samplingRate, slicer);
	}
	pcm.source.release?.(); // read: the decoder's blocks serve the next file
	if (samples.length === 0) {
		throw new AudioDecodeError(
			'The file contains no audio samples',
			'The recording is empty or has no audio track; check the source.',
		);
	}
	if (!pcm.finite) await assertFinite(samples, samplingRate, slicer);
	return { samples, decoder: pcm.name, duration: samples.length / samplingRate };
}

function ffmpegAvailable(ffmpegPath?: string): boolean {
	try {
		locateFfmpeg(ffmpegPath);
		return true;
	} catch {
		return false;
	}
}

/**
 * `auto`: the first built-in decoder that recognises the bytes; if it fails
 * and ffmpeg is there, ffmpeg; formats without a built-in decoder go to
 * ffmpeg. `builtIn`: never ffmpeg. `ffmpeg`: always ffmpeg, as the Python
 * pipeline decodes.
 */
async function runDecoders(input: Buffer, ctx: DecodeContext, choice: DecoderChoice): Promise<DecodedPcm> {
	const head = input.subarray(0, 4096);
	if (choice === 'ffmpeg') return await ffmpegDecoder.decode(input, ctx);
	const builtIn = DECODERS.find((d) => d.builtIn && d.sniff(head));
	if (!builtIn) {
		if (choice === 'builtIn') {
			const format = guessFormat(head);
			throw new AudioDecodeError(
				`${format} has no built-in decoder`,
				`Built in: ${BUILT_IN_FORMATS.join(', ')}. For other formats set {decoder} to "Auto" and install ffmpeg where n8n runs, or convert the file.`,
				{ kind: 'noBuiltInDecoder', formats: BUILT_IN_FORMATS },
			);
		}
		return await ffmpegDecoder.decode(input, ctx);
	}
	// Multichannel WAV: ffmpeg's down-mix matrix, when ffmpeg is there (what Python gets).
	if (choice === 'auto' && builtIn.id === 'wav' && wavChannelCount(input) > 2 && ffmpegAvailable(ctx.ffmpegPath)) {
		return await ffmpegDecoder.decode(input, ctx);
	}
	try {
		return await builtIn.decode(input, ctx);
	} catch (error) {
		const recoverable = error instanceof AudioDecodeError && !(error instanceof AudioLimitError);
		if (choice === 'auto' && recoverable && builtIn.id !== 'wav' && !ctx.started?.()) {
			if (ffmpegAvailable(ctx.ffmpegPath)) return await ffmpegDecoder.decode(input, ctx);
			const e = error as AudioDecodeError;
			throw new AudioDecodeError(e.messageTemplate, `${e.hintTemplate} If the file plays elsewhere, ffmpeg may read it: install ffmpeg where n8n runs.`, e.data);
		}
		throw error;
	}
}

export interface StreamedAudio {
	decoder: string;
	/** Seconds of audio, at the model's rate. */
	duration: number;
}

/**
 * Decodes in a stream: `onBlock` gets consecutive blocks of mono samples at
 * the model's rate (a few seconds each) and is awaited before more are
 * decoded, so memory holds a few blocks, whatever the length. The same
 * decoders, limits and checks as decodeAudio.
 */
export async function decodeAudioStream(
	input: Buffer,
	options: DecodeOptions,
	onBlock: (samples: Float32Array) => Promise<void>,
): Promise<StreamedAudio> {
	return await asOwnErrors(() => decodeStream(input, options, onBlock));
}

async function decodeStream(input: Buffer, options: DecodeOptions, onBlock: (samples: Float32Array) => Promise<void>): Promise<StreamedAudio> {
	const base = prepare(input, options);
	const { samplingRate } = options;
	const { maxDuration, slicer } = base;
	let emitted = 0;
	let resampler: StreamingResampler | undefined;
	const emit = async (block: Float32Array) => {
		if (!block.length) return;
		await assertFinite(block, samplingRate, slicer, emitted);
		emitted += block.length;
		await onBlock(block);
		await slicer.tick();
	};
	const ctx: DecodeContext = {
		...base,
		started: () => emitted > 0,
		onPcm: async (mono, at) => {
			if (!resampler) {
				checkRate(at, 'audio');
				resampler = await StreamingResampler.create(at, samplingRate, slicer);
			}
			await emit(resampler.push(mono));
		},
	};
	const pcm = await runDecoders(input, ctx, options.decoder ?? 'auto');
	if (pcm.source.length > 0) {
		// In-place PCM (WAV, AIFF, CAF): read and resample it block by block.
		checkRate(pcm.sampleRate, 'audio');
		if (pcm.source.length / pcm.sampleRate > maxDuration) throw tooLongError(maxDuration);
		const stream = await StreamingResampler.create(pcm.resampled ? samplingRate : pcm.sampleRate, samplingRate, slicer);
		const BLOCK = pcm.sampleRate * 5;
		for (let at = 0; at < pcm.source.length; at += BLOCK) {
			const block = new Float32Array(Math.min(BLOCK, pcm.source.length - at));
			pcm.source.read(at, block);
			await emit(stream.push(block));
		}
		await emit(stream.flush());
		pcm.source.release?.();
	} else if (resampler) {
		await emit(resampler.flush());
	}
	if (emitted === 0) {
		throw new AudioDecodeError('The file contains no audio samples', 'The recording is empty or has no audio track; check the source.');
	}
	return { decoder: pcm.name, duration: emitted / samplingRate };
}

/** NaN or infinite samples (float WAVs can carry them) would give meaningless scores. */
async function assertFinite(samples: Float32Array, rate: number, slicer: Slicer, offset = 0): Promise<void> {
	const STEP = 1 << 18;
	for (let from = 0; from < samples.length; from += STEP) {
		const to = Math.min(samples.length, from + STEP);
		for (let i = from; i < to; i++) {
			const v = samples[i];
			if (v - v !== 0) {
				throw new AudioDecodeError(
					`The audio contains invalid samples (NaN or infinity) at ${formatSeconds((offset + i) / rate)}`,
					'The file is corrupt (a float WAV with invalid values); re-export it from the recording software.',
				);
			}
		}
		await slicer.tick();
	}
}

