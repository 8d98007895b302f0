/**
 * Encoding event clips: 16-bit WAV (written here), or Ogg Opus by libopus and
 * FFmpeg's Ogg muxer in the package's WebAssembly build (libav.js, the same
 * instance the decoders use), so a clip can go straight to Telegram's
 * sendVoice or WhatsApp as a voice note, with no ffmpeg.
 */
import { AudioClassificationError } from '../errors';
import { type LibavModule, LibavSession } from './decoders/libav';
import { resample } from './resample';

/** 16-bit mono WAV. */
export function encodeWav16(samples: Float32Array, rate: number): Buffer {
	const n = samples.length;
	const out = Buffer.alloc(44 + n * 2);
	out.write('RIFF', 0, 'ascii');
	out.writeUInt32LE(36 + n * 2, 4);
	out.write('WAVEfmt ', 8, 'ascii');
	out.writeUInt32LE(16, 16);
	out.writeUInt16LE(1, 20);
	out.writeUInt16LE(1, 22);
	out.writeUInt32LE(rate, 24);
	out.writeUInt32LE(rate * 2, 28);
	out.writeUInt16LE(2, 32);
	out.writeUInt16LE(16, 34);
	out.write('data', 36, 'ascii');
	out.writeUInt32LE(n * 2, 40);
	for (let i = 0; i < n; i++) out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32767))), 44 + 2 * i);
	return out;
}

/** The rates libopus takes as they are; others are resampled to 48 kHz first. */
const OPUS_RATES = new Set([8000, 12000, 16000, 24000, 48000]);
const AV_SAMPLE_FMT_FLT = 3;
const AV_CH_LAYOUT_MONO = 4;

interface EncoderModule extends LibavModule {
	ff_init_encoder(name: string, opts: { ctx: Record<string, number>; time_base: [number, number] }): Promise<[number, number, number, number, number]>;
	ff_init_muxer(opts: { format_name: string; filename: string; open: boolean }, streams: Array<[number, number, number]>): Promise<[number, number, number, number[]]>;
	avformat_write_header(oc: number, options: number): Promise<number>;
	ff_encode_multi(c: number, frame: number, pkt: number, frames: object[], fin: boolean): Promise<Array<Record<string, number | Uint8Array>>>;
	ff_write_multi(oc: number, pkt: number, packets: object[]): Promise<void>;
	av_write_trailer(oc: number): Promise<number>;
	ff_free_muxer(oc: number, pb: number): Promise<void>;
	ff_free_encoder(c: number, frame: number, pkt: number): Promise<void>;
	readFile(name: string): Promise<Uint8Array>;
}

/** Cleanup that must not mask the error being thrown (libav.js functions may return a value or a promise). */
async function quietly(fn: () => unknown): Promise<void> {
	try {
		await fn();
	} catch {
		// already failing, or nothing to free
	}
}

/** Mono Ogg Opus (libopus, `bitRate` b/s, 20 ms frames); the clip's length is kept (the last frame is padded, pre-skip marked). */
export async function encodeOggOpus(samples: Float32Array, rate: number, bitRate = 32_000): Promise<Buffer> {
	const inRate = OPUS_RATES.has(rate) ? rate : 48_000;
	const x = inRate === rate ? samples : resample(samples, rate, inRate);
	const lib = new LibavSession();
	const file = `${lib.fileName()}.ogg`;
	try {
		return await lib.call(async (mod) => {
			const m = mod as EncoderModule;
			const [, c, frame, pkt, frameSize] = await m.ff_init_encoder('libopus', {
				ctx: { bit_rate: bitRate, sample_fmt: AV_SAMPLE_FMT_FLT, sample_rate: inRate, channel_layout: AV_CH_LAYOUT_MONO, channels: 1 },
				time_base: [1, inRate],
			});
			let muxer: [number, number] | undefined;
			try {
				const [oc, , pb] = await m.ff_init_muxer({ format_name: 'ogg', filename: file, open: true }, [[c, 1, inRate]]);
				muxer = [oc, pb];
				if ((await m.avformat_write_header(oc, 0)) < 0) throw new Error('the Ogg header could not be written');
				const frames: object[] = [];
				for (let at = 0; at < x.length; at += frameSize) {
					const data = new Float32Array(frameSize);
					data.set(x.subarray(at, Math.min(x.length, at + frameSize)));
					frames.push({ data, format: AV_SAMPLE_FMT_FLT, channel_layout: AV_CH_LAYOUT_MONO, channels: 1, sample_rate: inRate, nb_samples: frameSize, pts: at });
				}
				const packets = await m.ff_encode_multi(c, frame, pkt, frames, true);
				// Packets come in the encoder's time base (1/rate); Ogg Opus counts at 48 kHz.
				const k = 48_000 / inRate;
				for (const p of packets) for (const key of ['pts', 'dts', 'duration']) if (typeof p[key] === 'number') p[key] = (p[key] as number) * k;
				await m.ff_write_multi(oc, pkt, packets);
				if ((await m.av_write_trailer(oc)) < 0) throw new Error('the Ogg trailer could not be written');
				await m.ff_free_muxer(oc, pb);
				muxer = undefined;
				return Buffer.from(await m.readFile(file));
			} finally {
				if (muxer) await quietly(() => m.ff_free_muxer(muxer![0], muxer![1]));
				await quietly(() => m.ff_free_encoder(c, frame, pkt));
				try {
					m.unlink(file);
				} catch {
					// never written
				}
			}
		});
	} catch (error) {
		throw new AudioClassificationError(`The clip could not be encoded as Ogg Opus (${String((error as Error)?.message ?? error).slice(0, 120)})`, 'Set Clip Format to WAV.', { kind: 'clipEncode' });
	} finally {
		await lib.finish();
	}
}
