/**
 * The built-in decoders against ffmpeg (the Python pipeline's decoder):
 * each format decodes with no ffmpeg anywhere, and on every fixture model
 * the scores stay close to ffmpeg's, with the same top label wherever the
 * top-1 margin exceeds 0.1. The figures printed here are the README's table.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';

import { decodeAudio, decodeAudioStream } from '../src/audio/decode';
import { AudioDecodeError, AudioLimitError } from '../src/errors';
import { sessionCache } from '../src/inference/session-cache';
import { loadModelSpec } from '../src/model/spec';
import { classifyAudio } from '../src/pipeline';
import { AUDIO, MODELS, audio, describeWithFfmpeg, hideFfmpegFromPath, maxAbsDiff, systemFfmpeg } from './helpers/fixtures';

afterAll(async () => sessionCache.clear());

/** The bytes ffmpeg writes for `args` into a file named `name` (in a temporary folder, removed before returning). */
function encode(args: string[], name: string): Buffer {
	const dir = mkdtempSync(path.join(tmpdir(), 'decoders-'));
	try {
		const file = path.join(dir, name);
		execFileSync(systemFfmpeg!, ['-v', 'error', ...args, file]);
		return readFileSync(file);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

const BUILT_IN: Array<[string, RegExp]> = [
	['speech-44k-stereo.mp3', /^mp3 \(mpg123-decoder\)$/],
	['speech-44k-stereo.flac', /^flac /],
	['speech-44k-stereo.ogg', /^ogg-vorbis /],
	['speech-48k-mono.opus', /^ogg-opus /],
	['speech-48k-stereo.webm', /^webm-opus /],
	['speech-8k-mono.amr', /^amr \(@audio\/decode-amr\)$/],
	// FFmpeg's demuxer and decoders in WebAssembly (libav.js): iPhone voice memos, and the sound of a video.
	['speech-44k-stereo.m4a', /^aac \(libav\.js: FFmpeg's decoder in WebAssembly\)$/],
	['speech-44k-stereo-faststart.m4a', /^aac \(libav\.js/],
	['speech-video.mp4', /^aac \(libav\.js/],
	['speech-video.mov', /^aac \(libav\.js/],
];

describe('built-in decoders, with no ffmpeg anywhere', () => {
	hideFfmpegFromPath();

	it.each(BUILT_IN)('%s', async (file, name) => {
		const out = await decodeAudio(audio(file), { samplingRate: 16000, decoder: 'builtIn' });
		expect(out.decoder).toMatch(name);
		expect(out.duration).toBeGreaterThan(0.9);
		expect(out.duration).toBeLessThan(1.6);
	});

	it('Built-In Only refuses formats it cannot read, listing the ones it can', async () => {
		const wma = Buffer.concat([Buffer.from('3026b2758e66cf11a6d900aa0062ce6c', 'hex'), Buffer.alloc(64)]);
		const error = await decodeAudio(wma, { samplingRate: 16000, decoder: 'builtIn' }).catch((e) => e);
		expect(error).toBeInstanceOf(AudioDecodeError);
		expect(error.message).toMatch(/WMA\/ASF has no built-in decoder/);
		expect(error.hint).toMatch(/Ogg Opus.*MP3.*FLAC.*AMR.*M4A\/MP4\/MOV \(AAC, ALAC\), ADTS AAC/);
		expect(error.hint).toMatch(/install ffmpeg/);
	});

	it('an M4A whose index lists more audio than the limit is refused before decoding', async () => {
		const { mp4DecodableSeconds } = require('../src/audio/decoders/aac');
		const m4a = Buffer.from(audio('speech-44k-stereo.m4a')); // moov at the end: decoded in one call
		expect(mp4DecodableSeconds(m4a)).toBeCloseTo((Math.ceil((1.2 * 44100 + 1024) / 1024) * 1024) / 44100, 0);
		const at = m4a.indexOf('stsz') + 12; // version/flags, sample_size, then sample_count
		m4a.writeUInt32BE(30_000_000, at);
		const error = await decodeAudio(m4a, { samplingRate: 16000, decoder: 'builtIn' }).catch((e) => e);
		expect(error).toBeInstanceOf(AudioLimitError);
		expect(error.data.declared).toBeGreaterThan(600_000);
	});

	it('M4A files decoded at the same time share one FFmpeg instance and get exactly their own samples', async () => {
		const files = ['speech-44k-stereo.m4a', 'speech-video.mov', 'speech-44k-stereo-faststart.m4a', 'speech-video.mp4'];
		const alone: Array<{ samples: Float32Array }> = [];
		for (const f of files) alone.push(await decodeAudio(audio(f), { samplingRate: 16000, decoder: 'builtIn' }));
		const together = await Promise.all([...files, ...files].map((f) => decodeAudio(audio(f), { samplingRate: 16000, decoder: 'builtIn' })));
		together.forEach((out, i) => {
			expect(out.samples.length).toBe(alone[i % files.length].samples.length);
			expect(maxAbsDiff(out.samples, alone[i % files.length].samples)).toBe(0);
		});
		// A broken file in the middle of them fails alone.
		const broken = Buffer.from(audio('speech-44k-stereo-faststart.m4a'));
		broken.fill(0x55, broken.indexOf('mdat') + 8, broken.indexOf('mdat') + 4000);
		const mixed = await Promise.allSettled([audio(files[0]), broken, audio(files[1])].map((b) => decodeAudio(b, { samplingRate: 16000, decoder: 'builtIn' })));
		expect(mixed[0].status).toBe('fulfilled');
		expect(mixed[2].status).toBe('fulfilled');
		expect(maxAbsDiff((mixed[2] as PromiseFulfilledResult<{ samples: Float32Array }>).value.samples, alone[1].samples)).toBe(0);
	});

	it('a truncated M4A (index cut off) is a decode error, not a hang', async () => {
		const error = await decodeAudio(audio('truncated.m4a'), { samplingRate: 16000, decoder: 'builtIn' }).catch((e) => e);
		expect(error).toBeInstanceOf(AudioDecodeError);
		expect(error.message).toMatch(/M4A\/AAC file could not be decoded \(no complete index/);
	});

	it('a WebM whose audio is not Opus says so', async () => {
		const { demuxWebmOpus } = require('../src/audio/decoders/webm');
		const webm = audio('speech-48k-stereo.webm');
		const patched = Buffer.from(webm);
		const at = patched.indexOf('A_OPUS');
		patched.write('A_VORB', at, 'latin1');
		expect(() => demuxWebmOpus(patched)).toThrow(/A_VORB, which has no built-in decoder/);
	});
});

describe('streamed decoding', () => {
	it.each(['speech-44k-stereo-s16.wav', 'speech-44k-stereo.mp3', 'speech-48k-mono.opus', 'speech-48k-stereo.webm', 'speech-44k-stereo.flac', 'speech-44k-stereo.ogg', 'speech-8k-mono.amr', 'speech-44k-stereo.m4a'])(
		'%s: the blocks put together are exactly the whole decode',
		async (file) => {
			const whole = await decodeAudio(audio(file), { samplingRate: 16000, decoder: 'builtIn' });
			const blocks: Float32Array[] = [];
			const streamed = await decodeAudioStream(audio(file), { samplingRate: 16000, decoder: 'builtIn' }, async (b) => void blocks.push(b));
			const joined = new Float32Array(blocks.reduce((n, b) => n + b.length, 0));
			blocks.reduce((at, b) => (joined.set(b, at), at + b.length), 0);
			expect(streamed.decoder).toBe(whole.decoder);
			expect(joined.length).toBe(whole.samples.length);
			expect(maxAbsDiff(joined, whole.samples)).toBe(0);
		},
	);
});

describeWithFfmpeg('built-in decoders against ffmpeg', () => {
	const models = ['tiny-wav2vec2', 'tiny-wavlm-mask', 'tiny-ast', 'tiny-whisper', 'tiny-multilabel'];
	const rows: string[] = [];
	afterAll(() => console.log(`decoders: max |score difference| built-in vs ffmpeg\n${rows.join('\n')}`));

	it.each(BUILT_IN.map(([f]) => f))('%s: scores close to ffmpeg, same top-1 where the margin exceeds 0.1', async (file) => {
		let worst = 0;
		for (const model of models) {
			const spec = loadModelSpec(path.join(MODELS, model), 'auto');
			const options = { topK: 0, functionToApply: 'auto' as const, device: 'cpu' as const, ffmpegPath: systemFfmpeg };
			const ours = await classifyAudio(audio(file), spec, { ...options, decoder: 'builtIn' });
			const ref = await classifyAudio(audio(file), spec, { ...options, decoder: 'ffmpeg' });
			expect(ref.decoder).toMatch(/^ffmpeg/);
			for (const { label, score } of ref.labels) {
				worst = Math.max(worst, Math.abs(score - ours.labels.find((l) => l.label === label)!.score));
			}
			const margin = ref.labels[0].score - ref.labels[1].score;
			if (margin > 0.1) expect(ours.labels[0].label).toBe(ref.labels[0].label);
		}
		rows.push(`  ${file.padEnd(26)} ${worst.toExponential(1)}`);
		expect(worst).toBeLessThan(0.02);
	}, 60_000);

	it("Opus: ours is libopus's output (ffmpeg's own Opus decoder is what differs)", async () => {
		// Python's pipeline gets ffmpeg's native Opus decoder, which is ~12 dB SNR from libopus
		// (the reference implementation) on this clip; ours matches libopus itself.
		const clip = path.join(AUDIO, 'speech-48k-mono.opus');
		const f32 = (args: string[]) => {
			const b = execFileSync(systemFfmpeg!, ['-v', 'error', ...args, '-i', clip, '-ac', '1', '-ar', '48000', '-f', 'f32le', 'pipe:1'], { maxBuffer: 1 << 26 });
			return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
		};
		let libopus: Float32Array;
		try {
			libopus = f32(['-c:a', 'libopus']);
		} catch {
			console.log('decoders: this ffmpeg has no libopus decoder; comparison skipped');
			return;
		}
		const native = f32([]);
		const { OggOpusDecoder } = require('ogg-opus-decoder');
		const d = new OggOpusDecoder();
		await d.ready;
		const ours = (await d.decodeFile(new Uint8Array(audio('speech-48k-mono.opus')))).channelData[0] as Float32Array;
		d.free();
		const snr = (a: Float32Array, b: Float32Array) => {
			let e = 0;
			let p = 0;
			for (let i = 0; i < Math.min(a.length, b.length); i++) {
				e += (a[i] - b[i]) ** 2;
				p += b[i] ** 2;
			}
			return 10 * Math.log10(p / e);
		};
		console.log(`decoders: Opus SNR ours vs libopus ${snr(ours, libopus).toFixed(1)} dB, ffmpeg native vs libopus ${snr(native, libopus).toFixed(1)} dB`);
		expect(snr(ours, libopus)).toBeGreaterThan(60);
	});

	it.each([
		['aiff', ['-c:a', 'pcm_s16be'], 'aiff'],
		['aiff-c float', ['-c:a', 'pcm_f32be'], 'aiff'],
		['caf s16le', ['-c:a', 'pcm_s16le'], 'caf'],
		['caf float', ['-c:a', 'pcm_f32le'], 'caf'],
		['caf A-law', ['-c:a', 'pcm_alaw'], 'caf'],
	])('%s decodes to exactly what ffmpeg gives', async (_name, codec, format) => {
		const bytes = encode(['-i', path.join(AUDIO, 'speech-16k-mono-s16.wav'), ...codec, '-f', format], `clip.${format}`);
		const ours = await decodeAudio(bytes, { samplingRate: 16000, decoder: 'builtIn' });
		const ref = await decodeAudio(bytes, { samplingRate: 16000, decoder: 'ffmpeg', ffmpegPath: systemFfmpeg });
		expect(ours.decoder).toBe(format);
		expect(ours.samples.length).toBe(ref.samples.length);
		expect(maxAbsDiff(ours.samples, ref.samples)).toBeLessThan(1e-6);
	});

	it.each([
		['ALAC in M4A', ['-c:a', 'alac'], 'm4a', 'alac', 1e-6],
		['AAC in ADTS', ['-c:a', 'aac', '-b:a', '64k'], 'adts', 'aac', 1e-5],
		['AAC in M4A', ['-c:a', 'aac', '-b:a', '64k'], 'm4a', 'aac', 1e-5],
	])("%s: FFmpeg's own decoder in-process, the samples ffmpeg gives", async (_name, codec, format, name, tolerance) => {
		const bytes = encode(['-i', path.join(AUDIO, 'speech-44k-stereo.flac'), ...codec, '-f', format === 'm4a' ? 'ipod' : format], `clip.${format}`);
		// At the file's own rate, so no resampler stands between the two decoders.
		const ours = await decodeAudio(bytes, { samplingRate: 44100, decoder: 'builtIn' });
		const ref = await decodeAudio(bytes, { samplingRate: 44100, decoder: 'ffmpeg', ffmpegPath: systemFfmpeg });
		expect(ours.decoder).toMatch(new RegExp(`^${name} \\(libav\\.js`));
		expect(ours.samples.length).toBe(ref.samples.length);
		const diff = maxAbsDiff(ours.samples, ref.samples);
		console.log(`decoders: ${_name} in-process vs ffmpeg, max |sample difference| ${diff.toExponential(1)}`);
		expect(diff).toBeLessThanOrEqual(tolerance);
	});

	it('an MP4 whose audio codec the WebAssembly build lacks goes to ffmpeg under Auto, and says so under Built-In Only', async () => {
		const bytes = encode(['-i', path.join(AUDIO, 'speech-44k-stereo.flac'), '-c:a', 'libmp3lame'], 'mp3-in.mp4');
		const error = await decodeAudio(bytes, { samplingRate: 16000, decoder: 'builtIn' }).catch((e) => e);
		expect(error).toBeInstanceOf(AudioDecodeError);
		expect(error.message).toMatch(/audio codec of this MP4\/MOV file .* has no built-in decoder/);
		expect(error.hint).toMatch(/install ffmpeg/);
		const auto = await decodeAudio(bytes, { samplingRate: 16000, decoder: 'auto', ffmpegPath: systemFfmpeg });
		expect(auto.decoder).toMatch(/^ffmpeg/);
		expect(auto.duration).toBeGreaterThan(1);
	});

	it('a long M4A decodes in-process without blocking the event loop, and is refused from its index when over the limit', async () => {
		const bytes = encode(['-f', 'lavfi', '-i', 'sine=f=440:r=44100', '-t', '300', '-c:a', 'aac', '-b:a', '64k'], 'long.m4a');
		const h = monitorEventLoopDelay({ resolution: 10 });
		h.enable();
		const ok = await decodeAudio(bytes, { samplingRate: 16000, decoder: 'builtIn' });
		const started = Date.now();
		const error = await decodeAudio(bytes, { samplingRate: 16000, decoder: 'builtIn', maxDuration: 60 }).catch((e) => e);
		const refusedIn = Date.now() - started;
		h.disable();
		expect(ok.duration).toBeCloseTo(300, 0);
		expect(error).toBeInstanceOf(AudioLimitError);
		expect(error.data.declared).toBeCloseTo(300, 0);
		console.log(`decoders: 5-min M4A in-process, max event-loop delay ${(h.max / 1e6).toFixed(0)} ms; over the limit refused in ${refusedIn} ms`);
		expect(h.max / 1e6).toBeLessThan(250);
	}, 60_000);

	it('a long Opus note decodes in-process without blocking the event loop, and is cut at the limit', async () => {
		const bytes = encode(['-f', 'lavfi', '-i', 'sine=f=440:r=48000', '-t', '300', '-c:a', 'libopus', '-b:a', '24k'], 'long.opus');
		const h = monitorEventLoopDelay({ resolution: 10 });
		h.enable();
		const ok = await decodeAudio(bytes, { samplingRate: 16000, decoder: 'builtIn' });
		const error = await decodeAudio(bytes, { samplingRate: 16000, decoder: 'builtIn', maxDuration: 60 }).catch((e) => e);
		h.disable();
		expect(ok.duration).toBeCloseTo(300, 0);
		expect(error).toBeInstanceOf(AudioLimitError);
		console.log(`decoders: 5-min Opus in-process, max event-loop delay ${(h.max / 1e6).toFixed(0)} ms`);
		expect(h.max / 1e6).toBeLessThan(250);
	}, 60_000);
});
