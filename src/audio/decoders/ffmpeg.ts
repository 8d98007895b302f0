/** ffmpeg as the last entry of the decoder list: every format it knows, at the model's rate. */
import { decodeWithFfmpeg, locateFfmpeg } from '../ffmpeg';
import { probeContainer } from '../probe';
import { isCaf } from './caf';
import { arraySource } from '../resample';
import type { Decoder } from './types';

export const ffmpegDecoder: Decoder = {
	id: 'ffmpeg',
	formats: 'anything ffmpeg reads',
	builtIn: false,
	sniff: () => true,
	async decode(input, ctx) {
		const probe = probeContainer(input);
		const ffmpeg = locateFfmpeg(ctx.ffmpegPath);
		const samples = await decodeWithFfmpeg(input, {
			samplingRate: ctx.targetRate,
			ffmpegPath: ffmpeg.path,
			signal: ctx.signal,
			maxSamples: Math.ceil(ctx.maxDuration * ctx.targetRate) + Math.ceil(ctx.targetRate / 100),
			tooLong: () => ctx.tooLong(),
			needsSeek: probe.container === 'mp4' ? probe.needsSeek : undefined,
			seekable: isCaf(input) ? 'caf' : undefined,
			onSamples: ctx.onPcm ? (block) => ctx.onPcm!(block, ctx.targetRate) : undefined,
		});
		return { sampleRate: ctx.targetRate, source: arraySource(samples), resampled: true, name: `ffmpeg (${ffmpeg.source})` };
	},
};
