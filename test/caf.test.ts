/**
 * CAF as iPhones send voice messages: AAC, ALAC and Opus decoded in-process
 * (no ffmpeg anywhere), sample for sample what ffmpeg decodes reading the
 * same file from disk, less the encoder's priming frames that ffmpeg keeps
 * and Apple's players drop. Fixtures: scripts/fixtures/make_caf.py (Apple's
 * chunk order for AAC and Opus, ffmpeg's own for ALAC). Hostile variants of
 * each are refused with a clear error, or decoded as far as they are whole,
 * within bounds.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { decodeAudio } from '../src/audio/decode';
import { cafPackets, readCafChunks } from '../src/audio/decoders/caf';
import { AudioDecodeError, AudioLimitError } from '../src/errors';
import { resolveBuiltIn } from '../src/model/catalog';
import { sessionCache } from '../src/inference/session-cache';
import { loadModelSpec } from '../src/model/spec';
import { classifyAudio } from '../src/pipeline';
import { AUDIO, audio, describeWithFfmpeg, hideFfmpegFromPath, maxAbsDiff, systemFfmpeg } from './helpers/fixtures';

afterAll(async () => sessionCache.clear());

const FILES = [
	{ file: 'speech-44k-stereo-aac.caf', rate: 44_100, decoder: /^caf: aac \(libav\.js/, seconds: 1.2 },
	{ file: 'command-stop-aac.caf', rate: 48_000, decoder: /^caf: aac \(libav\.js/, seconds: 1 },
	{ file: 'command-stop-opus.caf', rate: 48_000, decoder: /^caf: opus \(libopus\)/, seconds: 1 },
	{ file: 'command-stop-alac.caf', rate: 16_000, decoder: /^caf: alac \(libav\.js/, seconds: 1 },
];

/** The packet table's priming and valid frames. */
function table(bytes: Buffer): { priming: number; valid?: number } {
	const p = cafPackets(bytes, readCafChunks(bytes));
	return { priming: p.priming, valid: p.valid };
}

/** A copy of `bytes` with the chunk `id`'s body passed through `edit` (same length). */
function patchChunk(bytes: Buffer, id: string, edit: (body: Buffer) => void): Buffer {
	const out = Buffer.from(bytes);
	for (let o = 8; o + 12 <= out.length; ) {
		const size = Number(out.readBigInt64BE(o + 4));
		if (out.toString('latin1', o, o + 4) === id) {
			edit(out.subarray(o + 12, o + 12 + size));
			return out;
		}
		o += 12 + size;
	}
	throw new Error(`no ${id} chunk`);
}

/** `bytes` without the chunk `id`. */
function dropChunk(bytes: Buffer, id: string): Buffer {
	for (let o = 8; o + 12 <= bytes.length; ) {
		const size = Number(bytes.readBigInt64BE(o + 4));
		if (bytes.toString('latin1', o, o + 4) === id) return Buffer.concat([bytes.subarray(0, o), bytes.subarray(o + 12 + size)]);
		o += 12 + size;
	}
	throw new Error(`no ${id} chunk`);
}

describe('CAF voice messages without ffmpeg', () => {
	hideFfmpegFromPath();

	it.each(FILES)('$file decodes in-process, trimmed to the length its packet table declares', async ({ file, rate, decoder, seconds }) => {
		const out = await decodeAudio(audio(file), { samplingRate: rate });
		expect(out.decoder).toMatch(decoder);
		expect(out.duration).toBeCloseTo(seconds, 3);
		expect(out.samples.length).toBe(Math.round(seconds * rate));
		let peak = 0;
		for (const v of out.samples) peak = Math.max(peak, Math.abs(v));
		expect(peak).toBeGreaterThan(0.05); // speech, not silence
	});

	it.each(['command-stop-aac.caf', 'command-stop-opus.caf', 'command-stop-alac.caf'])('%s: the built-in command model hears "stop"', async (file) => {
		const { dir, model } = resolveBuiltIn('speech-commands-dscnn');
		const spec = loadModelSpec(dir, 'auto', model.id);
		const r = await classifyAudio(audio(file), spec, { topK: 1, functionToApply: 'softmax', device: 'cpu', decoder: 'builtIn' });
		expect(r.labels[0].label).toBe('stop');
		expect(r.labels[0].score).toBeGreaterThan(0.9);
	});
});

