/**
 * Collects decoded channel blocks as mono (down-mixed as `ffmpeg -ac 1`
 * does: stereo is (L+R)/sqrt(2)), counting samples against the duration
 * limit as they arrive, so a small compressed file cannot expand without
 * bound.
 */
import { AudioDecodeError } from '../../errors';
import { arraySource, chunkedSource, type SampleSource } from '../resample';
import { downmixToMono } from '../wav';
import type { DecodeContext } from './types';

export class MonoSink {
	private readonly chunks: Float32Array[] = [];
	private total = 0;
	rate = 0;

	constructor(private readonly ctx: DecodeContext) {}

	/** Appends `frames` frames of the given channels (at `rate` Hz); when streaming, hands them on. */
	async push(channels: Float32Array[], frames: number, rate: number): Promise<void> {
		if (frames <= 0 || channels.length === 0) return;
		if (!this.rate) this.rate = rate;
		if (rate !== this.rate) {
			throw new AudioDecodeError(
				`The sample rate changes inside the file (${this.rate} Hz, then ${rate} Hz)`,
				'Re-export the recording, or let ffmpeg decode it ({decoder}: FFmpeg).',
			);
		}
		this.total += frames;
		if (this.total > this.ctx.maxDuration * this.rate + this.rate / 100) throw this.ctx.tooLong();
		// A copy for mono: decoders may reuse their output buffers.
		const mono = channels.length === 1 ? channels[0].slice(0, frames) : downmixToMono(channels.map((c) => c.subarray(0, frames)));
		if (this.ctx.onPcm) await this.ctx.onPcm(mono, rate);
		else this.chunks.push(mono);
	}

	get frames(): number {
		return this.total;
	}

	toSource(): SampleSource {
		if (this.ctx.onPcm) return arraySource(new Float32Array(0)); // streamed on as it came
		return chunkedSource(this.chunks.splice(0));
	}
}

/** Feeds `input` to a streaming decoder in slices, yielding between them. */
export async function feedInSlices(
	input: Buffer,
	ctx: DecodeContext,
	decodeSlice: (slice: Uint8Array) => Promise<void> | void,
	sliceBytes = 4 * 1024, // silence compresses ~1000:1: a slice must stay a few ms of work
): Promise<void> {
	for (let at = 0; at < input.length; at += sliceBytes) {
		await decodeSlice(new Uint8Array(input.buffer, input.byteOffset + at, Math.min(sliceBytes, input.length - at)));
		await ctx.slicer.tick();
	}
}

/** A compressed file its decoder could not read (truncated, corrupt), with the decoder's detail. */
export function undecodable(format: string, detail?: string): AudioDecodeError {
	return new AudioDecodeError(
		`The ${format} file could not be decoded${detail ? ` (${detail.slice(0, 160)})` : ''}`,
		'The file is probably truncated or corrupt; check the source, or convert it to WAV.',
	);
}

/** A decoder's WebAssembly trap (on corrupt data) as the format's own decode error; other errors as they are. */
export function trapAsUndecodable(format: string, error: unknown): unknown {
	return isTrap(error) ? undecodable(format, 'the decoder stopped at corrupt data') : error;
}

/** A WebAssembly trap or an Emscripten abort: the instance's state is then unknown and it is not used again. */
export function isTrap(error: unknown): boolean {
	return (error as Error)?.constructor?.name === 'RuntimeError' || /^Aborted\(/.test(String((error as Error)?.message ?? error));
}
