/** The trigger's n8n glue: URL, credentials, model, labels, and errors in n8n's terms. */
import type { INode, ITriggerFunctions } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import {
	AudioClassificationError,
	checkHttpUrl,
	type DtypeChoice,
	DEFAULT_HYPOTHESIS_TEMPLATE,
	ffmpegTarget,
	hypotheses,
	isClap,
	parseCandidateLabels,
	loadModelSpec,
	type ModelSpec,
	renderSettings,
	resolveBuiltIn,
	type SourceKind,
} from '../../src';
import { allowedPath, assertModelFilesAllowed } from '../AudioClassification/helpers/fileAccess';
import { downloadForNode } from '../AudioClassification/helpers/hub';

export interface TriggerOptions {
	binaryPropertyName?: string;
	hypothesisTemplate?: string;
	clipAfter?: number;
	clipBefore?: number;
	clipFormat?: string;
	hop?: number;
	maxLag?: number;
	mergeGap?: number;
	minDuration?: number;
	stallTimeout?: number;
	testTimeout?: number;
	threads?: number;
	window?: number;
}

export function sourceKind(ctx: ITriggerFunctions): SourceKind {
	const kind = ctx.getNodeParameter('source', 'http') as string;
	return kind === 'hls' || kind === 'ffmpeg' ? kind : 'http';
}

/** The URL, checked for its source before anything connects: http(s) for HTTP and HLS; a network protocol (or an allowed capture device) for FFmpeg. */
export function checkedUrl(ctx: ITriggerFunctions, kind: SourceKind = sourceKind(ctx), headers?: Record<string, string>): string {
	const url = String(ctx.getNodeParameter('url', '')).trim();
	if (!url) throw new NodeOperationError(ctx.getNode(), 'Stream URL is empty', { description: 'Enter the address of the audio stream, e.g. https://radio.example.com/live.mp3.' });
	try {
		if (kind === 'ffmpeg') ffmpegTarget(url, headers);
		else checkHttpUrl(url);
	} catch (error) {
		throw toTriggerError(ctx.getNode(), error);
	}
	return url;
}

/** n8n's generic credentials as request headers (sent to the stream's own origin only: sources/http.ts). */
export async function authHeaders(ctx: ITriggerFunctions): Promise<Record<string, string> | undefined> {
	const kind = ctx.getNodeParameter('authentication', 'none') as string;
	if (kind === 'basicAuth') {
		const c = (await ctx.getCredentials('httpBasicAuth')) as { user?: string; password?: string };
		return { authorization: `Basic ${Buffer.from(`${c.user ?? ''}:${c.password ?? ''}`).toString('base64')}` };
	}
	if (kind === 'headerAuth') {
		const c = (await ctx.getCredentials('httpHeaderAuth')) as { name?: string; value?: string };
		const name = (c.name ?? '').trim();
		if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
			throw new NodeOperationError(ctx.getNode(), 'The Header Auth credential has no valid header name', {
				description: 'Open the credential and enter a header name such as Authorization or X-Api-Key.',
			});
		}
		return { [name.toLowerCase()]: c.value ?? '' };
	}
	return undefined;
}

/** A CLAP model's default window and hop in the trigger (seconds). */
export const CLAP_WINDOW = 2;
export const CLAP_HOP = 0.5;

/**
 * For a CLAP model, the user's labels and template (required); for a classification model,
 * undefined (and Your Own Labels must be empty: it would be silently ignored otherwise).
 */
