/**
 * Bytes in, mono float32 at the model's rate out. WAV (the common case, and
 * the one n8n's Alpine image must handle without ffmpeg) is decoded
 * in-process; every other container goes through ffmpeg.
 */
import { AudioDecodeError } from '../errors';
import { decodeWithFfmpeg, locateFfmpeg } from './ffmpeg';
import { resample } from './resample';
import { decodeWav, downmixToMono, isWav, wavChannelCount } from './wav';

export interface DecodeOptions {
	samplingRate: number;
	/** Explicit ffmpeg binary (the node option); see locateFfmpeg for the order. */
	ffmpegPath?: string;
	signal?: AbortSignal;
}

export interface DecodedAudio {
	samples: Float32Array;
	/** 'wav' when decoded in-process, else 'ffmpeg (<where it was found>)'. */
	decoder: string;
	/** Duration in seconds at the source. */
	duration: number;
}

export async function decodeAudio(input: Buffer, options: DecodeOptions): Promise<DecodedAudio> {
	if (input.length === 0) {
		throw new AudioDecodeError(
			'The audio is empty (0 bytes)',
			'Check the node that produced the file: the download or upload may have failed.',
		);
	}
	const { samplingRate } = options;
	let samples: Float32Array;
	let decoder: string;
	if (isWav(input) && !needsFfmpeg(input, options.ffmpegPath)) {
		const wav = decodeWav(input);
		samples = resample(downmixToMono(wav.channels), wav.sampleRate, samplingRate);
		decoder = 'wav';
	} else {
		const ffmpeg = locateFfmpeg(options.ffmpegPath);
		samples = await decodeWithFfmpeg(input, { samplingRate, ffmpegPath: ffmpeg.path, signal: options.signal });
		decoder = `ffmpeg (${ffmpeg.source})`;
	}
	if (samples.length === 0) {
		throw new AudioDecodeError(
			'The file contains no audio samples',
			'The recording is empty or has no audio track; check the source.',
		);
	}
	return { samples, decoder, duration: samples.length / samplingRate };
}

/** Multichannel WAV goes to ffmpeg when we can, for ffmpeg's exact down-mix matrix. */
function needsFfmpeg(input: Buffer, ffmpegPath?: string): boolean {
	if (wavChannelCount(input) <= 2) return false; // a broken header throws decodeWav's own error
	try {
		locateFfmpeg(ffmpegPath);
		return true;
	} catch {
		return false;
	}
}

