import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const FIXTURES = path.join(__dirname, '..', 'fixtures');
export const AUDIO = path.join(FIXTURES, 'audio');
export const MODELS = path.join(FIXTURES, 'models');
export const REFERENCE = path.join(FIXTURES, 'reference');

export function audio(name: string): Buffer {
	return readFileSync(path.join(AUDIO, name));
}

export function readF32(name: string): Float32Array {
	const b = readFileSync(path.join(REFERENCE, name));
	return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

export interface Expected {
	features: Record<string, {
		samples: number;
		ast: { frames: number; shape: number[]; padValue: number };
		whisper: { shape: number[]; storedFrames: number; tailValue: number; max: number; min: number };
	}>;
	scores: Record<string, Record<string, number[]>>;
	labels: { emotions: string[]; events: string[]; langs: string[] };
}

export const expected = JSON.parse(readFileSync(path.join(REFERENCE, 'expected.json'), 'utf8')) as Expected;

/** ffmpeg from PATH, used as the independent reference decoder in tests. */
export const systemFfmpeg = (() => {
	for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
		const candidate = path.join(dir, 'ffmpeg');
		if (dir && existsSync(candidate)) return candidate;
	}
	return undefined;
})();

export function ffmpegReference(file: string, rate: number, extra: string[] = []): Float32Array {
	// Piped like transformers' ffmpeg_read (mp3 gapless trimming differs from file input).
	const out = execFileSync(
		systemFfmpeg!,
		['-v', 'error', '-i', 'pipe:0', ...extra, '-ac', '1', '-ar', String(rate), '-f', 'f32le', 'pipe:1'],
		{ input: readFileSync(path.join(AUDIO, file)), maxBuffer: 1 << 28 },
	);
	return new Float32Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.length));
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
	expect(a.length).toBe(b.length);
	let m = 0;
	for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
	return m;
}

/** describe() that is skipped, with the reason printed, when ffmpeg is absent. */
export const describeWithFfmpeg = systemFfmpeg
	? describe
	: (name: string, fn: () => void) => {
			console.warn(`SKIPPED "${name}": no ffmpeg on PATH (apt-get install ffmpeg)`);
			describe.skip(name, fn);
		};

/** For the enclosing describe: no ffmpeg on PATH (the built-in decoders must do without). */
export function hideFfmpegFromPath(): void {
	let savedPath: string | undefined;
	beforeAll(() => {
		savedPath = process.env.PATH;
		process.env.PATH = '/nonexistent';
	});
	afterAll(() => {
		process.env.PATH = savedPath;
	});
}
