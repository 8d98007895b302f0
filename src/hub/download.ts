/**
 * Downloads one file of a Hub repo into the huggingface_hub cache, the way
 * `hf_hub_download` does: HEAD `/{repo}/resolve/{revision}/{file}` for the
 * commit, etag and size; stream the bytes (following the redirect to the
 * CDN) to `blobs/<etag>.incomplete`, resuming with Range; check size and the
 * LFS sha256; rename atomically; link the snapshot; record the ref.
 * One download per blob at a time, across executions and processes.
 */
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

import { isCommitHash, RepoCache } from './cache';
import { assertCommit, assertEtag, assertRevision, confine, normalizeRepoFile } from './validate';
import { HubError } from './errors';
import { acquireLock } from './lock';
import { createHash } from '../util/hash';


export interface HubAccess {
	/** e.g. https://huggingface.co or a mirror; no trailing slash. */
	endpoint: string;
	token?: string;
}

export interface DownloadOptions extends HubAccess {
	repoId: string;
	file: string;
	revision: string;
	cacheDir: string;
	offline?: boolean;
	/** Idle timeout: abort when no byte arrives for this long. */
	timeoutMs?: number;
	signal?: AbortSignal;
	onProgress?: (p: { file: string; bytes: number; total: number }) => void;
}

export interface FileMetadata {
	commit: string;
	etag: string;
	size: number;
	/** Where the bytes are (the CDN after the Hub's redirect). */
	location: string;
}

const inFlight = new Map<string, Promise<string>>();

function redact(text: string, token?: string): string {
	return token ? text.split(token).join('***') : text;
}

function resolveUrl(o: DownloadOptions): string {
	const file = o.file.split('/').map(encodeURIComponent).join('/');
	return `${o.endpoint}/${o.repoId}/resolve/${encodeURIComponent(o.revision)}/${file}`;
}

function authHeaders(access: HubAccess, url: string): Record<string, string> {
	// The token goes to the Hub (or mirror) only, never to the CDN it redirects to.
	if (!access.token || new URL(url).origin !== new URL(access.endpoint).origin) return {};
	return { authorization: `Bearer ${access.token}` };
}

export function httpError(status: number, errorCode: string | null, what: string, o: HubAccess & { repoId: string }): HubError {
	const page = `${o.endpoint}/${o.repoId}`;
	if (status === 401 || (status === 403 && errorCode !== 'GatedRepo')) {
		return new HubError(
			`The Hugging Face Hub refused access to ${what} (HTTP ${status})`,
			o.token
				? `The token was rejected or lacks access: check it at ${o.endpoint}/settings/tokens, and accept the model's conditions on ${page}.`
				: `The repo is private or gated, or does not exist. Add a Hugging Face Hub credential with a read token (or set HF_TOKEN), and accept the model's conditions on ${page}.`,
		);
	}
	if (status === 403) {
		return new HubError(
			`${o.repoId} is a gated model: its conditions have not been accepted for this token (HTTP 403)`,
			`Open ${page}, accept the conditions with the account that owns the token, then run again.`,
		);
	}
	if (status === 404) {
		const what404 =
			errorCode === 'RepoNotFound'
				? `The repo ${o.repoId} does not exist (or is private)`
				: errorCode === 'RevisionNotFound'
					? `The revision of ${what} does not exist`
					: `${what} does not exist`;
		return new HubError(
			`${what404} (HTTP 404)`,
			'Check the model ID and revision. The model needs config.json, preprocessor_config.json and onnx/model*.onnx: pick one from the list (Xenova/ and onnx-community/ repos have ONNX exports) or export one with Optimum.',
		);
	}
	return new HubError(`The Hugging Face Hub answered HTTP ${status} for ${what}`, 'Try again later, or use a mirror ({endpoint}, or HF_ENDPOINT).');
}

