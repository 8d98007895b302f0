/**
 * ffmpeg discovery and decoding through pipes, exactly as transformers'
 * `ffmpeg_read` does it: `ffmpeg -i pipe:0 -ac 1 -ar SR -f f32le pipe:1`.
 */
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { ffmpegPathFromEnv, ffmpegTimeoutMs } from '../config';
import { AudioDecodeError, CancelledError, FfmpegNotAllowedError, FfmpegNotFoundError } from '../errors';

export interface FfmpegLocation {
	path: string;
	/** Where it was found: 'FFMPEG_PATH', 'ffmpeg-static', 'PATH' or 'option (<one of those>)'. */
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

function sameFile(a: string, b: string): boolean {
	try {
		return realpathSync(a) === realpathSync(b);
	} catch {
		return false;
	}
}

/**
 * Finds ffmpeg where the instance put it: FFMPEG_PATH (an environment
 * variable, set by whoever runs n8n), the ffmpeg-static package, then PATH.
 * Workflows cannot point the node at another executable: the saved "FFmpeg
 * Path" option is still accepted, but only when it names one of those same
 * binaries (e.g. /usr/bin/ffmpeg on PATH); anything else is refused without
 * running it, so a workflow cannot run arbitrary programs where n8n has
 * Execute Command disabled.
 */
export function locateFfmpeg(optionPath?: string): FfmpegLocation {
	const tried: string[] = [];
	const allowed: FfmpegLocation[] = [];
	const env = ffmpegPathFromEnv();
	if (env) {
		if (isExecutable(env)) allowed.push({ path: env, source: 'FFMPEG_PATH' });
		else tried.push(`FFMPEG_PATH (${env}: not an executable file)`);
	} else {
		tried.push('FFMPEG_PATH (not set)');
	}
	const bundled = fromFfmpegStatic();
	if (bundled) allowed.push({ path: bundled, source: 'ffmpeg-static' });
	else tried.push('the ffmpeg-static package (not installed or its binary was not downloaded)');
	const onPath = fromPathVariable();
	if (onPath) allowed.push({ path: onPath, source: 'PATH' });
	else tried.push('"ffmpeg" on PATH (not found)');
	if (optionPath) {
		const match = allowed.find((a) => sameFile(a.path, optionPath));
		if (!match) throw new FfmpegNotAllowedError();
		return { path: match.path, source: `option (${match.source})` };
	}
	if (allowed.length) return allowed[0];
	throw new FfmpegNotFoundError(tried);
}

export interface FfmpegDecodeOptions {
	samplingRate: number;
	ffmpegPath: string;
	timeoutMs?: number;
	signal?: AbortSignal;
	/** Most float32 samples to accept; more is an error, raised while ffmpeg runs. */
	maxSamples?: number;
	/** The error for output beyond maxSamples. */
	tooLong?: () => Error;
	/** The container needs seeking (MP4 with its index at the end): decode from a temp file. */
	needsSeek?: boolean;
	/** Read from a temp file in this format from the start (CAF: ffmpeg cannot read its packet table from a pipe when it comes after the audio). */
	seekable?: 'caf';
	/** Streaming: float32 samples handed on as ffmpeg writes them (ffmpeg waits meanwhile), not kept. */
	onSamples?: (samples: Float32Array) => Promise<void>;
}

const STDERR_TAIL = 1500;

interface RunResult {
	code: number | null;
	stdout: Buffer;
	/** Bytes ffmpeg wrote (also when they were streamed on rather than kept). */
	bytes: number;
	stderr: string;
}

function run(ffmpeg: string, args: string[], input: Buffer | undefined, opts: FfmpegDecodeOptions) {
	return new Promise<RunResult>((resolve, reject) => {
		// Loaded when ffmpeg first runs: most installs never start it, and it costs startup time.
		const { spawn } = require('node:child_process') as typeof import('node:child_process');
		const child = spawn(ffmpeg, args, { stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
		const chunks: Buffer[] = [];
		let received = 0;
		const maxBytes = opts.maxSamples === undefined ? Infinity : opts.maxSamples * 4;
		let stderr = '';
		let failure: Error | undefined;
		let exited = false;
		const timeoutMs = opts.timeoutMs ?? ffmpegTimeoutMs();
		// Stopping ffmpeg early: kill it, and settle only once it has exited,
		// so no process outlives the item.
		const stop = (error: Error) => {
			if (failure || exited) return;
			failure = error;
			chunks.length = 0;
			child.kill('SIGKILL');
		};
		const timer = setTimeout(
			() =>
				stop(
					new AudioDecodeError(
						`ffmpeg did not finish decoding within ${Math.round(timeoutMs / 1000)} s`,
						'The file may be very long or malformed; trim it or convert it to WAV first.',
					),
				),
			timeoutMs,
		);
		const onAbort = () => stop(new CancelledError());
		opts.signal?.addEventListener('abort', onAbort, { once: true });
		if (opts.signal?.aborted) onAbort();
		let carry = Buffer.alloc(0); // bytes of a sample split across two chunks
		child.stdout.on('data', (c: Buffer) => {
			if (failure) return;
			received += c.length;
			if (received > maxBytes) {
				stop(opts.tooLong?.() ?? new AudioDecodeError('The decoded audio is too long', 'Trim the recording.'));
				return;
			}
			if (!opts.onSamples) {
				chunks.push(c);
				return;
			}
			const bytes = carry.length ? Buffer.concat([carry, c]) : c;
			const whole = bytes.length - (bytes.length % 4);
			carry = Buffer.from(bytes.subarray(whole));
			child.stdout.pause(); // backpressure: ffmpeg waits while the samples are used
			opts.onSamples(toFloat32(bytes.subarray(0, whole))).then(
				() => child.stdout.resume(),
				(error: Error) => stop(error),
			);
		});
		child.stderr.on('data', (c: Buffer) => {
			stderr = (stderr + c.toString('utf8')).slice(-STDERR_TAIL);
		});
		const done = () => {
			clearTimeout(timer);
			opts.signal?.removeEventListener('abort', onAbort);
		};
		child.on('error', (error) => {
			exited = true;
			done();
			reject(
				failure ??
					new AudioDecodeError(
						`ffmpeg could not be started: ${error.message}`,
						'Check that the instance\'s ffmpeg (FFMPEG_PATH or ffmpeg on PATH) is a working binary for this system.',
					),
			);
		});
		child.on('close', (code) => {
			if (exited) return;
			exited = true;
			done();
			if (failure) reject(failure);
			else resolve({ code, stdout: Buffer.concat(chunks), bytes: received, stderr });
		});
		// ffmpeg may stop reading early (unknown format): ignore the broken pipe,
		// the exit code and stderr tell the story.
		child.stdin.on('error', () => undefined);
		child.stdin.end(input);
	});
}

function toFloat32(buffer: Buffer): Float32Array {
	const samples = Math.floor(buffer.length / 4);
	const aligned = new Float32Array(samples);
	new Uint8Array(aligned.buffer).set(buffer.subarray(0, samples * 4)); // f32le on a little-endian host
	return aligned;
}

// MP4/MOV files whose index (moov atom) comes after the audio cannot be read
// from a pipe; ffmpeg needs to seek. Only those fall back to a private temp
// file, deleted before we return; CAF always goes through one (its packet
// table may follow the audio, as ffmpeg itself writes it). The demuxer is
// named, so the file is never taken for a playlist.
const NEEDS_SEEK = /moov atom not found|partial file|could not find corresponding trex|stream 0, offset/i;

export async function decodeWithFfmpeg(input: Buffer, opts: FfmpegDecodeOptions): Promise<Float32Array> {
	const quiet = ['-hide_banner', '-loglevel', 'error', '-nostats'];
	const output = ['-ac', '1', '-ar', String(opts.samplingRate), '-f', 'f32le', 'pipe:1'];
	// Only the pipe (or, for MP4, the one temp file) may be opened: a playlist
	// (HLS, concat) uploaded as "audio" cannot make ffmpeg read local files
	// or fetch URLs.
	let result: RunResult | undefined;
	if (!opts.needsSeek && !opts.seekable) {
		result = await run(opts.ffmpegPath, [...quiet, '-protocol_whitelist', 'pipe', '-i', 'pipe:0', ...output], input, opts);
	}
	// ffmpeg exits 0 with no output for some MP4s it cannot seek in on a pipe.
	const pipeFailed = (r: RunResult) => (r.code !== 0 && NEEDS_SEEK.test(r.stderr)) || (r.code === 0 && r.bytes === 0);
	const isMp4 = opts.needsSeek !== undefined;
	if (!result || (isMp4 && pipeFailed(result))) {
		const { mkdtemp, rm, writeFile } = require('node:fs/promises') as typeof import('node:fs/promises');
		const dir = await mkdtemp(path.join(tmpdir(), 'n8n-audio-'));
		try {
			const format = opts.seekable ?? 'mov';
			const file = path.join(dir, format === 'caf' ? 'input.caf' : 'input.mp4');
			await writeFile(file, input, { mode: 0o600 });
			result = await run(opts.ffmpegPath, [...quiet, '-protocol_whitelist', 'file', '-f', format, '-i', file, ...output], undefined, opts);
			result.stderr = result.stderr.split(file).join('input');
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
