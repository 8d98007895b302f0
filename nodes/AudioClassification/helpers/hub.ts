/** n8n glue for the Hub model source: credentials, downloads with progress in the log. */
import type { IExecuteFunctions, ILoadOptionsFunctions, ITriggerFunctions } from 'n8n-workflow';

import {
	downloadHubModel,
	type DtypeChoice,
	offlineFromEnv,
	resolveCacheDir,
	resolveHubAccess,
} from '../../../src';

type HubCredential = { accessToken?: string; endpoint?: string };

export async function credentialOf(ctx: IExecuteFunctions | ILoadOptionsFunctions | ITriggerFunctions): Promise<HubCredential | undefined> {
	try {
		return (await ctx.getCredentials('huggingFaceHubApi')) as HubCredential;
	} catch {
		return undefined; // optional: HF_TOKEN / HF_ENDPOINT or anonymous access
	}
}

export async function resolveHubModelDir(
	ctx: IExecuteFunctions,
	itemIndex: number,
	dtype: DtypeChoice,
	options: { cacheDir?: string; offline?: boolean },
): Promise<{ dir: string; repoId: string }> {
	const repoId = (ctx.getNodeParameter('model', itemIndex, '', { extractValue: true }) as string).trim();
	const revision = ((ctx.getNodeParameter('revision', itemIndex, 'main') as string) || 'main').trim();
	const zeroShot = ctx.getNodeParameter('operation', itemIndex, 'classify') === 'zeroShot';
	return await downloadForNode(ctx, { repoId, revision, dtype, zeroShot, ...options, signal: ctx.getExecutionCancelSignal?.() });
}

/** The Hub download as a node runs it: the credential (or HF_TOKEN), the shared cache, progress in the log. */
export async function downloadForNode(
	ctx: IExecuteFunctions | ITriggerFunctions,
	o: { repoId: string; revision: string; dtype: DtypeChoice; zeroShot?: boolean; cacheDir?: string; offline?: boolean; signal?: AbortSignal },
): Promise<{ dir: string; repoId: string }> {
	const access = resolveHubAccess(await credentialOf(ctx));
	const dir = await downloadHubModel({
		...access,
		// CLAP compares the audio with text: its tokenizer comes too
		extraFiles: o.zeroShot ? ['tokenizer.json', 'tokenizer_config.json'] : undefined,
		repoId: o.repoId,
		revision: o.revision,
		dtype: o.dtype,
		cacheDir: resolveCacheDir(o.cacheDir || undefined),
		offline: o.offline || offlineFromEnv(),
		signal: o.signal,
		onProgress: ({ file, bytes, total }) =>
			ctx.logger.info(
				`Audio Classification: downloading ${o.repoId}/${file} ${(bytes / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB`,
			),
	});
	return { dir, repoId: o.repoId };
}
