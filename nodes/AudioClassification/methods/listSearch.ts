/** List search for the Hub model locator ("From List"). */
import type { ILoadOptionsFunctions, INodeListSearchResult } from 'n8n-workflow';

import { hubCatalog, resolveHubAccess, searchHubModels } from '../../../src';
import { credentialOf } from '../helpers/hub';

/** From List: the curated catalog first, then a live search of the Hub (when reachable). */
export async function searchModels(this: ILoadOptionsFunctions, filter?: string): Promise<INodeListSearchResult> {
	const q = (filter ?? '').toLowerCase();
	// Classify with Your Own Labels lists CLAP models; the other operations, classifiers
	const zeroShot = this.getCurrentNodeParameter('operation') === 'zeroShot';
	const pipeline = zeroShot ? 'zero-shot-audio-classification' : 'audio-classification';
	const curated = hubCatalog()
		.filter((m) => (m.pipeline ?? 'audio-classification') === pipeline)
		.filter((m) => !q || `${m.id} ${m.task} ${m.useCase}`.toLowerCase().includes(q))
		.map((m) => ({ name: `${m.task}: ${m.id}`, value: m.id, url: m.source, description: m.useCase }));
	let found: Array<{ name: string; value: string; url: string }> = [];
	const access = resolveHubAccess(await credentialOf(this));
	try {
		found = (await searchHubModels(access, filter ?? '', 30, pipeline))
			.filter((hit) => !curated.some((c) => c.value === hit.id))
			.map((hit) => ({ name: hit.id, value: hit.id, url: `${access.endpoint}/${hit.id}` }));
	} catch {
		// offline or blocked: the curated list still works
	}
	return { results: [...curated, ...found] };
}

