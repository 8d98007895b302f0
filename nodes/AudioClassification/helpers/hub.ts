/** n8n glue for the Hub model source: credentials, downloads with progress in the log. */
import type { IExecuteFunctions, ILoadOptionsFunctions } from 'n8n-workflow';

import {
	downloadHubModel,
	type DtypeChoice,
	offlineFromEnv,
	resolveCacheDir,
	resolveHubAccess,
} from '../../../src';

type HubCredential = { accessToken?: string; endpoint?: string };

export async function credentialOf(ctx: IExecuteFunctions | ILoadOptionsFunctions): Promise<HubCredential | undefined> {
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
	const access = resolveHubAccess(await credentialOf(ctx));
	const zeroShot = ctx.getNodeParameter('operation', itemIndex, 'classify') === 'zeroShot';
	const dir = await downloadHubModel({
		...access,
		// CLAP compares the audio with text: its tokenizer comes too
		extraFiles: zeroShot ? ['tokenizer.json', 'tokenizer_config.json'] : undefined,
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
