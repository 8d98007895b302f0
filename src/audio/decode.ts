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
import { decodeWithFfmpeg, locateFfmpeg } from './ffmpeg';
import { probeContainer } from './probe';
import { resampleSource } from './resample';
import { isWav, readWavInfo, type WavInfo, wavMonoSource } from './wav';

export interface DecodeOptions {
	samplingRate: number;
	/** "FFmpeg Path" of saved workflows: only accepted when it names an ffmpeg the instance allows. */
	ffmpegPath?: string;
	signal?: AbortSignal;
	/** Longest audio accepted, in seconds (default 600). */
	maxDuration?: number;
}

export interface DecodedAudio {
	samples: Float32Array;
	/** 'wav' when decoded in-process, else 'ffmpeg (<where it was found>)'. */
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

export function tooLongError(maxDuration: number, declared?: number): AudioLimitError {
	return new AudioLimitError(
		`The audio is longer than the limit of ${formatSeconds(maxDuration)}${declared ? ` (its header says ${formatSeconds(declared)})` : ''}`,
		'Trim the recording, or raise the "Max Duration" option if this machine has the memory for it (classification reads the whole clip at once).',
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

export async function decodeAudio(input: Buffer, options: DecodeOptions): Promise<DecodedAudio> {
	try {
		return await decode(input, options);
	} catch (error) {
		if (error instanceof AudioClassificationError) throw error;
		// A parser bug must still be this item's clear error, never a crash.
		throw new AudioDecodeError(
			`The audio could not be decoded (${(error as Error)?.name ?? 'error'}: ${String((error as Error)?.message ?? error).split('\n')[0].slice(0, 200)})`,
			'The file is probably corrupt or truncated; check the source, or convert it to a standard WAV or MP3.',
		);
	}
}

async function decode(input: Buffer, options: DecodeOptions): Promise<DecodedAudio> {
	if (input.length === 0) {
		throw new AudioDecodeError(
			'The audio is empty (0 bytes)',
			'Check the node that produced the file: the download or upload may have failed.',
		);
	}
	const { samplingRate } = options;
	checkRate(samplingRate, "model's preprocessor_config.json");
	const maxDuration = options.maxDuration ?? DEFAULT_MAX_DURATION_S;
	const slicer = new Slicer(options.signal);
	slicer.check();
	let samples: Float32Array;
	let decoder: string;
	const wav = isWav(input) ? readWavInfo(input) : undefined;
	if (wav) {
		checkRate(wav.sampleRate, 'WAV file');
		if (wav.frames / wav.sampleRate > maxDuration) throw tooLongError(maxDuration, wav.frames / wav.sampleRate);
	}
	if (wav && !needsFfmpeg(wav, options.ffmpegPath)) {
		samples = await resampleSource(wavMonoSource(input, wav), wav.sampleRate, samplingRate, slicer);
		decoder = 'wav';
	} else {
		const probe = probeContainer(input);
		if (probe.duration !== undefined && probe.duration > maxDuration) throw tooLongError(maxDuration, probe.duration);
		const ffmpeg = locateFfmpeg(options.ffmpegPath);
		samples = await decodeWithFfmpeg(input, {
			samplingRate,
			ffmpegPath: ffmpeg.path,
			signal: options.signal,
			maxSamples: Math.ceil(maxDuration * samplingRate) + Math.ceil(samplingRate / 100),
			tooLong: () => tooLongError(maxDuration),
			needsSeek: probe.container === 'mp4' ? probe.needsSeek : undefined,
		});
		decoder = `ffmpeg (${ffmpeg.source})`;
	}
	if (samples.length === 0) {
		throw new AudioDecodeError(
			'The file contains no audio samples',
			'The recording is empty or has no audio track; check the source.',
		);
	}
	await assertFinite(samples, samplingRate, slicer);
	return { samples, decoder, duration: samples.length / samplingRate };
}

/** NaN or infinite samples (float WAVs can carry them) would give meaningless scores. */
async function assertFinite(samples: Float32Array, rate: number, slicer: Slicer): Promise<void> {
	const STEP = 1 << 18;
	for (let from = 0; from < samples.length; from += STEP) {
		const to = Math.min(samples.length, from + STEP);
		for (let i = from; i < to; i++) {
			const v = samples[i];
			if (v - v !== 0) {
				throw new AudioDecodeError(
					`The audio contains invalid samples (NaN or infinity) at ${formatSeconds(i / rate)}`,
					'The file is corrupt (a float WAV with invalid values); re-export it from the recording software.',
				);
			}
		}
		await slicer.tick();
	}
}

/** Multichannel WAV goes to ffmpeg when we can, for ffmpeg's exact down-mix matrix. */
function needsFfmpeg(wav: WavInfo, ffmpegPath?: string): boolean {
	if (wav.channels <= 2) return false;
	try {
		locateFfmpeg(ffmpegPath);
		return true;
	} catch {
		return false;
	}
}
