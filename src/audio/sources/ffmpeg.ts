/**
 * A live source through ffmpeg: RTSP cameras, RTMP, SRT, and HTTP(S)
 * streams or HLS playlists in formats the built-in decoders do not read.
 * ffmpeg decodes to a streamed float WAV (mono, the model's rate) on its
 * stdout, so the rest of the chain (live WAV decoder, detector) is the one
 * every source uses. One connection per call; live.ts reconnects.
 *
 * Only what the URL says: the scheme must be a network protocol, and ffmpeg
 * gets a protocol whitelist of that protocol's transports, so a playlist or
 * an RTSP answer cannot make it open a local file, `concat:`, `subfile:` or
 * another scheme. Local capture devices (ALSA, PulseAudio, AVFoundation,
 * DirectShow) only when the instance enables them
 * (N8N_AUDIO_CLASSIFICATION_CAPTURE_DEVICES=true). The process is killed when
 * the connection is given up or stopped; credentials never appear in errors.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';

import { captureDevicesAllowed } from '../../config';
import { locateFfmpeg } from '../ffmpeg';
import { displayUrl } from './http';
import { SourceError } from './types';

/** Per URL scheme, the protocols ffmpeg may open for it (its transports), never `file`. */
const WHITELIST: Record<string, string> = {
	rtsp: 'rtsp,rtp,srtp,udp,tcp',
	rtsps: 'rtsps,rtsp,rtp,srtp,udp,tcp,tls',
	rtmp: 'rtmp,tcp',
	rtmps: 'rtmps,rtmp,tcp,tls',
	rtmpt: 'rtmpt,ffrtmphttp,http,tcp',
	rtmpts: 'rtmpts,rtmpt,ffrtmphttp,https,http,tcp,tls',
	srt: 'srt',
	// HLS over HTTP(S) reads segments (and AES-128 keys) through these, never file:.
	http: 'http,https,tcp,tls,crypto,hls',
	https: 'http,https,tcp,tls,crypto,hls',
};

/** Local capture: ffmpeg input formats for audio devices. */
const DEVICE_FORMATS = ['alsa', 'pulse', 'avfoundation', 'dshow'];

export interface FfmpegTarget {
	/** ffmpeg's input arguments (before the output arguments). */
	input: string[];
	/** How the source may be shown. */
	display: string;
	/** Secrets to scrub from ffmpeg's messages (password, header values, query values). */
	secrets: string[];
	/** The address ffmpeg is given (credentials included), replaced by `display` in its messages. */
	address?: string;
}

/**
 * Checks a URL for the ffmpeg source and builds ffmpeg's input arguments: a network URL with its
 * protocol whitelist, or a capture device (`alsa:default`, `pulse:default`, ...) when allowed.
 */
