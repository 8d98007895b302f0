/**
 * Paths a workflow chooses (Local Folder, Cache Folder) go through n8n's own
 * file-access helpers, so the instance's N8N_RESTRICT_FILE_ACCESS_TO, its
 * blocked n8n folders and blocked patterns apply to this node as they do to
 * Read/Write Files from Disk. Refusals never say whether a path exists.
 */
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';

import type { IExecuteFunctions, INode } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import type { ModelSpec } from '../../../src';

type Helpers = IExecuteFunctions['helpers'];

/** What the checks need of a node's context: an action node's, or a trigger's (which n8n gives no file helpers). */
export interface PathContext {
	getNode(): INode;
	helpers: object;
}

/**
 * n8n's file-access rule, read from the same settings, for contexts n8n gives no file-access
 * helpers to (trigger nodes, in n8n 2.x): never inside the n8n folder (unless
 * N8N_BLOCK_FILE_ACCESS_TO_N8N_FILES=false), never a path matching N8N_BLOCK_FILE_PATTERNS
 * (default: .git folders), and only inside N8N_RESTRICT_FILE_ACCESS_TO when it lists folders;
 * unset, it is n8n 2.x's default, ~/.n8n-files. `resolved` is a real path.
 */
export function blockedByInstanceSettings(resolved: string, env: NodeJS.ProcessEnv = process.env): boolean {
	const home = homedir();
	const expand = (p: string) => path.resolve(p.startsWith('~') ? p.replace('~', home) : p);
	const within = (dir: string) => {
		const rel = path.relative(dir, resolved);
		return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
	};
	const list = (value: string) => value.split(';').map((p) => p.trim()).filter(Boolean);
	if (env.N8N_BLOCK_FILE_ACCESS_TO_N8N_FILES !== 'false') {
		const n8nFolder = path.join(env.N8N_USER_FOLDER || home, '.n8n');
		const custom = list(env.N8N_CUSTOM_EXTENSIONS ?? '');
		if ([n8nFolder, ...custom].some((dir) => within(expand(dir)))) return true;
	}
	const posixPath = path.posix.normalize(resolved.replace(/\\/g, '/'));
	const patterns = list(env.N8N_BLOCK_FILE_PATTERNS ?? '^(?:[^/]*/)*\\.git(?:/.*)?$');
	if (
		patterns.some((pattern) => {
			try {
				return new RegExp(pattern, 'mi').test(posixPath);
			} catch {
				return true; // a pattern n8n cannot read blocks everything, there too
			}
		})
	) {
		return true;
	}
	const allowed = list(env.N8N_RESTRICT_FILE_ACCESS_TO ?? '~/.n8n-files').map(expand);
	return allowed.length > 0 && !allowed.some(within);
}

function blockedError(ctx: PathContext, itemIndex: number, what: string): NodeOperationError {
	return new NodeOperationError(ctx.getNode(), `Access to the ${what} is not allowed`, {
		itemIndex,
		description:
			"n8n's file-access settings do not allow this path. Choose a folder inside the ones listed in N8N_RESTRICT_FILE_ACCESS_TO " +
			'(ask the n8n administrator to add it), and not inside the n8n folder itself.',
	});
}

/**
 * Resolves a workflow-chosen path and refuses it when n8n's settings block it. Without n8n's
 * helpers: an action node on an n8n older than them takes the path as it is; a trigger
 * (`mirror`) applies the same settings itself (blockedByInstanceSettings).
 */
export async function allowedPath(ctx: PathContext, itemIndex: number, chosen: string, what: string, mirror = false): Promise<string> {
	const helpers = ctx.helpers as Partial<Helpers>;
	if (!path.isAbsolute(chosen)) {
		throw new NodeOperationError(ctx.getNode(), `The ${what} must be an absolute path`, {
			itemIndex,
			description: 'Enter the full path on the machine running n8n, e.g. /home/node/models/my-model.',
		});
	}
	if (!helpers.resolvePath || !helpers.isFilePathBlocked) {
		if (!mirror) return path.resolve(chosen); // n8n before file-access helpers
		let real: string;
		try {
			real = await realpath(chosen);
		} catch {
			real = path.resolve(chosen); // missing: judged as written; the load reports it
		}
		if (blockedByInstanceSettings(real)) throw blockedError(ctx, itemIndex, what);
		return real;
	}
	let resolved: string;
	try {
		resolved = await helpers.resolvePath(chosen);
	} catch {
		resolved = path.resolve(chosen); // a missing parent: judge the path as written
	}
	if (helpers.isFilePathBlocked(resolved as Parameters<Helpers['isFilePathBlocked']>[0])) throw blockedError(ctx, itemIndex, what);
	return resolved;
}

/** Every file the model load will read, followed through symlinks, must be allowed too. */
export function assertModelFilesAllowed(ctx: PathContext, itemIndex: number, spec: ModelSpec, mirror = false): void {
	const helpers = ctx.helpers as Partial<Helpers>;
	const blocked = helpers.isFilePathBlocked
		? (p: string) => helpers.isFilePathBlocked!(p as Parameters<Helpers['isFilePathBlocked']>[0])
		: mirror
			? (p: string) => blockedByInstanceSettings(p)
			: undefined;
	if (!blocked) return;
	const onnxDir = path.dirname(spec.onnxPath);
	const base = path.basename(spec.onnxPath);
	const files = [path.join(spec.dir, 'config.json'), path.join(spec.dir, 'preprocessor_config.json'), spec.onnxPath];
	if (existsSync(onnxDir)) {
		for (const f of readdirSync(onnxDir)) if (f !== base && f.startsWith(`${base}_data`)) files.push(path.join(onnxDir, f));
	}
	for (const file of files) {
		let real: string;
		try {
			real = realpathSync(file);
		} catch {
			continue; // missing: the load reports it
		}
		if (blocked(real)) throw blockedError(ctx, itemIndex, 'model folder');
	}
}