export function clapLabels(ctx: ITriggerFunctions, spec: ModelSpec): { candidateLabels: string[]; hypothesisTemplate: string } | undefined {
	const raw = String(ctx.getNodeParameter('candidateLabels', '') ?? '');
	try {
		const candidateLabels = raw.trim() ? parseCandidateLabels(raw) : [];
		if (!isClap(spec)) {
			if (candidateLabels.length) {
				throw new NodeOperationError(ctx.getNode(), `${spec.name} has labels of its own: Your Own Labels is only for CLAP models`, {
					description: 'Clear Your Own Labels (use Labels to Watch to pick among the model\'s labels), or choose a CLAP model such as Xenova/clap-htsat-unfused.',
				});
			}
			return undefined;
		}
		if (!candidateLabels.length) {
			throw new NodeOperationError(ctx.getNode(), `${spec.name} is a CLAP model: write the sounds to listen for`, {
				description: 'Enter them in Your Own Labels, comma-separated, with a background label, e.g. smoke alarm, dog barking, background noise.',
			});
		}
		const options = ctx.getNodeParameter('options', {}) as TriggerOptions;
		const hypothesisTemplate = options.hypothesisTemplate || DEFAULT_HYPOTHESIS_TEMPLATE;
		hypotheses(candidateLabels, hypothesisTemplate); // a template without {} fails here
		return { candidateLabels, hypothesisTemplate };
	} catch (error) {
		if (error instanceof NodeOperationError) throw error;
		throw toTriggerError(ctx.getNode(), error);
	}
}

/** The model, from the same sources as the Audio Classification node (Classify models). */
export async function modelForTrigger(ctx: ITriggerFunctions): Promise<ModelSpec> {
	const source = ctx.getNodeParameter('modelSource', 'builtIn') as string;
	const dtype: DtypeChoice = 'auto';
	try {
		if (source === 'localFolder') {
			const ref = String(ctx.getNodeParameter('modelPath', '')).trim();
			if (!ref) throw new NodeOperationError(ctx.getNode(), 'Model Folder is empty', { description: 'Enter the absolute path of a model folder in Hugging Face Hub layout.' });
			// n8n gives triggers no file-access helpers: the same settings are applied here (mirror).
			const dir = await allowedPath(ctx, 0, ref, 'model folder', true);
			const spec = loadModelSpec(dir, dtype, ref);
			assertModelFilesAllowed(ctx, 0, spec, true);
			return spec;
		}
		if (source === 'huggingFaceHub') {
			const repoId = String(ctx.getNodeParameter('model', '', { extractValue: true })).trim();
			const revision = String(ctx.getNodeParameter('revision', 'main') || 'main').trim();
			const { dir } = await downloadForNode(ctx, { repoId, revision, dtype });
			return loadModelSpec(dir, dtype, repoId);
		}
		const { dir, model } = resolveBuiltIn(ctx.getNodeParameter('builtInModel', 'speech-commands-dscnn') as string);
		return loadModelSpec(dir, dtype, model.id);
	} catch (error) {
		throw toTriggerError(ctx.getNode(), error);
	}
}

/** Labels to Watch, checked against the model's labels (a typo would otherwise never fire). */
export function parseWatchedLabels(ctx: ITriggerFunctions, spec: ModelSpec): string[] | undefined {
	const raw = String(ctx.getNodeParameter('labels', '') ?? '');
	const labels = raw.split(',').map((l) => l.trim()).filter(Boolean);
	if (!labels.length) return undefined;
	const known = Object.values(spec.config.id2label ?? {});
	const byLower = new Map(known.map((l) => [l.toLowerCase(), l]));
	const out: string[] = [];
	for (const l of labels) {
		const match = known.includes(l) ? l : byLower.get(l.toLowerCase());
		if (!match) {
			const sample = known.length > 30 ? `${known.slice(0, 30).join(', ')}, ... (${known.length} in all)` : known.join(', ');
			throw new NodeOperationError(ctx.getNode(), `"${l.slice(0, 80)}" is not a label of ${spec.name}`, {
				description: `Labels to Watch must be labels the model has: ${sample}.`,
			});
		}
		out.push(match);
	}
	return out;
}

const UI_NAMES = {
	endpoint: "the Hugging Face Hub credential's Endpoint URL",
	offline: 'HF_HUB_OFFLINE',
	device: 'the device',
	backend: 'the backend',
} as const;

export function toTriggerError(node: INode, error: unknown): NodeOperationError {
	if (error instanceof NodeOperationError) return error;
	if (error instanceof AudioClassificationError) {
		return new NodeOperationError(node, renderSettings(error.messageTemplate, UI_NAMES), { description: renderSettings(error.hintTemplate, UI_NAMES) });
	}
	return new NodeOperationError(node, error as Error);
}
