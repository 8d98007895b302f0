/**
 * The huggingface_hub cache layout, shared with Python tools:
 *
 *   <cache>/models--org--name/blobs/<etag>                 file contents
 *   <cache>/models--org--name/snapshots/<commit>/<path>    relative symlink to the blob
 *   <cache>/models--org--name/refs/<revision>              the commit a branch/tag pointed to
 *
 * <cache> is the node's Cache Folder option, else HF_HUB_CACHE, else
 * $HF_HOME/hub, else ~/.cache/huggingface/hub (huggingface_hub's order).
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync, copyFileSync, writeFileSync, rmSync, lstatSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

export function resolveCacheDir(option?: string): string {
	if (option) return option;
	if (process.env.HF_HUB_CACHE) return process.env.HF_HUB_CACHE;
	const hfHome = process.env.HF_HOME ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'huggingface');
	return path.join(hfHome, 'hub');
}

export function repoFolderName(repoId: string): string {
	return `models--${repoId.split('/').join('--')}`;
}

export const isCommitHash = (rev: string): boolean => /^[0-9a-f]{40}$/.test(rev);

export class RepoCache {
	readonly root: string;

	constructor(cacheDir: string, readonly repoId: string) {
		this.root = path.join(cacheDir, repoFolderName(repoId));
	}

	blobPath(etag: string): string {
		return path.join(this.root, 'blobs', etag);
	}

	snapshotDir(commit: string): string {
		return path.join(this.root, 'snapshots', commit);
	}

	snapshotPath(commit: string, file: string): string {
		return path.join(this.snapshotDir(commit), ...file.split('/'));
	}

	/** The commit a revision resolves to from the cache alone, if known. */
	commitFor(revision: string): string | undefined {
		if (isCommitHash(revision)) return revision;
		const ref = path.join(this.root, 'refs', ...revision.split('/'));
		return existsSync(ref) ? readFileSync(ref, 'utf8').trim() : undefined;
	}

	writeRef(revision: string, commit: string): void {
		if (revision === commit) return;
		const ref = path.join(this.root, 'refs', ...revision.split('/'));
		mkdirSync(path.dirname(ref), { recursive: true });
		if (!existsSync(ref) || readFileSync(ref, 'utf8').trim() !== commit) writeFileSync(ref, commit);
	}

	/** Points snapshots/<commit>/<file> at the blob (relative symlink, or a copy where links fail). */
	linkSnapshot(commit: string, file: string, etag: string): string {
		const target = this.snapshotPath(commit, file);
		mkdirSync(path.dirname(target), { recursive: true });
		const blob = this.blobPath(etag);
		try {
			if (lstatSync(target)) rmSync(target, { force: true });
		} catch {
			// not there yet
		}
		try {
			symlinkSync(path.relative(path.dirname(target), blob), target);
		} catch {
			copyFileSync(blob, target); // e.g. Windows without developer mode, as huggingface_hub does
		}
		return target;
	}
}
