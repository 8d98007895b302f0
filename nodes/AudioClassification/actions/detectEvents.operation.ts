/** Detect Events: what was said or heard, and when, in a recording (sliding windows over the whole file). */
import type { IDataObject, INodeProperties } from 'n8n-workflow';

import { DETECT_MAX_DURATION_S, type Detection, detectEvents } from '../../../src';
import { type AudioOperation, engineOptions } from '../helpers/run';

const show = { show: { operation: ['detectEvents'] } };

export const description: INodeProperties[] = [
	{
		displayName: 'Output Mode',
		name: 'outputMode',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'One Item per Event',
				value: 'perEvent',
				description: 'Each event is an item with label, start, end and scores; easy to route with a Switch',
			},
			{
				name: 'One Item per Input',
				value: 'perInput',
				description: 'Each input stays one item, with an events array and a count per label',
			},
		],
		default: 'perEvent',
		displayOptions: show,
	},
];

/** Inside the Options collection, the operation is referenced from the root ('/operation'). */
const showInOptions = { show: { '/operation': ['detectEvents'] } };

/** Detect Events' own options (in the shared Options collection, shown for this operation). */
export const options: INodeProperties[] = [
	{
		displayName: 'Window (Seconds)',
		name: 'window',
		type: 'number',
		typeOptions: { minValue: 0, numberPrecision: 3 },
		default: 0,
		description:
			"Length of audio classified at a time. 0 = the model's own span: 1 s for the built-in and other keyword models, AST's 10.24 s, Whisper's 30 s, 3 s for other waveform models.",
		displayOptions: showInOptions,
	},
	{
		displayName: 'Hop (Seconds)',
		name: 'hop',
		type: 'number',
		typeOptions: { minValue: 0, numberPrecision: 3 },
		default: 0,
		description: 'Time between the starts of two windows. 0 = a quarter of the window.',
		displayOptions: showInOptions,
	},
	{
		displayName: 'Threshold',
		name: 'threshold',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 1, numberPrecision: 3 },
		default: 0.6,
		description: "Score a window's label must reach to count as an event (an event also needs two overlapping windows)",
		displayOptions: showInOptions,
	},
	{
		displayName: 'Min Duration (Seconds)',
		name: 'minDuration',
		type: 'number',
		typeOptions: { minValue: 0, numberPrecision: 3 },
		default: 0,
		description: 'Drop events shorter than this',
		displayOptions: showInOptions,
	},
	{
		displayName: 'Merge Gap (Seconds)',
		name: 'mergeGap',
		type: 'number',
		typeOptions: { minValue: 0, numberPrecision: 3 },
		default: 0,
		description: 'Join events of the same label separated by less than this. 0 = one hop.',
		displayOptions: showInOptions,
	},
	{
		displayName: 'Ignore Labels',
		name: 'ignoreLabels',
		type: 'string',
		default: '',
		placeholder: 'e.g. _silence_, _unknown_',
		description:
			"Comma-separated labels that never become events. Empty = the model's background labels (_silence_, _unknown_, background, noise, ...).",
		displayOptions: showInOptions,
	},
	{
		displayName: 'Attach Timeline Image',
		name: 'timeline',
		type: 'boolean',
		default: false,
		description:
			'Whether to attach a PNG of the recording\'s loudness over time with the events as labelled spans, as the binary field "timeline" (open it in the output\'s Binary view)',
		displayOptions: showInOptions,
	},
	{
		displayName: 'Include Window Scores',
		name: 'includeWindows',
		type: 'boolean',
		default: false,
		description: 'Whether to add every window\'s scores to the One Item per Input output, to build your own logic',
		displayOptions: showInOptions,
	},
];

export const execute: AudioOperation = async function (input) {
	const { options, spec, audio, signal } = input;
	const ignore = (options.ignoreLabels ?? '').trim();
	const result = await detectEvents(audio, spec, {
		window: options.window || undefined,
		hop: options.hop || undefined,
		threshold: options.threshold ?? undefined,
		minDuration: options.minDuration || undefined,
		mergeGap: options.mergeGap || undefined,
		ignoreLabels: ignore ? ignore.split(',').map((l) => l.trim()).filter(Boolean) : undefined,
		includeWindows: options.includeWindows,
		timeline: options.timeline,
		functionToApply: options.functionToApply ?? 'auto',
		...engineOptions(options, signal, DETECT_MAX_DURATION_S),
	});
	const mode = input.parameter('outputMode', 'perEvent') as string;
	const name = input.context.fileName ? `${input.context.fileName.replace(/\.[^.]*$/, '')}-timeline.png` : 'timeline.png';
	const binary = result.timeline ? { timeline: await this.helpers.prepareBinaryData(result.timeline, name, 'image/png') } : undefined;
	return { items: toItems(result, mode, input.base, input.context), info: result, binary };
};

function toItems(result: Detection, mode: string, base: IDataObject, context: IDataObject): IDataObject[] {
	const events = result.events.map((e) => ({ label: e.label, start: e.start, end: e.end, score: e.score, meanScore: e.meanScore }));
	if (mode === 'perInput') {
		const counts: Record<string, number> = {};
		for (const e of events) counts[e.label] = (counts[e.label] ?? 0) + 1;
		return [
			{
				...base,
				events,
				eventCount: events.length,
				counts,
				duration: Math.round(result.duration * 1000) / 1000,
				window: result.window,
				hop: result.hop,
				...(result.windows ? { windows: result.windows } : {}),
				...context,
			},
		];
	}
	if (events.length === 0) {
		// Nothing detected: the input still yields one item (label null), so none vanishes.
		return [{ ...base, label: null, start: null, end: null, score: null, meanScore: null, ...context }];
	}
	return events.map((e) => ({ ...base, ...e, ...context }));
}