export function networkError(error: unknown, o: HubAccess): HubError {
	const err = error as { code?: string; cause?: { code?: string; message?: string }; message?: string; name?: string };
	const code = err.cause?.code ?? err.code ?? '';
	if (code === 'ENOSPC') {
		return new HubError('The disk is full: the model could not be saved to the cache', 'Free disk space, or point {cacheDir} (or HF_HOME) at a larger disk.');
	}
	// Plain words, not errno codes: n8n replaces messages that contain codes
	// such as ECONNREFUSED with a generic text, losing the endpoint.
	const reason: Record<string, string> = {
		ECONNREFUSED: 'connection refused',
		ENOTFOUND: 'host name not found',
		EAI_AGAIN: 'DNS lookup failed',
		ETIMEDOUT: 'connection timed out',
		ECONNRESET: 'connection reset',
		UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
	};
	const detail = reason[code] ?? redact(err.cause?.message ?? err.message ?? String(error), o.token).replace(/\bE[A-Z_]{4,}\b/g, '').trim();
	return new HubError(
		`Could not reach ${o.endpoint} (${detail || 'network error'})`,
		'Check the network. Without one: run once where the Hub is reachable and copy the cache, then turn on {offline} (or HF_HUB_OFFLINE=1); or set a reachable mirror as {endpoint} / HF_ENDPOINT.',
	);
}

async function request(url: string, init: RequestInit & { timeoutMs: number; signal?: AbortSignal }): Promise<Response> {
	const controller = new AbortController();
	const timer = setTimeout(() => controller.abort(new Error(`no response in ${init.timeoutMs} ms`)), init.timeoutMs);
	const onAbort = () => controller.abort(init.signal?.reason);
	init.signal?.addEventListener('abort', onAbort, { once: true });
	try {
		return await fetch(url, { ...init, redirect: 'manual', signal: controller.signal });
	} finally {
		clearTimeout(timer);
		init.signal?.removeEventListener('abort', onAbort);
	}
}

