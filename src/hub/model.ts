/**
 * A whole model from the Hub: only the files the node needs (config.json,
 * preprocessor_config.json, the chosen onnx/model*.onnx and its external
 * weights), into the shared cache; returns the snapshot folder, which then
 * loads like any local model folder.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

import { AUTO_ORDER, type DtypeChoice, variantFileName } from '../model/variants';
import { hubRecheckMs } from '../config';
import { isCommitHash, RepoCache } from './cache';
import { httpError, hubDownload, networkError, type DownloadOptions, type HubAccess } from './download';
import { HubError } from './errors';
import { assertRevision } from './validate';
import { createHash } from '../util/hash';


const DEFAULT_ENDPOINT = 'https://huggingface.co';

export function resolveHubAccess(credential?: { accessToken?: string; endpoint?: string }): HubAccess {
	const endpoint = (credential?.endpoint || process.env.HF_ENDPOINT || DEFAULT_ENDPOINT).replace(/\/+$/, '');
	const token = credential?.accessToken || process.env.HF_TOKEN || process.env.HUGGING_FACE_HUB_TOKEN || undefined;
	return { endpoint, token };
}

export function offlineFromEnv(): boolean {
	return /^(1|true|yes|on)$/i.test(process.env.HF_HUB_OFFLINE ?? '');
}

function isRepoId(value: string): boolean {
	return /^[\w.-]+\/[\w.-]+$/.test(value) && !value.includes('..');
}

export interface HubModelRequest extends HubAccess {
	repoId: string;
	revision: string;
	dtype: DtypeChoice;
	cacheDir: string;
	offline?: boolean;
	timeoutMs?: number;
	signal?: AbortSignal;
	onProgress?: DownloadOptions['onProgress'];
	/** More files to fetch when the repo has them (zero-shot: tokenizer.json, tokenizer_config.json). */
	extraFiles?: string[];
}

/** GET a Hub API path as JSON, with the same error mapping as downloads. */
async function getApiJson<T>(access: HubAccess, apiPath: string, what: string, repoId: string, timeoutMs: number): Promise<T> {
	let res: Response;
	try {
		res = await fetch(`${access.endpoint}${apiPath}`, {
			headers: access.token ? { authorization: `Bearer ${access.token}` } : {},
			signal: AbortSignal.timeout(timeoutMs),
		});
	} catch (error) {
		throw networkError(error, access);
	}
	if (!res.ok) throw httpError(res.status, res.headers.get('x-error-code'), what, { ...access, repoId });
	const text = await readCapped(res, MAX_API_BYTES, access);
	try {
		return JSON.parse(text) as T;
	} catch {
		throw new HubError(`${access.endpoint} answered ${what} with something that is not JSON`, 'Check {endpoint} / HF_ENDPOINT: it must be the Hugging Face Hub or a mirror of it.');
	}
}

const MAX_API_BYTES = 32 * 2 ** 20;

/** A response body as text, refusing (at once) one larger than `max` bytes. */
async function readCapped(res: Response, max: number, access: HubAccess): Promise<string> {
	const reader = res.body?.getReader();
	if (!reader) return '';
	const chunks: Uint8Array[] = [];
	let total = 0;
	for (;;) {
		const { done, value } = await reader.read();
		if (done) break;
		total += value.length;
		if (total > max) {
			await reader.cancel().catch(() => undefined);
			throw new HubError(`${access.endpoint} sent an API answer larger than ${max / 2 ** 20} MB`, 'Check {endpoint} / HF_ENDPOINT: it must be the Hugging Face Hub or a mirror of it.');
		}
		chunks.push(value);
	}
	return Buffer.concat(chunks).toString('utf8');
}

async function listRepoFiles(r: HubModelRequest): Promise<string[]> {
	const info = await getApiJson<{ siblings?: Array<{ rfilename: string }> }>(
		r,
		`/api/models/${r.repoId}/revision/${encodeURIComponent(r.revision)}`,
		`${r.repoId}@${r.revision}`,
		r.repoId,
		r.timeoutMs ?? 30_000,
	);
	return (Array.isArray(info.siblings) ? info.siblings : []).map((s) => s?.rfilename).filter((f): f is string => typeof f === 'string');
}

function listCachedFiles(r: HubModelRequest): string[] {
	const cache = new RepoCache(r.cacheDir, r.repoId);
	const commit = cache.commitFor(r.revision);
	if (!commit) return [];
	const dir = cache.snapshotDir(commit);
	const out: string[] = [];
	for (const sub of ['', 'onnx']) {
		const d = path.join(dir, sub);
		if (existsSync(d)) for (const f of readdirSync(d)) out.push(sub ? `${sub}/${f}` : f);
	}
	return out;
}

