/**
 * FFmpeg's own decoders and MP4/MOV demuxer, compiled to WebAssembly
 * (libav.js, "fat" variant, LGPL-2.1, an unmodified regular dependency).
 *
 * One instance per process, created on first use (~30 ms) and shared:
 * every call into it goes through one queue, so decodes of concurrent items
 * interleave call by call but never inside the module. An instance that
 * aborted (a WebAssembly trap) or whose memory grew past
 * RETIRE_HEAP_BYTES is dropped; the next decode builds a fresh one.
 *
 * We load the Emscripten module directly (not the libav.js wrapper) so
 * that it gets our print/quit hooks: nothing is written to n8n's stdout or
 * stderr, and an exit() inside the library throws instead of setting the
 * process's exit code.
 */
import { keepLoopAlive } from '../../util/keep-alive';
import { isTrap } from './sink';

export const AVMEDIA_TYPE_AUDIO = 1;
export const AVERROR_EOF = -541478725;
export const AVERROR_EAGAIN = -6;
const AV_LOG_QUIET = -8;
const RETIRE_HEAP_BYTES = 512 * 1024 * 1024;

export interface LibavFrame {
	nb_samples: number;
	sample_rate: number;
	channels: number;
	/** AVSampleFormat: 0-4 interleaved u8/s16/s32/flt/dbl, 5-9 planar. */
	format: number;
	data: null | ArrayLike<number> | Array<ArrayLike<number>>;
}

export interface LibavPacket {
	data: Uint8Array;
}

interface LibavStream {
	codec_type: number;
	codec_id: number;
	codecpar: number;
}

export interface LibavModule {
	av_log_set_level(level: number): void;
	writeFile(name: string, data: Uint8Array): unknown;
	unlink(name: string): unknown;
	ff_init_demuxer_file(name: string, format?: string): Promise<[number, LibavStream[]]>;
	ff_init_decoder(codec: string | number, codecpar?: number): Promise<[number, number, number, number]>;
	ff_read_multi(fmt: number, pkt: number, devfile: null, opts: { limit: number }): Promise<[number, Record<number, LibavPacket[]>]>;
	av_packet_make_writable(pkt: number): number;
	ff_copyin_packet(pkt: number, packet: LibavPacket): void;
	av_packet_unref(pkt: number): void;
	avcodec_send_packet(c: number, pkt: number): number;
	avcodec_receive_frame(c: number, frame: number): number;
	ff_copyout_frame(frame: number): LibavFrame;
	av_frame_unref(frame: number): void;
	ff_free_decoder(c: number, pkt: number, frame: number): unknown;
	avformat_close_input_js(fmt: number): unknown;
	HEAPU8: Uint8Array;
}

/**
 * Decodes `packets` (and, with `fin`, flushes the decoder), as libav.js's
 * ff_decode_multi does with ignoreErrors, but without its console.log per bad
 * packet: a corrupt upload must not write to n8n's log. A packet the decoder
 * refuses is skipped, as the ffmpeg command skips it.
 */
export function decodePackets(m: LibavModule, c: number, pkt: number, frame: number, packets: LibavPacket[], fin: boolean): LibavFrame[] {
	const out: LibavFrame[] = [];
	const send = (packet: LibavPacket | null) => {
		if (packet) {
			if (m.av_packet_make_writable(pkt) < 0) throw new Error('packet not writable');
			m.ff_copyin_packet(pkt, packet);
		} else {
			m.av_packet_unref(pkt); // an empty packet: flush
		}
		const sent = m.avcodec_send_packet(c, pkt);
		m.av_packet_unref(pkt);
		if (sent < 0) return;
		for (;;) {
			const got = m.avcodec_receive_frame(c, frame);
			if (got === AVERROR_EAGAIN || got === AVERROR_EOF) return;
			if (got < 0) throw new Error(`decoding error ${got}`);
			out.push(m.ff_copyout_frame(frame));
			m.av_frame_unref(frame);
		}
	};
	for (const packet of packets) send(packet);
	if (fin) send(null);
	return out;
}

interface Instance {
	module: Promise<LibavModule>;
	queue: Promise<unknown>;
	retired: boolean;
}

let current: Instance | undefined;
let files = 0;

type Factory = (overrides: Record<string, unknown>) => Promise<LibavModule>;

async function instantiate(): Promise<LibavModule> {
	const main = require.resolve('@libav.js/variant-fat');
	let lastError: unknown;
	// The SIMD build first (every Node we support has WebAssembly SIMD), plain as a fallback.
	for (const flavour of ['.simd.js', '.wasm.js']) {
		try {
			const factory = require(main.replace(/\.js$/, flavour)) as Factory;
			const mod = await keepLoopAlive(factory({
				print: () => undefined,
				printErr: () => undefined,
				quit: (_status: number, error: unknown) => {
					throw error;
				},
				noExitRuntime: true,
			}));
			mod.av_log_set_level(AV_LOG_QUIET);
			return mod;
		} catch (error) {
			lastError = error;
		}
	}
	throw lastError;
}

function instance(): Instance {
	if (!current || current.retired) {
		const made: Instance = { module: instantiate(), queue: Promise.resolve(), retired: false };
		made.module.catch(() => {
			made.retired = true;
		});
		current = made;
	}
	return current;
}

/** A session on the shared instance: its calls are queued behind everyone else's. */
export class LibavSession {
	private readonly inst = instance();

	async call<T>(fn: (m: LibavModule) => T | Promise<T>): Promise<T> {
		const inst = this.inst;
		const run = inst.queue.then(async () => await fn(await inst.module));
		inst.queue = run.catch(() => undefined);
		try {
			return await run;
		} catch (error) {
			if (isTrap(error)) inst.retired = true;
			throw error;
		}
	}

	/** A file name no other session uses. */
	fileName(): string {
		return `in${++files}`;
	}

	/** Retires the instance if its memory grew large (WebAssembly memory never shrinks). */
	async finish(): Promise<void> {
		const inst = this.inst;
		try {
			const mod = await inst.module;
			if (mod.HEAPU8.length > RETIRE_HEAP_BYTES) inst.retired = true;
		} catch {
			// failed to load: already retired
		}
	}
}

/** Planar Float32 channels of a decoded frame, converted as ffmpeg's f32 output is. */
export function frameChannels(f: LibavFrame): Float32Array[] | undefined {
	if (!f.data || f.nb_samples <= 0 || f.channels <= 0 || f.format < 0 || f.format > 9) return undefined;
	const scale = [1 / 128, 1 / 32768, 1 / 2147483648, 1, 1][f.format % 5];
	const offset = f.format % 5 === 0 ? 128 : 0;
	const planar = f.format >= 5;
	const out: Float32Array[] = [];
	for (let ch = 0; ch < f.channels; ch++) {
		const src = planar ? (f.data as Array<ArrayLike<number>>)[ch] : (f.data as ArrayLike<number>);
		if (!src) return undefined;
		if (f.format === 8) {
			out.push(src as Float32Array);
			continue;
		}
		const dst = new Float32Array(f.nb_samples);
		const step = planar ? 1 : f.channels;
		for (let i = 0, j = planar ? 0 : ch; i < f.nb_samples; i++, j += step) dst[i] = (src[j] - offset) * scale;
		out.push(dst);
	}
	return out;
}