export function ffmpegTarget(url: string, headers: Record<string, string> = {}): FfmpegTarget {
	const trimmed = url.trim();
	const device = /^([a-z]+):(?!\/\/)(.*)$/i.exec(trimmed);
	if (device && DEVICE_FORMATS.includes(device[1].toLowerCase())) {
		if (!captureDevicesAllowed()) {
			throw new SourceError(
				`Capture devices (${device[1]}:) are not enabled on this n8n instance`,
				'Listening to a local microphone is an instance setting: the n8n administrator can set N8N_AUDIO_CLASSIFICATION_CAPTURE_DEVICES=true. Otherwise use a network stream (rtsp://, rtmp://, srt://, http(s)://).',
				false,
				{ kind: 'captureNotAllowed' },
			);
		}
		const name = device[2] || 'default';
		return { input: ['-f', device[1].toLowerCase(), '-i', name], display: `${device[1].toLowerCase()}:${name}`, secrets: [] };
	}
	let u: URL;
	try {
		u = new URL(trimmed);
	} catch {
		throw new SourceError('The stream URL is not a valid URL', 'Enter the full address, e.g. rtsp://camera.local:554/stream1.', false);
	}
	const scheme = u.protocol.replace(/:$/, '').toLowerCase();
	const whitelist = WHITELIST[scheme];
	if (!whitelist) {
		throw new SourceError(
			`The FFmpeg source does not open ${scheme}: addresses`,
			`Use a network stream: ${Object.keys(WHITELIST).map((s) => `${s}://`).join(', ')}. Local files, concat:, subfile: and other ffmpeg protocols are refused.`,
			false,
			{ kind: 'protocolNotAllowed', scheme },
		);
	}
	const auth = Object.entries(headers);
	if (auth.length && scheme !== 'http' && scheme !== 'https') {
		// RTSP and RTMP take a user and password in the address: n8n's Basic Auth credential goes there.
		const basic = /^basic\s+(.+)$/i.exec(headers.authorization ?? '');
		if (auth.length > 1 || !basic || !/^(rtsps?|rtmps?|rtmpts?)$/.test(scheme)) {
			throw new SourceError(`${scheme}:// streams take no Header Auth`, 'Use Basic Auth (RTSP and RTMP: user and password), or put the stream\'s own key in its address.', false, { kind: 'authNotSupported' });
		}
		const [user, ...rest] = Buffer.from(basic[1], 'base64').toString('utf8').split(':');
		u.username = encodeURIComponent(user);
		u.password = encodeURIComponent(rest.join(':'));
	}
	const secrets = [decodeURIComponent(u.password), u.password, ...[...u.searchParams.values()], ...Object.values(headers)].filter((s) => s.length >= 3);
	const input = ['-protocol_whitelist', whitelist];
	if (scheme === 'rtsp' || scheme === 'rtsps') input.push('-rtsp_transport', 'tcp');
	if (scheme === 'http' || scheme === 'https') {
		// Only the HLS demuxer may follow a playlist; other playlist kinds are not read.
		const lines = auth.map(([k, v]) => `${k}: ${v}\r\n`);
		if (lines.length) input.push('-headers', lines.join(''));
	}
	const address = auth.length && scheme !== 'http' && scheme !== 'https' ? u.toString() : trimmed;
	input.push('-i', address);
	return { input, display: displayUrl(trimmed), secrets, address };
}

export interface FfmpegSourceOptions {
	url: string;
	headers?: Record<string, string>;
	/** The rate ffmpeg decodes to (the model's). */
	samplingRate: number;
	stallMs: number;
	signal: AbortSignal;
}

export interface FfmpegConnection {
	url: string;
	contentType: string;
	chunks: AsyncGenerator<Uint8Array, void, void>;
}

/** Extra time for ffmpeg's first bytes: it reads up to 5 s of a stream to find its audio before writing any. */
const FIRST_BYTES_EXTRA_MS = 10_000;

/** ffmpeg's messages that retrying cannot fix. */
const FATAL = /401 Unauthorized|403 Forbidden|404 Not Found|410 Gone|not on whitelist|Protocol not found|Invalid data found when processing input|does not contain any stream|Output file #0 does not contain any stream|matches no streams/i;

