/**
 * Classify with Your Own Labels: zero-shot audio classification with a CLAP
 * model, as Python's zero-shot-audio-classification pipeline; the labels
 * are written in the node (or mapped from earlier items) and the results
 * have the same shape as Classify's.
 */
import type { INodeProperties } from 'n8n-workflow';

import {
	assertClap,
	DEFAULT_HYPOTHESIS_TEMPLATE,
	hypotheses,
	parseCandidateLabels,
	prepareAudio,
	type ZeroShotClip,
	zeroShotPrepared,
} from '../../../src';
import { type AudioInput, type BatchedOperation, engineOptions } from '../helpers/run';
import { toItems } from './classify.operation';

const show = { show: { operation: ['zeroShot'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Candidate Labels',
		name: 'candidateLabels',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'e.g. a dog barking, glass breaking, a siren, people talking',
		description:
			'The sounds to listen for, in words, separated by commas. An expression may also return a list, e.g. labels from an earlier node.',
		displayOptions: show,
	},
	{
		displayName: 'Hypothesis Template',
		name: 'hypothesisTemplate',
		type: 'string',
		default: DEFAULT_HYPOTHESIS_TEMPLATE,
		description: 'The sentence each label is put into ({} marks where), as the model compares the audio with sentences',
		displayOptions: show,
	},
];

function labelsOf({ parameter }: AudioInput): { candidateLabels: string[]; hypothesisTemplate: string } {
	const candidateLabels = parseCandidateLabels(parameter('candidateLabels', '') as string);
	const hypothesisTemplate = (parameter('hypothesisTemplate', DEFAULT_HYPOTHESIS_TEMPLATE) as string) || DEFAULT_HYPOTHESIS_TEMPLATE;
	hypotheses(candidateLabels, hypothesisTemplate); // a template without {} fails on its own item
	return { candidateLabels, hypothesisTemplate };
}

function postOptions({ options, parameter }: AudioInput) {
	return { topK: parameter('topK', 5) as number, minScore: options.minScore || undefined };
}

export const batched: BatchedOperation = {
	async prepare(input) {
		assertClap(input.spec);
		const labels = labelsOf(input);
		const prepared = await prepareAudio(input.audio, input.spec, engineOptions(input.options, input.signal));
		return { ...prepared, ...labels, post: postOptions(input) } as ZeroShotClip;
	},
	async run(inputs, prepared) {
		const first = inputs[0];
		const results = await zeroShotPrepared(prepared as ZeroShotClip[], first.spec, {
			...postOptions(first),
			...engineOptions(first.options, first.signal),
		});
		return results.map((result, i) => {
			if (result instanceof Error) return result;
			const mode = inputs[i].parameter('outputMode', 'perLabel') as string;
			return { items: toItems(result, mode, inputs[i].base, inputs[i].context), info: result };
		});
	},
};
