/** Classify: the labels of the whole clip, as Python's audio-classification pipeline gives them. */
import type { IDataObject, INodeProperties } from 'n8n-workflow';

import { type Classification, classifyAudio } from '../../../src';
import { type AudioOperation, engineOptions } from '../helpers/run';

const show = { show: { operation: ['classify'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Top K',
		name: 'topK',
		type: 'number',
		typeOptions: { minValue: 0 },
		default: 5,
		description: 'How many of the best labels to return, highest score first. 0 returns every label.',
		displayOptions: show,
	},
	{
		displayName: 'Output Mode',
		name: 'outputMode',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'One Item per Label',
				value: 'perLabel',
				description: 'Each label is an item with label, score and rank; easy to filter or switch on',
			},
			{
				name: 'One Item per Input',
				value: 'perInput',
				description: 'Each input stays one item, with the top label, its score and a labels array',
			},
		],
		default: 'perLabel',
		displayOptions: show,
	},
];

export const execute: AudioOperation = async function (input) {
	const { itemIndex, options, spec, audio, signal } = input;
	const result = await classifyAudio(audio, spec, {
		topK: this.getNodeParameter('topK', itemIndex, 5) as number,
		functionToApply: options.functionToApply ?? 'softmax',
		minScore: options.minScore || undefined,
		...engineOptions(options, signal),
	});
	const mode = this.getNodeParameter('outputMode', itemIndex, 'perLabel') as string;
	return { items: toItems(result, mode, input.base, input.context), info: result };
};

function toItems(result: Classification, mode: string, base: IDataObject, context: IDataObject): IDataObject[] {
	if (mode === 'perInput') {
		const top = result.labels[0];
		return [
			{
				...base,
				label: top?.label ?? null,
				score: top?.score ?? null,
				labels: result.labels.map((l) => ({ label: l.label, score: l.score })),
				...context,
			},
		];
	}
	if (result.labels.length === 0) {
		// Every label was under Minimum Score: the input still yields one item, so none vanishes.
		return [{ ...base, label: null, score: null, rank: null, ...context }];
	}
	return result.labels.map((l, i) => ({ ...base, label: l.label, score: l.score, rank: i + 1, ...context }));
}
