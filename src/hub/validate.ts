/**
 * Everything a Hub (or a mirror anyone can configure) sends back, and the
 * Revision a workflow sets, is checked here before it becomes part of a path
 * in the cache: commits and ETags by their formats, revisions by git's
 * ref-name rules, file names as plain relative paths, and every resulting
 * path confined under the cache root.
 */
import { existsSync, lstatSync, realpathSync } from 'node:fs';
import path from 'node:path';

import { HubError } from './errors';

export const COMMIT = /^[0-9a-f]{40}$/;
/** git blob id (sha1) for small files, sha256 for LFS files: the only ETags the Hub sends. */
export const ETAG = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

function shown(value: string): string {
	return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value);
}

/** git check-ref-format's rules (branch, tag, refs/pr/N), or a commit hash. */
export function isValidRevision(rev: string): boolean {
	if (!rev || rev.length > 255 || rev === '@') return false;
	if (/[\x00-\x20\x7f~^:?*[\\]/.test(rev)) return false;
	if (rev.includes('..') || rev.includes('@{') || rev.includes('//')) return false;
	if (rev.startsWith('/') || rev.endsWith('/') || rev.endsWith('.')) return false;
	return rev.split('/').every((part) => part.length > 0 && !part.startsWith('.') && !part.endsWith('.lock'));
}

export function assertRevision(rev: string): void {
	if (!isValidRevision(rev)) {
		throw new HubError(
			`The revision ${shown(rev)} is not a valid branch, tag or commit name`,
			'Use a branch (main), a tag (v1.0), a pull-request ref (refs/pr/1) or a 40-character commit hash.',
		);
	}
}

export function assertCommit(commit: string, endpoint: string): void {
	if (!COMMIT.test(commit)) {
		throw new HubError(
			`${endpoint} sent a commit id that is not a 40-character hash (${shown(commit)})`,
			'The endpoint is not behaving like the Hugging Face Hub; check {endpoint} / HF_ENDPOINT.',
		);
	}
}

export function assertEtag(etag: string, endpoint: string): void {
	if (!ETAG.test(etag)) {
		throw new HubError(
			`${endpoint} sent a file ETag that is not a git or sha256 hash (${shown(etag)})`,
			'The endpoint is not behaving like the Hugging Face Hub; check {endpoint} / HF_ENDPOINT.',
		);
	}
}

/** A repo file name as a plain relative POSIX path, or an error. */
export function normalizeRepoFile(file: string): string {
	const parts = file.split('/');
	const ok =
		file.length > 0 &&
		file.length <= 1000 &&
		!/[\x00-\x1f\x7f\\:]/.test(file) &&
		parts.every((p) => p !== '' && p !== '.' && p !== '..');
	if (!ok) {
		throw new HubError(
			`The model repo lists a file with an unsafe name (${shown(file)})`,
			'The repo (or the mirror serving it) is not usable as is; pick another model or report it to its owner.',
		);
	}
	return parts.join('/');
}

/**
 * Throws unless `target` is inside `root`, lexically and (for the part that
 * exists) after following symlinks, so a planted symlink cannot redirect a
 * write outside the cache.
 */
export function confine(root: string, target: string): string {
	const base = path.resolve(root);
	const full = path.resolve(target);
	const inside = (p: string, b: string) => p === b || p.startsWith(b + path.sep);
	if (!inside(full, base)) throw escapeError();
	if (existsSync(base)) {
		const realBase = realpathSync(base);
		let probe = full;
		while (!existsSync(probe) && probe !== base) probe = path.dirname(probe);
		// The existing part must resolve inside the root; the final entry may itself be a symlink we own.
		const parent = probe === full && lstatSync(full).isSymbolicLink() ? path.dirname(full) : probe;
		if (!inside(realpathSync(parent), realBase)) throw escapeError();
	}
	return full;
}

function escapeError(): HubError {
	return new HubError(
		'Refused to write outside the model cache',
		'A value sent by the Hub endpoint, or the Revision, would have placed a file outside the cache folder. Check {endpoint} / HF_ENDPOINT and the Revision.',
	);
}