/** The ONNX file for the dtype, and its external-data files. */
function chooseOnnxFiles(files: string[], dtype: DtypeChoice, repoId: string): string[] {
	const order = dtype === 'auto' ? AUTO_ORDER : [dtype];
	for (const d of order) {
		for (const candidate of [`onnx/${variantFileName(d)}`, variantFileName(d)]) {
			if (files.includes(candidate)) {
				const data = files.filter((f) => f === `${candidate}_data` || f.startsWith(`${candidate}_data_`));
				return [candidate, ...data];
			}
		}
	}
	const onnx = files.filter((f) => f.endsWith('.onnx'));
	throw new HubError(
		dtype === 'auto'
			? `${repoId} has no ONNX weights (no onnx/model*.onnx)`
			: `${repoId} has no ${dtype} variant (onnx/${variantFileName(dtype)})`,
		onnx.length
			? `Its ONNX files: ${onnx.join(', ')}. Set {dtype} to one of them, or to "Auto".`
			: 'Pick a repo with ONNX exports (from the list: Xenova/ and onnx-community/ repos have them), or export this model with Optimum and upload it.',
	);
}

/**
 * Snapshots resolved online in this process, and resolutions in flight: a
 * webhook workflow runs one execution per request, and each would otherwise
 * ask the Hub for the file list and every file's ETag (4-5 round trips).
 */
const resolvedSnapshots = new Map<string, { dir: string; at: number }>();
const resolving = new Map<string, Promise<string>>();

/** Forget resolved snapshots (tests). */
export function clearResolvedHubModels(): void {
	resolvedSnapshots.clear();
}

export async function downloadHubModel(r: HubModelRequest): Promise<string> {
	if (r.offline) return await resolveHubModel(r);
	const token = r.token ? createHash('sha256').update(r.token).digest('hex').slice(0, 16) : '';
	const key = [r.endpoint, token, r.repoId, r.revision, r.dtype, r.cacheDir, ...(r.extraFiles ?? [])].join('\u0000');
	const known = resolvedSnapshots.get(key);
	const fresh = known && (isCommitHash(r.revision) || Date.now() - known.at < hubRecheckMs());
	if (known && fresh && existsSync(known.dir)) return known.dir;
	let pending = resolving.get(key);
	if (!pending) {
		pending = resolveHubModel(r).then((dir) => {
			resolvedSnapshots.set(key, { dir, at: Date.now() });
			return dir;
		});
		resolving.set(key, pending);
		const forget = () => resolving.delete(key);
		pending.then(forget, forget);
	}
	return await pending;
}

async function resolveHubModel(r: HubModelRequest): Promise<string> {
	if (!isRepoId(r.repoId)) {
		throw new HubError(`"${r.repoId}" is not a Hub model ID`, 'Use the form organisation/name, e.g. Xenova/ast-finetuned-speech-commands-v2.');
	}
	assertRevision(r.revision);
	const files = r.offline ? listCachedFiles(r) : await listRepoFiles(r);
	if (r.offline && files.length === 0) {
		throw new HubError(
			`Offline mode: ${r.repoId}@${r.revision} is not in the cache (${r.cacheDir})`,
			`Run once with network access (or "huggingface-cli download ${r.repoId} config.json preprocessor_config.json onnx/model.onnx"), or turn off {offline} / HF_HUB_OFFLINE.`,
		);
	}
	const needed = [
		...(r.extraFiles ?? []).filter((f) => files.includes(f)),
		'config.json',
		'preprocessor_config.json',
		...chooseOnnxFiles(files, r.dtype, r.repoId),
	];
	let snapshotFile = '';
	for (const file of needed) {
		if (!r.offline && !files.includes(file)) {
			throw new HubError(`${r.repoId} has no ${file}`, 'The node needs config.json, preprocessor_config.json and onnx/model*.onnx, as Optimum exports them.');
		}
		snapshotFile = await hubDownload({ ...r, file });
	}
	// snapshots/<commit>/<last file> -> snapshots/<commit>
	const last = path.join(...needed[needed.length - 1].split('/'));
	return snapshotFile.slice(0, snapshotFile.length - last.length - 1);
}

export interface HubModelHit {
	id: string;
	downloads?: number;
}

export async function searchHubModels(
	access: HubAccess,
	query: string,
	limit = 30,
	pipelineTag: 'audio-classification' | 'zero-shot-audio-classification' = 'audio-classification',
): Promise<HubModelHit[]> {
	const params = new URLSearchParams({
		pipeline_tag: pipelineTag,
		library: 'onnx',
		sort: 'downloads',
		direction: '-1',
		limit: String(limit),
	});
	if (query) params.set('search', query);
	const hits = await getApiJson<Array<{ id?: string; modelId?: string; downloads?: number }>>(
		access,
		`/api/models?${params}`,
		'the model search',
		'',
		15_000,
	);
	return hits
		.map((m) => ({ id: m.id ?? m.modelId ?? '', downloads: m.downloads }))
		.filter((m) => m.id);
}