describeWithFfmpeg('CAF: in-process against ffmpeg reading the same file from disk', () => {
	/** ffmpeg's mono float samples at the file's own rate, read from a file (it cannot read a CAF whose packet table follows the audio from a pipe). */
	function ffmpegFromDisk(file: string, args: string[] = []): Float32Array {
		const b = execFileSync(systemFfmpeg!, ['-v', 'error', ...args, '-i', path.join(AUDIO, file), '-ac', '1', '-f', 'f32le', 'pipe:1'], { maxBuffer: 1 << 26 });
		return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
	}

	it.each([
		['speech-44k-stereo-aac.caf', [], 1e-5],
		['command-stop-aac.caf', [], 1e-5],
		['command-stop-alac.caf', [], 1e-6],
		// libopus on both sides (ffmpeg's own Opus decoder differs from the reference one: see decoders.test.ts)
		['command-stop-opus.caf', ['-c:a', 'libopus'], 1e-4],
	] as Array<[string, string[], number]>)('%s: the same samples as ffmpeg, from the end of the priming frames', async (file, args, tolerance) => {
		const bytes = audio(file);
		const { priming, valid } = table(bytes);
		const rate = file.includes('44k') ? 44_100 : /opus|aac/.test(file) ? 48_000 : 16_000;
		const ours = (await decodeAudio(bytes, { samplingRate: rate, decoder: 'builtIn' })).samples;
		let theirs: Float32Array;
		try {
			theirs = ffmpegFromDisk(file, args);
		} catch {
			console.log(`caf: this ffmpeg cannot decode ${file} with ${args.join(' ') || 'its defaults'}; comparison skipped`);
			return;
		}
		// ffmpeg keeps the priming (and the last packet's remainder): ours is the part Apple plays.
		const expected = theirs.subarray(priming, valid === undefined ? undefined : priming + valid);
		const diff = maxAbsDiff(ours, expected);
		console.log(`caf: ${file} priming ${priming}, ${ours.length} samples, max |ours - ffmpeg| ${diff.toExponential(1)}`);
		expect(diff).toBeLessThan(tolerance);
	});

	it('the FFmpeg decoder reads a CAF whose packet table follows the audio (a temporary file, not a pipe), and leaves no file behind', async () => {
		const before = listTemp();
		const out = await decodeAudio(audio('command-stop-alac.caf'), { samplingRate: 16_000, decoder: 'ffmpeg' });
		expect(out.decoder).toMatch(/^ffmpeg/);
		expect(out.samples.length).toBe(16_000);
		expect(listTemp()).toEqual(before);
	});
});

function listTemp(): string[] {
	return readdirSync(tmpdir())
		.filter((f) => f.startsWith('n8n-audio-'))
		.sort();
}

describe('hostile CAF', () => {
	hideFfmpegFromPath();
	const aac = audio('speech-44k-stereo-aac.caf');
	const decode = (bytes: Buffer, maxDuration?: number) => decodeAudio(bytes, { samplingRate: 16_000, decoder: 'builtIn', maxDuration });

	it('a packet table that declares 2^40 packets lists only what the data holds', async () => {
		const bytes = patchChunk(aac, 'pakt', (b) => b.writeBigInt64BE(1n << 40n, 0));
		const out = await decode(bytes);
		expect(out.duration).toBeCloseTo(1.2, 3);
	});

	it('a packet size beyond the data ends the packets there (a cut-off file keeps what is whole)', async () => {
		const half = aac.subarray(0, Math.floor(aac.length * 0.6));
		const out = await decode(half);
		expect(out.duration).toBeGreaterThan(0.3);
		expect(out.duration).toBeLessThan(1.2);
	});

	it('a packet of 2 GB is refused before decoding', async () => {
		const bytes = patchChunk(aac, 'pakt', (b) => b.set([0x87, 0xff, 0xff, 0xff, 0x7f], 24));
		await expect(decode(bytes)).rejects.toThrow(/CAF file is invalid: it lists a packet of \d+ bytes/);
	});

	it('a table entry longer than 5 bytes is refused', async () => {
		const bytes = patchChunk(aac, 'pakt', (b) => b.fill(0xff, 24, 32));
		await expect(decode(bytes)).rejects.toThrow(/longer than 5 bytes/);
	});

	it('audio longer than the limit is refused from the packet table, before decoding', async () => {
		await expect(decode(aac, 0.5)).rejects.toBeInstanceOf(AudioLimitError);
	});

	it('AAC without its magic cookie, variable packets without a packet table, and a zero rate say what is missing', async () => {
		await expect(decode(dropChunk(aac, 'kuki'))).rejects.toThrow(/AAC magic cookie \(kuki chunk\) has no AudioSpecificConfig/);
		await expect(decode(dropChunk(aac, 'pakt'))).rejects.toThrow(/no packet table \(pakt chunk\)/);
		await expect(decode(patchChunk(aac, 'desc', (b) => b.writeDoubleBE(0, 0)))).rejects.toThrow(/sample rate of 0/);
		const alac = audio('command-stop-alac.caf');
		await expect(decode(dropChunk(alac, 'kuki'))).rejects.toThrow(/ALAC audio has no magic cookie/);
	});

	it('a codec with no built-in decoder names it and says what to do', async () => {
		const bytes = patchChunk(aac, 'desc', (b) => b.write('ima4', 8, 'latin1'));
		const error = await decode(bytes).catch((e: unknown) => e as AudioDecodeError);
		expect(error).toBeInstanceOf(AudioDecodeError);
		expect((error as AudioDecodeError).message).toMatch(/This CAF encoding \(ima4\) has no built-in decoder/);
		expect((error as AudioDecodeError).hint).toMatch(/Install ffmpeg where n8n runs/);
	});

	it('garbage for packets is a decode error on that item, and the next file decodes', async () => {
		const bytes = Buffer.from(aac);
		const { data } = readCafChunks(bytes);
		for (let i = data.start; i < data.end; i++) bytes[i] = (i * 7919) & 0xff;
		const outcome = await decode(bytes).then(
			(r) => `decoded ${r.samples.length}`,
			(e: Error) => e,
		);
		if (typeof outcome !== 'string') expect(outcome).toBeInstanceOf(AudioDecodeError);
		expect((await decode(aac)).duration).toBeCloseTo(1.2, 3);
	});

	it('a chunk size past the end of the file is read as far as the file goes', async () => {
		const bytes = Buffer.from(audio('command-stop-opus.caf'));
		// the data chunk comes last: say it is 1 TB
		const at = bytes.lastIndexOf(Buffer.from('data'));
		bytes.writeBigInt64BE(1n << 40n, at + 4);
		expect((await decode(bytes)).duration).toBeCloseTo(1, 3);
	});
});
