/** n8n glue for the Hub model source: credentials, the model list, downloads with progress in the log. */
import type { IExecuteFunctions, ILoadOptionsFunctions, INodeListSearchResult } from 'n8n-workflow';

import {
	downloadHubModel,
	type DtypeChoice,
	hubCatalog,
	offlineFromEnv,
	resolveCacheDir,
	resolveHubAccess,
	searchHubModels,
} from '../../src';

type HubCredential = { accessToken?: string; endpoint?: string };

async function credentialOf(ctx: IExecuteFunctions | ILoadOptionsFunctions): Promise<HubCredential | undefined> {
	try {
		return (await ctx.getCredentials('huggingFaceHubApi')) as HubCredential;
	} catch {
		return undefined; // optional: HF_TOKEN / HF_ENDPOINT or anonymous access
	}
}

/** From List: the curated catalog first, then a live search of the Hub (when reachable). */
export async function searchModels(this: ILoadOptionsFunctions, filter?: string): Promise<INodeListSearchResult> {
	const q = (filter ?? '').toLowerCase();
	const curated = hubCatalog()
		.filter((m) => !q || `${m.id} ${m.task} ${m.useCase}`.toLowerCase().includes(q))
		.map((m) => ({ name: `${m.task}: ${m.id}`, value: m.id, url: m.source, description: m.useCase }));
	let found: Array<{ name: string; value: string; url: string }> = [];
	const access = resolveHubAccess(await credentialOf(this));
	try {
		found = (await searchHubModels(access, filter ?? ''))
			.filter((hit) => !curated.some((c) => c.value === hit.id))
			.map((hit) => ({ name: hit.id, value: hit.id, url: `${access.endpoint}/${hit.id}` }));
	} catch {
		// offline or blocked: the curated list still works
	}
	return { results: [...curated, ...found] };
}

export async function resolveHubModelDir(
	ctx: IExecuteFunctions,
	itemIndex: number,
	dtype: DtypeChoice,
	options: { cacheDir?: string; offline?: boolean },
): Promise<{ dir: string; repoId: string }> {
	const repoId = (ctx.getNodeParameter('model', itemIndex, '', { extractValue: true }) as string).trim();
	const revision = ((ctx.getNodeParameter('revision', itemIndex, 'main') as string) || 'main').trim();
	const access = resolveHubAccess(await credentialOf(ctx));
	const dir = await downloadHubModel({
		...access,
		repoId,
		revision,
		dtype,
		cacheDir: resolveCacheDir(options.cacheDir || undefined),
		offline: options.offline || offlineFromEnv(),
		signal: ctx.getExecutionCancelSignal?.(),
		onProgress: ({ file, bytes, total }) =>
			ctx.logger.info(
				`Audio Classification: downloading ${repoId}/${file} ${(bytes / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB`,
			),
	});
	return { dir, repoId };
}
