/**
 * libopus (opus-decoder's WebAssembly build, BSD/MIT) for Ogg and WebM:
 * kept WebAssembly instances and a decoder handle per stream.
 *
 * Why not `new OpusDecoder()` per file, as ogg-opus-decoder does: every
 * instance brings its own WebAssembly memory, and inside n8n's large heap
 * that set off a full garbage collection on nearly every voice note (a 1 s
 * note: 82 ms with 230 MB of live objects, 8.7 ms without; BENCHMARKS.md).
 * Files one after another reuse one instance with a fresh libopus handle each
 * (until its fixed memory runs low); files decoded at the same time each take
 * an instance of their own.
 */
import { AudioDecodeError } from '../../errors';
import { keepLoopAlive } from '../../util/keep-alive';
import { isTrap, type MonoSink } from './sink';
import type { DecodeContext } from './types';

/** The exports of opus-decoder 0.7.x's Emscripten module (pinned in package.json). */
interface OpusWasm {
	HEAP: ArrayBuffer;
	malloc(bytes: number): number;
	free(ptr: number): void;
	opus_frame_decoder_create(rate: number, channels: number, streams: number, coupled: number, mapping: number, preSkip: number, forceStereo: number): number;
	opus_frame_decode_float_deinterleaved(handle: number, input: number, length: number, output: number): number;
	opus_frame_decoder_destroy(handle: number): void;
}

const RATE = 48_000;
const MAX_FRAME = 5_760; // 120 ms at 48 kHz: the longest Opus packet
/** The longest packet libopus accepts: 48 frames of 1,275 bytes per stream. */
const maxPacket = (streams: number) => 1_275 * 48 * streams;

// The build's memory is fixed (28 MB, no growth), and opus_frame_decoder_destroy
// does not give a handle's decoder state back (about 23 KB per channel stays
// allocated: measured). An instance therefore serves files until it lacks room
// for the next handle (about 1,200 mono notes), and is then replaced: one new
// WebAssembly memory per ~1,000 notes instead of one per note.
//
// A stream has an instance to itself while it decodes: libopus can trap on
// corrupt input (as it does inside ogg-opus-decoder), and a trapped instance is
// dropped without touching other streams.
const idle: OpusWasm[] = [];
/** Instances kept between files: one serves files one after another; concurrent files make more. */
const MAX_IDLE = 2;
/** What a handle keeps of an instance's memory, per channel (measured: 23,048 bytes), with slack. */
const HANDLE_BYTES_PER_CHANNEL = 24 * 1024;

/** Whether `bytes` can still be allocated in this instance. */
function hasRoom(wasm: OpusWasm, bytes: number): boolean {
	const probe = wasm.malloc(bytes);
	if (!probe) return false;
	wasm.free(probe);
	return true;
}

async function acquire(bytes: number): Promise<OpusWasm> {
	for (let kept = idle.pop(); kept; kept = idle.pop()) if (hasRoom(kept, bytes)) return kept;
	const { OpusDecoder } = require('opus-decoder');
	// One OpusDecoder is built for its Emscripten instance; its own handle stays unused.
	const d = new OpusDecoder({ channels: 1 }) as { ready: Promise<void>; _common: { wasm: OpusWasm } };
	await keepLoopAlive(d.ready);
	if (!hasRoom(d._common.wasm, bytes)) throw new AudioDecodeError('The Opus stream has more channels than the built-in decoder has room for', 'Convert it to mono or stereo, or let ffmpeg decode it ({decoder}: FFmpeg).');
	return d._common.wasm;
}

function release(wasm: OpusWasm, trapped: boolean): void {
	if (!trapped && idle.length < MAX_IDLE) idle.push(wasm);
}

/**
 * Makes the first instance now (the prewarm: its WebAssembly compile and memory cost 48 ms of
 * n8n's thread in the first voice note otherwise) and keeps it for the first file.
 */
export async function prewarmOpus(): Promise<void> {
	if (idle.length === 0) release(await acquire(0), false);
}

/** The fields of an OpusHead (RFC 7845 section 5.1) that decoding needs. */
export interface OpusHead {
	channels: number;
	preSkip: number;
	/** Linear gain from the header's output gain (applied, as ffmpeg does). */
	gain: number;
	streams: number;
	coupled: number;
	mapping: number[];
}

export function parseOpusHead(head: Uint8Array, where: string): OpusHead {
	const bad = (why: string) => new AudioDecodeError(`The ${where} file is invalid: ${why}`, 'Check that the upload is complete, or convert it to WAV.');
	if (head.length < 19 || Buffer.from(head.buffer, head.byteOffset, 8).toString('latin1') !== 'OpusHead') throw bad('its Opus track has no OpusHead');
	if (head[8] >> 4 !== 0) throw bad(`its OpusHead has version ${head[8]}, which no decoder reads`);
	const view = new DataView(head.buffer, head.byteOffset, head.length);
	const channels = head[9];
	if (channels === 0) throw bad('its OpusHead says 0 channels');
	const family = head[18];
	let streams = 1;
	let coupled = channels > 1 ? 1 : 0;
	let mapping = channels === 2 ? [0, 1] : [0];
	if (family !== 0) {
		if (head.length < 21 + channels) throw bad('its OpusHead is cut short');
		streams = head[19];
		coupled = head[20];
		mapping = Array.from(head.subarray(21, 21 + channels));
		if (streams === 0 || coupled > streams) throw bad('its OpusHead has an impossible stream count');
	} else if (channels > 2) {
		throw bad(`its OpusHead says ${channels} channels without a channel mapping`);
	}
	return { channels, preSkip: view.getUint16(10, true), gain: 10 ** (view.getInt16(16, true) / (20 * 256)), streams, coupled, mapping };
}

