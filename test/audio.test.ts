import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { decodeAudio } from '../src/audio/decode';
import { locateFfmpeg } from '../src/audio/ffmpeg';
import { resample } from '../src/audio/resample';
import { decodeWav, downmixToMono, interleavedMonoSource, readWavInfo, wavMonoSource } from '../src/audio/wav';
import { AudioDecodeError, FfmpegNotAllowedError, FfmpegNotFoundError } from '../src/errors';
import { audio, describeWithFfmpeg, ffmpegReference, hideFfmpegFromPath, maxAbsDiff, systemFfmpeg } from './helpers/fixtures';

/** The start of a WMA/ASF file: a format only ffmpeg reads here. */
const ASF_HEADER = Buffer.concat([Buffer.from('3026b2758e66cf11a6d900aa0062ce6c', 'hex'), Buffer.alloc(256)]);

function snrDb(ref: Float32Array, test: Float32Array): number {
	const n = Math.min(ref.length, test.length);
	let sig = 0;
	let err = 0;
	for (let i = 0; i < n; i++) {
		sig += ref[i] * ref[i];
		err += (ref[i] - test[i]) ** 2;
	}
	return 10 * Math.log10(sig / err);
}

describe('in-process WAV decoding (no ffmpeg)', () => {
	const withoutFfmpeg = { samplingRate: 16000 };
	hideFfmpegFromPath();

	it.each([
		// the buffer at an odd byte offset (1: the per-sample reader) or not (0: the typed view)
		['speech-16k-mono-s16.wav', 1],
		['speech-44k-stereo-s16.wav', 1],
		['speech-48k-stereo-f32.wav', 0],
		['speech-16k-mono-s16.wav', 0],
	])('%s (odd offset: %s): the fast 16-bit / float path reads exactly what the per-sample reader reads', (file, pad) => {
		const bytes = audio(file);
		const shifted = Buffer.alloc(bytes.length + 3).subarray(pad ? 3 : 0, (pad ? 3 : 0) + bytes.length);
		bytes.copy(shifted);
		const info = readWavInfo(shifted);
		const fast = wavMonoSource(shifted, info);
		const bits = info.bitsPerSample;
		const slow = interleavedMonoSource(shifted, info, bits === 16 ? (b, o) => b.readInt16LE(o) / 32768 : (b, o) => b.readFloatLE(o));
		// blocks that start before the data and run past its end, as the resampler asks for them
		for (const [start, length] of [[-100, 1000], [0, 4096], [777, 3001], [info.frames - 500, 1000], [info.frames + 10, 16]]) {
			const a = new Float32Array(length).fill(NaN);
			const b = new Float32Array(length).fill(NaN);
			fast.read(start, a);
			slow.read(start, b);
			expect(Array.from(a)).toEqual(Array.from(b));
		}
	});

	it.each([
		'speech-16k-mono-s16.wav',
		'speech-44k-stereo-s16.wav',
		'speech-48k-stereo-f32.wav',
		'speech-22k-mono-s24.wav',
		'speech-8k-mono-mulaw.wav',
		'speech-8k-mono-alaw.wav',
	])('decodes %s to 16 kHz mono without ffmpeg', async (file) => {
		const out = await decodeAudio(audio(file), withoutFfmpeg);
		expect(out.decoder).toBe('wav');
		expect(out.duration).toBeGreaterThan(file.includes('48k') ? 0.55 : 1.15);
		expect(out.duration).toBeLessThan(1.25);
	});

	it('reports a missing ffmpeg with every place it looked', async () => {
		const error = await decodeAudio(ASF_HEADER, withoutFfmpeg).catch((e: unknown) => e); // WMA/ASF: no built-in decoder
		expect(error).toBeInstanceOf(FfmpegNotFoundError);
		const msg = `${(error as FfmpegNotFoundError).message} ${(error as FfmpegNotFoundError).hint}`;
		expect(msg).toMatch(/FFMPEG_PATH/);
		expect(msg).toMatch(/ffmpeg-static/);
		expect(msg).toMatch(/PATH/);
		expect(msg).toMatch(/WAV, MP3, FLAC, Ogg .* are decoded without ffmpeg/);
	});

	it('rejects empty input and truncated WAV headers with a clear error', async () => {
		await expect(decodeAudio(Buffer.alloc(0), withoutFfmpeg)).rejects.toThrow(/empty \(0 bytes\)/);
		const wav = audio('speech-16k-mono-s16.wav');
		await expect(decodeAudio(wav.subarray(0, 20), withoutFfmpeg)).rejects.toThrow(AudioDecodeError);
		const badAlign = Buffer.from(wav);
		badAlign.writeUInt16LE(1, 32); // block align 1 < 2 bytes per frame
		await expect(decodeAudio(badAlign, withoutFfmpeg)).rejects.toThrow(/block size/);
		const badRate = Buffer.from(wav);
		badRate.writeUInt32LE(4_000_000_000, 24);
		await expect(decodeAudio(badRate, withoutFfmpeg)).rejects.toThrow(/sample rate of 4000000000 Hz/);
		// header intact, data cut short: decodes what is there
		const cut = await decodeAudio(wav.subarray(0, 44 + 16000), withoutFfmpeg);
		expect(cut.samples.length).toBe(8000);
	});
});

