import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import * as classify from './actions/classify.operation';
import * as detectEvents from './actions/detectEvents.operation';
import * as zeroShot from './actions/zeroShot.operation';
import { commonProperties, operationProperty, optionsProperty } from './descriptions/common';
import { type AudioOperation, type BatchedOperation, engineOptions, forEachAudio } from './helpers/run';
import { searchModels } from './methods/listSearch';
import { prewarm } from '../../src';

// n8n loads the node at its start: ONNX Runtime's thread and the default built-in model load
// then, off n8n's thread, with the options an execution with no Options set uses, not during
// the first execution (N8N_AUDIO_CLASSIFICATION_PREWARM=false: off)
void prewarm(engineOptions({}));

/** One file per operation under actions/; this class only describes and routes. */
const operations: Record<string, AudioOperation | BatchedOperation> = {
	classify: classify.batched,
	detectEvents: detectEvents.execute,
	zeroShot: zeroShot.batched,
};

export class AudioClassification implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Audio Classification',
		name: 'audioClassification',
		icon: { light: 'file:audioClassification.svg', dark: 'file:audioClassification.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle:
			'={{($parameter["operation"] === "detectEvents" ? "Detect events: " : $parameter["operation"] === "zeroShot" ? "Your labels: " : "") + ($parameter["modelSource"] === "localFolder" ? $parameter["modelPath"] : $parameter["modelSource"] === "huggingFaceHub" ? $parameter["model"].value : $parameter["builtInModel"])}}',
		description:
			'Classify audio (spoken commands, sound events, emotion, language, or labels you write) with Hugging Face models on ONNX Runtime',
		defaults: { name: 'Audio Classification' },
		inputs: ['main'],
		outputs: ['main'],
		usableAsTool: true,
		credentials: [
			{
				name: 'huggingFaceHubApi',
				required: false,
				displayOptions: { show: { modelSource: ['huggingFaceHub'] } },
			},
		],
		properties: [
			operationProperty,
			...commonProperties,
			...classify.description,
			...detectEvents.description,
			...zeroShot.description,
			optionsProperty(detectEvents.options),
		],
	};

	methods = { listSearch: { searchModels } };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const operation = this.getNodeParameter('operation', 0, 'classify') as string;
		const run = operations[operation];
		if (!run) throw new NodeOperationError(this.getNode(), `Unknown operation "${operation}"`);
		return await forEachAudio(this, run);
	}
}
