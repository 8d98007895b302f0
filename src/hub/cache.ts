/**
 * The huggingface_hub cache layout, shared with Python tools:
 *
 *   <cache>/models--org--name/blobs/<etag>                 file contents
 *   <cache>/models--org--name/snapshots/<commit>/<path>    relative symlink to the blob
 *   <cache>/models--org--name/refs/<revision>              the commit a branch/tag pointed to
 *   <cache>/models--org--name/.n8n-verified/<etag>         ours: size and mtime of a blob whose hash was checked
 *
 * <cache> is the node's Cache Folder option, else HF_HUB_CACHE, else
 * $HF_HOME/hub, else ~/.cache/huggingface/hub (huggingface_hub's order).
 * Every path built here is validated and confined under the repo folder.
 */
import {
	copyFileSync,
	createReadStream,
	existsSync,
	lstatSync,
	mkdirSync,
	readFileSync,
	readlinkSync,
	renameSync,
	rmSync,
	statSync,
	symlinkSync,
	writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { finished } from 'node:stream/promises';

import { assertCommit, assertEtag, assertRevision, COMMIT, confine, ETAG, normalizeRepoFile } from './validate';
import { createHash } from '../util/hash';


export function resolveCacheDir(option?: string): string {
	if (option) return option;
	if (process.env.HF_HUB_CACHE) return process.env.HF_HUB_CACHE;
	const hfHome = process.env.HF_HOME ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'huggingface');
	return path.join(hfHome, 'hub');
}

export function repoFolderName(repoId: string): string {
	return `models--${repoId.split('/').join('--')}`;
}

export const isCommitHash = (rev: string): boolean => COMMIT.test(rev);

/** Where the cache's bytes come from, for error messages (never the token). */
const LOCAL = 'the cache';

let linkCount = 0;

export class RepoCache {
	readonly root: string;

	constructor(cacheDir: string, readonly repoId: string) {
		this.root = path.join(cacheDir, repoFolderName(repoId));
	}

	private inside(...parts: string[]): string {
		return confine(this.root, path.join(this.root, ...parts));
	}

	blobPath(etag: string): string {
		assertEtag(etag, LOCAL);
		return this.inside('blobs', etag);
	}

	snapshotDir(commit: string): string {
		assertCommit(commit, LOCAL);
		return this.inside('snapshots', commit);
	}

	snapshotPath(commit: string, file: string): string {
		assertCommit(commit, LOCAL);
		return this.inside('snapshots', commit, ...normalizeRepoFile(file).split('/'));
	}

	private refPath(revision: string): string {
		assertRevision(revision);
		return this.inside('refs', ...revision.split('/'));
	}

	/** The commit a revision resolves to from the cache alone, if known (a damaged ref counts as unknown). */
	commitFor(revision: string): string | undefined {
		if (isCommitHash(revision)) return revision;
		const ref = this.refPath(revision);
		if (!existsSync(ref)) return undefined;
		const commit = readFileSync(ref, 'utf8').trim();
		return COMMIT.test(commit) ? commit : undefined;
	}

	writeRef(revision: string, commit: string): void {
		assertCommit(commit, LOCAL);
		if (revision === commit) return;
		const ref = this.refPath(revision);
		mkdirSync(path.dirname(ref), { recursive: true });
		confine(this.root, ref);
		if (!existsSync(ref) || readFileSync(ref, 'utf8').trim() !== commit) writeFileSync(ref, commit);
	}

	/** Points snapshots/<commit>/<file> at the blob (relative symlink, or a copy where links fail). */
	linkSnapshot(commit: string, file: string, etag: string): string {
		const target = this.snapshotPath(commit, file);
		const blob = this.blobPath(etag);
		mkdirSync(path.dirname(target), { recursive: true });
		confine(this.root, target); // again, now that the folders exist
		const link = path.relative(path.dirname(target), blob);
		try {
			if (readlinkSync(target) === link) return target; // already there (another worker linked it)
		} catch {
			// not there yet, or not a link
		}
		// Made under a temporary name, then renamed over the entry: another process (a queue-mode
		// worker reading this snapshot) sees the old entry or the new one, never none.
		const temporary = `${target}.${process.pid}.${++linkCount}.tmp`;
		try {
			symlinkSync(link, temporary);
		} catch {
			copyFileSync(blob, temporary); // e.g. Windows without developer mode, as huggingface_hub does
		}
		try {
			renameSync(temporary, target);
		} catch (error) {
			rmSync(temporary, { force: true });
			throw error;
		}
		return target;
	}

	/** The blob a snapshot entry links to (its name is its ETag), if it is one of ours. */
	etagOfSnapshot(commit: string, file: string): string | undefined {
		const entry = this.snapshotPath(commit, file);
		try {
			if (!lstatSync(entry).isSymbolicLink()) return undefined;
			const target = path.resolve(path.dirname(entry), readlinkSync(entry));
			const etag = path.basename(target);
			return target === path.join(this.root, 'blobs', etag) && ETAG.test(etag) ? etag : undefined;
		} catch {
			return undefined;
		}
	}

	private markerPath(etag: string): string {
		assertEtag(etag, LOCAL);
		return this.inside('.n8n-verified', etag);
	}

	/**
	 * Whether the blob's content matches its name: sha256 for LFS files, the
	 * git blob id for the others (and the expected size when known). A
	 * checked blob gets a marker (size, mtime), so it is hashed once, not on
	 * every load; a blob changed since is hashed again.
	 */
	async verifyBlob(etag: string, expectedSize?: number): Promise<boolean> {
		const blob = this.blobPath(etag);
		let st;
		try {
			st = statSync(blob);
		} catch {
			return false;
		}
		if (expectedSize !== undefined && st.size !== expectedSize) return false;
		const stamp = `${st.size}:${Math.round(st.mtimeMs)}`;
		const marker = this.markerPath(etag);
		if (verified.get(blob) === stamp) return true;
		try {
			if (readFileSync(marker, 'utf8') === stamp) {
				verified.set(blob, stamp);
				return true;
			}
		} catch {
			// no marker yet
		}
		const ok = (await hashFile(blob, etag.length === 64 ? 'sha256' : 'git', st.size)) === etag;
		if (ok) {
			verified.set(blob, stamp);
			try {
				mkdirSync(path.dirname(marker), { recursive: true });
				writeFileSync(confine(this.root, marker), stamp);
			} catch {
				// read-only cache: verified again next process
			}
		}
		return ok;
	}

	removeBlob(etag: string): void {
		const blob = this.blobPath(etag);
		verified.delete(blob);
		rmSync(blob, { force: true });
		rmSync(this.markerPath(etag), { force: true });
	}
}

const verified = new Map<string, string>();

async function hashFile(file: string, kind: 'sha256' | 'git', size: number): Promise<string> {
	const hash = createHash(kind === 'sha256' ? 'sha256' : 'sha1');
	if (kind === 'git') hash.update(`blob ${size}\0`);
	await finished(createReadStream(file).on('data', (c) => hash.update(c)));
	return hash.digest('hex');
}
