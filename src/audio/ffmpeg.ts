/**
 * ffmpeg discovery and decoding through pipes, exactly as transformers'
 * `ffmpeg_read` does it: `ffmpeg -i pipe:0 -ac 1 -ar SR -f f32le pipe:1`.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { AudioDecodeError, FfmpegNotFoundError } from '../errors';

export interface FfmpegLocation {
	path: string;
	/** Where it was found: 'option', 'FFMPEG_PATH', 'ffmpeg-static' or 'PATH'. */
	source: string;
}

function isExecutable(file: string): boolean {
	try {
		accessSync(file, constants.X_OK);
		return statSync(file).isFile();
	} catch {
		return false;
	}
}

function fromPathVariable(): string | undefined {
	const exe = process.platform === 'win32' ? 'ffmpeg.exe' : 'ffmpeg';
	for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
		if (dir && isExecutable(path.join(dir, exe))) return path.join(dir, exe);
	}
	return undefined;
}

function fromFfmpegStatic(): string | undefined {
	try {
		// Optional dependency: absent when installed with --ignore-scripts or
		// without optionalDependencies (n8n's community-package installer).
		const found = require('ffmpeg-static') as string | null;
		return found && isExecutable(found) ? found : undefined;
	} catch {
		return undefined;
	}
}

/**
 * Finds ffmpeg in the documented order: node option, FFMPEG_PATH,
 * the ffmpeg-static package, PATH. Throws with the list of places tried.
 */
export function locateFfmpeg(optionPath?: string): FfmpegLocation {
	const tried: string[] = [];
	if (optionPath) {
		if (isExecutable(optionPath)) return { path: optionPath, source: 'option' };
		tried.push(`node option "FFmpeg Path" (${optionPath}: not an executable file)`);
	} else {
		tried.push('node option "FFmpeg Path" (empty)');
	}
	const env = process.env.FFMPEG_PATH;
	if (env) {
		if (isExecutable(env)) return { path: env, source: 'FFMPEG_PATH' };
		tried.push(`FFMPEG_PATH (${env}: not an executable file)`);
	} else {
		tried.push('FFMPEG_PATH (not set)');
	}
	const bundled = fromFfmpegStatic();
	if (bundled) return { path: bundled, source: 'ffmpeg-static' };
	tried.push('the ffmpeg-static package (not installed or its binary was not downloaded)');
	const onPath = fromPathVariable();
	if (onPath) return { path: onPath, source: 'PATH' };
	tried.push('"ffmpeg" on PATH (not found)');
	throw new FfmpegNotFoundError(tried);
}

export interface FfmpegDecodeOptions {
	samplingRate: number;
	ffmpegPath: string;
	timeoutMs?: number;
	signal?: AbortSignal;
}

const STDERR_TAIL = 1500;

interface RunResult {
	code: number | null;
	stdout: Buffer;
	stderr: string;
}

function run(ffmpeg: string, args: string[], input: Buffer | undefined, opts: FfmpegDecodeOptions) {
	return new Promise<RunResult>((resolve, reject) => {
		const child = spawn(ffmpeg, args, { stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
		const chunks: Buffer[] = [];
		let stderr = '';
		let settled = false;
		const finish = (fn: () => void) => {
			if (settled) return;
			settled = true;
			clearTimeout(timer);
			opts.signal?.removeEventListener('abort', onAbort);
			fn();
		};
		const timeoutMs = opts.timeoutMs ?? 120_000;
		const timer = setTimeout(() => {
			child.kill('SIGKILL');
			finish(() =>
				reject(
					new AudioDecodeError(
						`ffmpeg did not finish decoding within ${Math.round(timeoutMs / 1000)} s`,
						'The file may be very long or malformed; trim it or convert it to WAV first.',
					),
				),
			);
		}, timeoutMs);
		const onAbort = () => {
			child.kill('SIGKILL');
			finish(() => reject(new AudioDecodeError('Decoding was cancelled', 'The execution was stopped.')));
		};
		opts.signal?.addEventListener('abort', onAbort, { once: true });
		child.stdout.on('data', (c: Buffer) => chunks.push(c));
		child.stderr.on('data', (c: Buffer) => {
			stderr = (stderr + c.toString('utf8')).slice(-STDERR_TAIL);
		});
		child.on('error', (error) =>
			finish(() =>
				reject(
					new AudioDecodeError(
						`ffmpeg could not be started (${ffmpeg}): ${error.message}`,
						'Check that the ffmpeg path points to a working ffmpeg binary for this system.',
					),
				),
			),
		);
		child.on('close', (code) => finish(() => resolve({ code, stdout: Buffer.concat(chunks), stderr })));
		// ffmpeg may stop reading early (unknown format): ignore the broken pipe,
		// the exit code and stderr tell the story.
		child.stdin.on('error', () => undefined);
		child.stdin.end(input);
	});
}

function toFloat32(buffer: Buffer): Float32Array {
	const samples = Math.floor(buffer.length / 4);
	const aligned = new Float32Array(samples);
	for (let i = 0; i < samples; i++) aligned[i] = buffer.readFloatLE(i * 4);
	return aligned;
}

// MP4/MOV files whose index (moov atom) comes after the audio cannot be read
// from a pipe; ffmpeg needs to seek. Only those fall back to a private temp
// file, deleted before we return.
const NEEDS_SEEK = /moov atom not found|partial file|could not find corresponding trex|stream 0, offset/i;

export async function decodeWithFfmpeg(input: Buffer, opts: FfmpegDecodeOptions): Promise<Float32Array> {
	const quiet = ['-hide_banner', '-loglevel', 'error', '-nostats'];
	const output = ['-ac', '1', '-ar', String(opts.samplingRate), '-f', 'f32le', 'pipe:1'];
	let result = await run(opts.ffmpegPath, [...quiet, '-i', 'pipe:0', ...output], input, opts);
	if (result.code !== 0 && NEEDS_SEEK.test(result.stderr)) {
		const dir = await mkdtemp(path.join(tmpdir(), 'n8n-audio-'));
		try {
			const file = path.join(dir, 'input');
			await writeFile(file, input, { mode: 0o600 });
			result = await run(opts.ffmpegPath, [...quiet, '-i', file, ...output], undefined, opts);
		} finally {
			await rm(dir, { recursive: true, force: true });
		}
	}
	if (result.code !== 0) {
		const tail = result.stderr.trim().split('\n').slice(-3).join(' | ');
		throw new AudioDecodeError(
			`ffmpeg could not decode the audio: ${tail || `exit code ${result.code}`}`,
			'Check that the binary property holds an audio or video file (not JSON, HTML or an error page) and that it is complete.',
		);
	}
	return toFloat32(result.stdout);
}