/** HEAD the resolve URL; follow only redirects on the Hub itself (renamed repos). */
async function fetchMetadata(o: DownloadOptions): Promise<FileMetadata> {
	let url = resolveUrl(o);
	const what = `${o.file} in ${o.repoId}@${o.revision}`;
	for (let hop = 0; hop < 10; hop++) {
		let res: Response;
		try {
			res = await request(url, {
				method: 'HEAD',
				headers: { ...authHeaders(o, url), 'accept-encoding': 'identity' },
				timeoutMs: o.timeoutMs ?? 30_000,
				signal: o.signal,
			});
		} catch (error) {
			throw networkError(error, o);
		}
		const location = res.headers.get('location');
		const sameHost = location && new URL(location, url).origin === new URL(url).origin;
		if (res.status >= 300 && res.status < 400 && location && sameHost && !res.headers.get('x-linked-etag')) {
			url = new URL(location, url).toString();
			continue;
		}
		if (res.status >= 400) throw httpError(res.status, res.headers.get('x-error-code'), what, o);
		const etag = (res.headers.get('x-linked-etag') ?? res.headers.get('etag') ?? '').replace(/^W\//, '').replace(/"/g, '');
		const commit = res.headers.get('x-repo-commit') ?? '';
		const size = Number(res.headers.get('x-linked-size') ?? res.headers.get('content-length') ?? NaN);
		if (!etag || !commit || !Number.isSafeInteger(size) || size < 0) {
			throw new HubError(
				`${o.endpoint} did not send the Hub's file headers (ETag, X-Repo-Commit, size) for ${what}`,
				'The endpoint is not a Hugging Face Hub or mirror that serves /{repo}/resolve/{revision}/{file}; check {endpoint} / HF_ENDPOINT.',
			);
		}
		// Server values become cache paths: only the Hub's formats are accepted.
		assertEtag(etag, o.endpoint);
		assertCommit(commit, o.endpoint);
		if (o.file.endsWith('.json') && size > MAX_JSON_BYTES) {
			throw new HubError(
				`${o.endpoint} declares ${o.file} of ${o.repoId} as ${(size / 2 ** 20).toFixed(0)} MB, far too large for a config file`,
				'The endpoint is not behaving like the Hugging Face Hub; check {endpoint} / HF_ENDPOINT.',
			);
		}
		return { commit, etag, size, location: location ? new URL(location, url).toString() : url };
	}
	throw new HubError(`Too many redirects for ${what}`, 'Check {endpoint} / HF_ENDPOINT.');
}

const MAX_JSON_BYTES = 16 * 2 ** 20;

function damaged(o: DownloadOptions, blob: string): HubError {
	return new HubError(
		`The cached copy of ${o.file} from ${o.repoId} is damaged (its content does not match its hash)`,
		`Turn off {offline} (and HF_HUB_OFFLINE) once so it is downloaded again, or delete ${blob} and download it with network access.`,
	);
}

/** Returns the snapshot path of the file, downloading it if the cache lacks it (or holds a damaged copy). */
export async function hubDownload(o: DownloadOptions): Promise<string> {
	o = { ...o, file: normalizeRepoFile(o.file) };
	assertRevision(o.revision);
	const cache = new RepoCache(o.cacheDir, o.repoId);
	const known = cache.commitFor(o.revision);
	if (known && (o.offline || isCommitHash(o.revision)) && existsSync(cache.snapshotPath(known, o.file))) {
		const etag = cache.etagOfSnapshot(known, o.file);
		if (!etag || (await cache.verifyBlob(etag))) return cache.snapshotPath(known, o.file);
		if (o.offline) throw damaged(o, cache.blobPath(etag));
		cache.removeBlob(etag); // online: fetched again below
	}
	if (o.offline) {
		throw new HubError(
			`Offline mode: ${o.file} of ${o.repoId}@${o.revision} is not in the cache (${o.cacheDir})`,
			`Download it once with network access (run this node online, or "huggingface-cli download ${o.repoId} ${o.file} --revision ${o.revision}"), or turn off {offline} / HF_HUB_OFFLINE.`,
		);
	}
	const meta = await fetchMetadata(o);
	cache.writeRef(o.revision, meta.commit);
	const blob = cache.blobPath(meta.etag);
	let pending = inFlight.get(blob);
	if (!pending) {
		pending = downloadBlob(o, meta, cache).finally(() => inFlight.delete(blob));
		inFlight.set(blob, pending);
	}
	await pending;
	return cache.linkSnapshot(meta.commit, o.file, meta.etag);
}

async function downloadBlob(o: DownloadOptions, meta: FileMetadata, cache: RepoCache): Promise<string> {
	const blob = cache.blobPath(meta.etag);
	if (existsSync(blob)) {
		if (await cache.verifyBlob(meta.etag, meta.size)) return blob;
		cache.removeBlob(meta.etag); // damaged or truncated: download it again
	}
	mkdirSync(path.dirname(blob), { recursive: true });
	confine(cache.root, blob);
	const release = await acquireLock(`${blob}.lock`, { signal: o.signal });
	try {
		if (existsSync(blob) && (await cache.verifyBlob(meta.etag, meta.size))) return blob; // another process finished it while we waited
		const partial = `${blob}.incomplete`;
		for (let attempt = 0; ; attempt++) {
			try {
				await fetchInto(o, meta, partial);
				break;
			} catch (error) {
				// Resume dropped connections a few times; give up on anything else.
				const resumable = !(error instanceof HubError) && !o.signal?.aborted && attempt < 3;
				if (error instanceof HubError) rmSync(partial, { force: true }); // e.g. an oversize body: keep nothing of it
				if (!resumable) throw error instanceof HubError ? error : networkError(error, o);
			}
		}
		await verify(partial, meta, o);
		renameSync(partial, blob);
		await cache.verifyBlob(meta.etag, meta.size); // hashed already: this records the marker
		return blob;
	} finally {
		release();
	}
}

async function fetchInto(o: DownloadOptions, meta: FileMetadata, partial: string): Promise<void> {
	let have = existsSync(partial) ? statSync(partial).size : 0;
	if (have > meta.size) {
		rmSync(partial);
		have = 0;
	}
	if (have === meta.size) return;
	let url = meta.location;
	let res: Response | undefined;
	for (let hop = 0; hop < 10; hop++) {
		res = await request(url, {
			method: 'GET',
			headers: { ...authHeaders(o, url), 'accept-encoding': 'identity', ...(have ? { range: `bytes=${have}-` } : {}) },
			timeoutMs: o.timeoutMs ?? 30_000,
			signal: o.signal,
		});
		const location = res.headers.get('location');
		if (res.status >= 300 && res.status < 400 && location) {
			url = new URL(location, url).toString();
			continue;
		}
		break;
	}
	if (!res || res.status >= 400) {
		throw httpError(res?.status ?? 0, res?.headers.get('x-error-code') ?? null, `${o.file} in ${o.repoId}`, o);
	}
	if (have && res.status !== 206) have = 0; // server ignored Range: start over
	const declared = Number(res.headers.get('content-length') ?? NaN);
	if (Number.isFinite(declared) && have + declared > meta.size) {
		await res.body?.cancel().catch(() => undefined);
		throw oversize(o, meta);
	}
	const out = createWriteStream(partial, { flags: have ? 'a' : 'w' });
	const body = Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>);
	let bytes = have;
	let lastReport = 0;
	let idle: NodeJS.Timeout | undefined;
	const armIdle = () => {
		clearTimeout(idle);
		idle = setTimeout(() => body.destroy(new Error(`no data for ${o.timeoutMs ?? 30_000} ms`)), o.timeoutMs ?? 30_000);
	};
	armIdle();
	body.on('data', (chunk: Buffer) => {
		bytes += chunk.length;
		if (bytes > meta.size) {
			body.destroy(oversize(o, meta)); // cut off at once: nothing past the declared size is written
			return;
		}
		armIdle();
		if (o.onProgress && (bytes - lastReport >= meta.size / 10 || bytes === meta.size)) {
			lastReport = bytes;
			o.onProgress({ file: o.file, bytes, total: meta.size });
		}
	});
	try {
		// On a dropped connection keep what arrived: flush and close the file, so
		// the next attempt resumes from its size.
		await new Promise<void>((resolve, reject) => {
			let failed: Error | undefined;
			body.on('error', (error) => {
				failed = error;
				out.end();
			});
			out.on('error', reject);
			out.on('close', () => (failed ? reject(failed) : resolve()));
			body.pipe(out);
		});
	} finally {
		clearTimeout(idle);
	}
	if (statSync(partial).size < meta.size) throw new Error(`connection closed at ${bytes} of ${meta.size} bytes`);
}

function oversize(o: DownloadOptions, meta: FileMetadata): HubError {
	return new HubError(
		`The server sent more than the ${meta.size} bytes it declared for ${o.file} of ${o.repoId}; the download was stopped`,
		'The endpoint or a proxy is altering the file; check {endpoint} / HF_ENDPOINT, then run again.',
	);
}

async function verify(partial: string, meta: FileMetadata, o: DownloadOptions): Promise<void> {
	const size = statSync(partial).size;
	const bad = (why: string) => {
		rmSync(partial, { force: true });
		return new HubError(
			`The download of ${o.file} from ${o.repoId} is corrupt: ${why}`,
			'It was deleted; run again. If it repeats, the mirror or a proxy is altering the file.',
		);
	};
	if (size !== meta.size) throw bad(`${size} bytes instead of ${meta.size}`);
	if (/^[0-9a-f]{64}$/.test(meta.etag)) {
		// LFS files: the etag is the sha256 of the content.
		const hash = createHash('sha256');
		await finished(createReadStream(partial).on('data', (c) => hash.update(c)));
		const digest = hash.digest('hex');
		if (digest !== meta.etag) throw bad(`sha256 ${digest.slice(0, 12)}... instead of ${meta.etag.slice(0, 12)}...`);
	}
}
