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

/**
 * Samples per block the sink collects into (128 KB). Decoders hand over 2.5-120 ms packets: a
 * fresh Float32Array per packet made 50 small ArrayBuffers per second of audio, and inside n8n's
 * large heap their allocation and collection cost more than libopus's decode (a profile of 300
 * one-second Ogg/Opus notes in the real n8n: 160 ms in the copy alone, BENCHMARKS.md).
 */
const BLOCK = 32_768;
/**
 * Blocks given back after their samples were resampled, for the next file (8 MB at most): a
 * second of 48 kHz audio otherwise allocates 192 KB outside V8's heap per note, and that
 * "external memory pressure" starts garbage collections, which n8n's large heap makes slow.
 */
const spare: Float32Array[] = [];
const MAX_SPARE = 64;

function takeBlock(): Float32Array {
	return spare.pop() ?? new Float32Array(BLOCK);
}

export class MonoSink {
	private readonly chunks: Float32Array[] = [];
	private block: Float32Array | undefined;
	private used = 0;
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
		if (this.ctx.onPcm) {
			// A copy for mono: decoders may reuse their output buffers.
			const mono = channels.length === 1 ? channels[0].slice(0, frames) : downmixToMono(channels.map((c) => c.subarray(0, frames)));
			await this.ctx.onPcm(mono, rate);
			return;
		}
		for (let at = 0; at < frames; ) {
			if (!this.block || this.used === this.block.length) {
				if (this.block) this.chunks.push(this.block);
				this.block = takeBlock();
				this.used = 0;
			}
			const n = Math.min(frames - at, this.block.length - this.used);
			downmixToMono(channels.map((c) => c.subarray(at, at + n)), this.block, this.used);
			this.used += n;
			at += n;
		}
	}

	get frames(): number {
		return this.total;
	}

	toSource(): SampleSource {
		if (this.ctx.onPcm) return arraySource(new Float32Array(0)); // streamed on as it came
		if (this.block) this.chunks.push(this.block.subarray(0, this.used));
		this.block = undefined;
		const blocks = this.chunks.splice(0);
		// Called once the source's samples have been read (decode.ts): its blocks serve the next file.
		return chunkedSource(blocks, () => {
			for (const b of blocks) if (spare.length < MAX_SPARE) spare.push(b.length === BLOCK ? b : new Float32Array(b.buffer));
			blocks.length = 0;
		});
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