/** Opens one ffmpeg connection; throws SourceError when ffmpeg is missing or gives up before any audio. */
export async function openFfmpeg(o: FfmpegSourceOptions): Promise<FfmpegConnection> {
	const target = ffmpegTarget(o.url, o.headers);
	let ffmpeg: string;
	try {
		ffmpeg = locateFfmpeg().path;
	} catch (e) {
		throw new SourceError('The FFmpeg source needs ffmpeg, and no ffmpeg was found', `${(e as { hint?: string }).hint ?? ''} Or use the HTTP(S) stream source, which needs no ffmpeg (MP3, AAC, Ogg, FLAC, WAV).`, false, { kind: 'ffmpegMissing' });
	}
	const args = ['-nostdin', '-hide_banner', '-loglevel', 'error', '-nostats', ...target.input, '-vn', '-ac', '1', '-ar', String(o.samplingRate), '-c:a', 'pcm_f32le', '-f', 'wav', 'pipe:1'];
	const { spawn } = require('node:child_process') as typeof import('node:child_process');
	const child: ChildProcessWithoutNullStreams = spawn(ffmpeg, args, { stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
	child.stdin.end();
	return { url: target.display, contentType: 'audio/wav', chunks: childChunks(child, target, o) };
}

function scrub(text: string, target: FfmpegTarget, url: string): string {
	let out = text;
	for (const a of [target.address, url.trim()]) if (a) out = out.split(a).join(target.display);
	for (const s of target.secrets) out = out.split(s).join('***');
	return out;
}

async function* childChunks(child: ChildProcessWithoutNullStreams, target: FfmpegTarget, o: FfmpegSourceOptions): AsyncGenerator<Uint8Array, void, void> {
	let stderr = '';
	let exit: { code: number | null; signal: string | null } | undefined;
	let spawnError: Error | undefined;
	const queue: Buffer[] = [];
	let wake: (() => void) | undefined;
	const poke = () => {
		wake?.();
		wake = undefined;
	};
	child.stdout.on('data', (c: Buffer) => {
		queue.push(c);
		// Backpressure: ffmpeg waits while a chunk is being used (a few chunks at most are queued).
		if (queue.length > 4) child.stdout.pause();
		poke();
	});
	child.stderr.on('data', (c: Buffer) => {
		stderr = (stderr + c.toString('utf8')).slice(-2000);
	});
	child.on('error', (e) => {
		spawnError = e;
		poke();
	});
	child.on('close', (code, signal) => {
		exit = { code, signal };
		poke();
	});
	const kill = () => {
		if (exit || child.exitCode !== null || child.signalCode !== null) return;
		child.kill('SIGKILL');
	};
	o.signal.addEventListener('abort', kill, { once: true });
	let stalled = false;
	// Before its first bytes ffmpeg probes the stream (up to 5 s of it by default, in real time): more time for those.
	let timer = setTimeout(stall, o.stallMs + FIRST_BYTES_EXTRA_MS);
	function stall() {
		stalled = true;
		kill();
	}
	let delivered = 0;
	try {
		for (;;) {
			if (queue.length) {
				const c = queue.shift()!;
				if (queue.length <= 1) child.stdout.resume();
				clearTimeout(timer);
				timer = setTimeout(stall, o.stallMs);
				delivered += c.length;
				yield new Uint8Array(c.buffer, c.byteOffset, c.length);
				continue;
			}
			if (spawnError) throw new SourceError(`ffmpeg could not be started (${spawnError.message})`, 'Check that the instance\'s ffmpeg (FFMPEG_PATH or ffmpeg on PATH) is a working binary for this system.', false, { kind: 'ffmpegMissing' });
			if (exit) break;
			await new Promise<void>((resolve) => (wake = resolve));
		}
		if (o.signal.aborted) return;
		if (stalled) throw new SourceError(`No audio arrived for ${(o.stallMs / 1000).toFixed(o.stallMs < 10_000 ? 1 : 0)} s`, 'The stream stalled; it is reconnected.', true, { kind: 'stall' });
		const tail = scrub(stderr.trim().split('\n').slice(-2).join(' | '), target, o.url);
		if (exit!.code === 0 && delivered > 0) return; // the stream ended: reconnected by the caller
		const fatal = FATAL.test(stderr);
		throw new SourceError(
			`ffmpeg could not read ${target.display}${tail ? `: ${tail}` : ` (exit code ${exit!.code})`}`,
			fatal ? 'Check the address, the credential and that the protocol is one the FFmpeg source opens.' : 'The stream is down or unreachable; it is retried.',
			!fatal,
			{ kind: 'ffmpeg', code: exit!.code },
		);
	} finally {
		clearTimeout(timer);
		o.signal.removeEventListener('abort', kill);
		kill();
		// Killed above: wait for it to be gone (at most 2 s), so nothing is left running when this returns.
		if (!exit && !spawnError) {
			await new Promise<void>((resolve) => {
				const t = setTimeout(resolve, 2000);
				child.once('close', () => {
					clearTimeout(t);
					resolve();
				});
				if (child.exitCode !== null || child.signalCode !== null) resolve();
			});
		}
	}
}