describeWithFfmpeg('WAV decoding equals ffmpeg (what the Python pipeline uses)', () => {
	it.each([
		['speech-16k-mono-s16.wav', 16000],
		['speech-44k-stereo-s16.wav', 44100],
		['speech-48k-stereo-f32.wav', 48000],
		['speech-22k-mono-s24.wav', 22050],
		['speech-8k-mono-mulaw.wav', 8000],
		['speech-8k-mono-alaw.wav', 8000],
	])('%s at its own rate: samples and stereo down-mix identical (1e-6)', (file, rate) => {
		const ours = downmixToMono(decodeWav(audio(file)).channels);
		expect(maxAbsDiff(ours, ffmpegReference(file, rate))).toBeLessThan(1e-6);
	});

	it.each(['speech-44k-stereo-s16.wav', 'speech-48k-stereo-f32.wav', 'speech-22k-mono-s24.wav', 'speech-8k-mono-mulaw.wav'])(
		'%s resampled to 16 kHz stays within 40 dB SNR of ffmpeg',
		(file) => {
			const wav = decodeWav(audio(file));
			const ours = resample(downmixToMono(wav.channels), wav.sampleRate, 16000);
			const ref = ffmpegReference(file, 16000);
			expect(Math.abs(ours.length - ref.length)).toBeLessThanOrEqual(2);
			expect(snrDb(ref, ours)).toBeGreaterThan(40);
		},
	);
});

describeWithFfmpeg('ffmpeg decoding through pipes', () => {
	it.each([
		'speech-44k-stereo.mp3',
		'speech-44k-stereo.flac',
		'speech-44k-stereo.ogg',
		'speech-48k-mono.opus',
		'speech-44k-stereo-faststart.m4a',
		'speech-44k-stereo.m4a',
		'speech-48k-stereo.webm',
		'speech-video.mp4',
		'speech-video.mov',
	])('decodes %s exactly as `ffmpeg -ac 1 -ar 16000 -f f32le` does', async (file) => {
		const out = await decodeAudio(audio(file), { samplingRate: 16000, ffmpegPath: systemFfmpeg, decoder: 'ffmpeg' });
		expect(out.decoder).toBe('ffmpeg (option (PATH))');
		expect(maxAbsDiff(out.samples, ffmpegReference(file, 16000))).toBe(0);
	});

	it('leaves no temp files behind, even for MP4s that need seeking', async () => {
		const before = readdirSync(tmpdir()).filter((f) => f.startsWith('n8n-audio-'));
		await decodeAudio(audio('speech-44k-stereo.m4a'), { samplingRate: 16000, ffmpegPath: systemFfmpeg, decoder: 'ffmpeg' });
		const after = readdirSync(tmpdir()).filter((f) => f.startsWith('n8n-audio-'));
		expect(after).toEqual(before);
	});

	it.each([
		['not-audio.mp3', /ffmpeg could not decode the audio: .*(Invalid data|could not find)/i],
		['truncated.m4a', /ffmpeg could not decode the audio: .*moov atom not found/i],
	])('%s fails with the tail of ffmpeg\'s message', async (file, pattern) => {
		const error = await decodeAudio(audio(file), { samplingRate: 16000, ffmpegPath: systemFfmpeg }).catch((e) => e);
		expect(error).toBeInstanceOf(AudioDecodeError);
		expect((error as Error).message).toMatch(pattern);
		expect((error as AudioDecodeError).hint).toBeTruthy();
	});

	it('finds ffmpeg where the instance put it: FFMPEG_PATH, ffmpeg-static, PATH', () => {
		const saved = { ...process.env };
		try {
			// A saved "FFmpeg Path" still works when it names the instance's own ffmpeg...
			expect(locateFfmpeg(systemFfmpeg)).toEqual({ path: systemFfmpeg, source: 'option (PATH)' });
			process.env.FFMPEG_PATH = systemFfmpeg;
			expect(locateFfmpeg().source).toBe('FFMPEG_PATH');
			delete process.env.FFMPEG_PATH;
			const found = locateFfmpeg();
			// ffmpeg-static's binary is only there when its install script ran.
			expect(['ffmpeg-static', 'PATH']).toContain(found.source);
			expect(existsSync(found.path)).toBe(true);
		} finally {
			process.env = saved;
		}
	});

	it('refuses a workflow-chosen program as ffmpeg, without running it', async () => {
		// ...but cannot make the node run another executable (Execute Command is off by default in n8n 2.x).
		const marker = path.join(tmpdir(), `ffmpeg-ran-${process.pid}`);
		const fake = path.join(tmpdir(), `fake-ffmpeg-${process.pid}.sh`);
		writeFileSync(fake, `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
		try {
			for (const option of [fake, '/bin/sh', '/nonexistent/ffmpeg']) {
				const error = await decodeAudio(ASF_HEADER, { samplingRate: 16000, ffmpegPath: option }).catch((e) => e);
				expect(error).toBeInstanceOf(FfmpegNotAllowedError);
				expect(`${error.message} ${error.hint}`).not.toContain(option); // and says nothing about the path
				expect(error.hint).toMatch(/FFMPEG_PATH/);
			}
			expect(existsSync(marker)).toBe(false);
		} finally {
			rmSync(fake, { force: true });
		}
	});
});
