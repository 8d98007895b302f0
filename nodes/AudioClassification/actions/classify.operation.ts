/** Classify: the labels of the whole clip, as Python's audio-classification pipeline gives them. */
import type { IDataObject, INodeProperties } from 'n8n-workflow';

import { type Classification, classifyPrepared, prepareAudio } from '../../../src';
import { type AudioInput, type BatchedOperation, engineOptions } from '../helpers/run';

/** Top K and Output Mode are shared with Classify with Your Own Labels: same results, same items. */
const show = { show: { operation: ['classify', 'zeroShot'] } };

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

function postOptions({ options, parameter }: AudioInput) {
	return {
		topK: parameter('topK', 5) as number,
		functionToApply: options.functionToApply ?? 'softmax',
		minScore: options.minScore || undefined,
	};
}

/**
 * What the node runs: each item decoded and featurised on its own (its errors
 * stay on it), then items of the same model and shape share ONNX Runtime calls.
 */
export const batched: BatchedOperation = {
	async prepare(input) {
		const prepared = await prepareAudio(input.audio, input.spec, engineOptions(input.options, input.signal));
		return { ...prepared, post: postOptions(input) };
	},
	async run(inputs, prepared) {
		const first = inputs[0];
		const results = await classifyPrepared(prepared, first.spec, { ...postOptions(first), ...engineOptions(first.options, first.signal) });
		return results.map((result, i) => {
			if (result instanceof Error) return result;
			const mode = inputs[i].parameter('outputMode', 'perLabel') as string;
			return { items: toItems(result, mode, inputs[i].base, inputs[i].context), info: result };
		});
	},
};

export function toItems(result: Classification, mode: string, base: IDataObject, context: IDataObject): IDataObject[] {
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