/** One Opus stream being decoded: a libopus handle and its buffers inside an instance it has to itself. */
export class OpusStream {
	private handle = 0;
	private input = 0;
	private inputBytes = 0;
	private output = 0;
	private mapping = 0;
	private closed = false;
	/** The first libopus error, if any packet failed (the packet is skipped, as ffmpeg does). */
	firstError: string | undefined;
	/** Samples (per channel, after pre-skip) handed to the sink so far. */
	pushed = 0;

	private constructor(
		private readonly wasm: OpusWasm,
		private readonly head: OpusHead,
		private readonly sink: MonoSink,
	) {}

	get preSkip(): number {
		return this.head.preSkip;
	}

	static async open(head: OpusHead, sink: MonoSink): Promise<OpusStream> {
		// Room for the handle, its buffers and a first input buffer, checked before libopus allocates.
		const wasm = await acquire(head.channels * (HANDLE_BYTES_PER_CHANNEL + MAX_FRAME * 4) + 64 * 1024);
		const s = new OpusStream(wasm, head, sink);
		try {
			// The mapping stays allocated while the handle lives (libopus's wrapper may keep the pointer).
			s.mapping = wasm.malloc(head.channels);
			s.output = wasm.malloc(head.channels * MAX_FRAME * 4);
			if (!s.output || !s.mapping) throw new Error('out of memory');
			new Uint8Array(wasm.HEAP, s.mapping, head.channels).set(head.mapping);
			s.handle = wasm.opus_frame_decoder_create(RATE, head.channels, head.streams, head.coupled, s.mapping, head.preSkip, 0);
			if (!s.handle) throw new Error('no decoder handle');
		} catch (e) {
			s.close(isTrap(e));
			throw new AudioDecodeError(`libopus could not start this stream (${(e as Error).message})`, 'Check that the upload is complete, or convert it to WAV.');
		}
		return s;
	}

	/**
	 * Decodes `packets` and hands each one's samples to the sink (which copies
	 * them); with `limit` (the stream's length from its last granule
	 * position), never beyond it.
	 */
	async decode(packets: Uint8Array[], limit?: number): Promise<void> {
		const { wasm, head } = this;
		for (const packet of packets) {
			if (packet.length === 0 || packet.length > maxPacket(head.streams)) {
				this.firstError ??= `an Opus packet of ${packet.length} bytes`;
				continue;
			}
			if (packet.length > this.inputBytes) this.growInput(packet.length);
			new Uint8Array(wasm.HEAP, this.input, packet.length).set(packet);
			const n = wasm.opus_frame_decode_float_deinterleaved(this.handle, this.input, packet.length, this.output);
			if (n < 0) {
				this.firstError ??= `libopus error ${n}`;
				continue;
			}
			const frames = limit !== undefined && limit >= this.pushed ? Math.min(n, limit - this.pushed) : n;
			if (frames <= 0) continue;
			// Planar output in this stream's own buffer: channel c at c * n.
			const planar = new Float32Array(wasm.HEAP, this.output, head.channels * n);
			const channels: Float32Array[] = [];
			for (let c = 0; c < head.channels; c++) {
				const channel = planar.subarray(c * n, c * n + frames);
				if (head.gain !== 1) for (let i = 0; i < frames; i++) channel[i] *= head.gain;
				channels.push(channel);
			}
			this.pushed += frames;
			await this.sink.push(channels, frames, RATE);
		}
	}

	private growInput(bytes: number): void {
		const size = Math.max(bytes, 4_096);
		if (this.input) this.wasm.free(this.input);
		this.input = this.wasm.malloc(size);
		this.inputBytes = this.input ? size : 0;
		if (!this.input) throw new AudioDecodeError('libopus ran out of memory for this stream', 'Try again with fewer files at once, or convert it to WAV.');
	}

	/** Frees the handle and buffers and gives the instance back; after a trap the instance is dropped. */
	close(trapped = false): void {
		if (this.closed) return;
		this.closed = true;
		const { wasm } = this;
		if (!trapped) {
			try {
				if (this.handle) wasm.opus_frame_decoder_destroy(this.handle); // (its state stays allocated: see above)
				if (this.input) wasm.free(this.input);
				if (this.output) wasm.free(this.output);
				if (this.mapping) wasm.free(this.mapping);
			} catch {
				trapped = true;
			}
		}
		release(wasm, trapped);
	}
}

/** Decodes a whole packet list (WebM) in batches, yielding between them. */
export async function decodeOpusPackets(head: OpusHead, packets: Uint8Array[], sink: MonoSink, ctx: DecodeContext): Promise<string | undefined> {
	const stream = await OpusStream.open(head, sink);
	try {
		for (let i = 0; i < packets.length; i += 64) {
			await stream.decode(packets.slice(i, i + 64));
			await ctx.slicer.tick();
		}
	} catch (e) {
		stream.close(isTrap(e));
		throw e;
	}
	stream.close();
	return stream.firstError;
}
