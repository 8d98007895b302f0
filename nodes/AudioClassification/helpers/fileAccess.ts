/**
 * Paths a workflow chooses (Local Folder, Cache Folder) go through n8n's own
 * file-access helpers, so the instance's N8N_RESTRICT_FILE_ACCESS_TO, its
 * blocked n8n folders and blocked patterns apply to this node as they do to
 * Read/Write Files from Disk. Refusals never say whether a path exists.
 */
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import path from 'node:path';

import type { IExecuteFunctions } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import type { ModelSpec } from '../../../src';

type Helpers = IExecuteFunctions['helpers'];

function blockedError(ctx: IExecuteFunctions, itemIndex: number, what: string): NodeOperationError {
	return new NodeOperationError(ctx.getNode(), `Access to the ${what} is not allowed`, {
		itemIndex,
		description:
			"n8n's file-access settings do not allow this path. Choose a folder inside the ones listed in N8N_RESTRICT_FILE_ACCESS_TO " +
			'(ask the n8n administrator to add it), and not inside the n8n folder itself.',
	});
}

/** Resolves a workflow-chosen path and refuses it when n8n's settings block it. */
export async function allowedPath(ctx: IExecuteFunctions, itemIndex: number, chosen: string, what: string): Promise<string> {
	const helpers = ctx.helpers as Partial<Helpers>;
	if (!path.isAbsolute(chosen)) {
		throw new NodeOperationError(ctx.getNode(), `The ${what} must be an absolute path`, {
			itemIndex,
			description: 'Enter the full path on the machine running n8n, e.g. /home/node/models/my-model.',
		});
	}
	if (!helpers.resolvePath || !helpers.isFilePathBlocked) return path.resolve(chosen); // n8n before file-access helpers
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
export function assertModelFilesAllowed(ctx: IExecuteFunctions, itemIndex: number, spec: ModelSpec): void {
	const helpers = ctx.helpers as Partial<Helpers>;
	if (!helpers.isFilePathBlocked) return;
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
		if (helpers.isFilePathBlocked(real as Parameters<Helpers['isFilePathBlocked']>[0])) throw blockedError(ctx, itemIndex, 'model folder');
	}
}
