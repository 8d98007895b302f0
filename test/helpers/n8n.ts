/**
 * Runs workflows through n8n's real execution engine (n8n-core's
 * WorkflowExecute), the way n8n's own node tests do: real node execution
 * contexts, parameter resolution, binary-data helpers, pairedItem handling
 * and continueOnFail. A small source node turns fixture files into binary items.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { ExecutionLifecycleHooks, WorkflowExecute } from 'n8n-core';
import {
	createRunExecutionData,
	type IDataObject,
	type IExecuteFunctions,
	type INode,
	type INodeExecutionData,
	type INodeType,
	type INodeTypes,
	type IRun,
	type INodeParameters,
	type IVersionedNodeType,
	type IWorkflowExecuteAdditionalData,
	Workflow,
} from 'n8n-workflow';

import { AudioClassification } from '../../nodes/AudioClassification/AudioClassification.node';

/** Emits one item per entry of its `files` parameter, each file as binary `data`. */
class FixtureFiles implements INodeType {
	description = {
		displayName: 'Fixture Files',
		name: 'fixtureFiles',
		group: ['input'],
		version: 1,
		description: 'Test source',
		defaults: { name: 'Fixture Files' },
		inputs: ['main'],
		outputs: ['main'],
		properties: [
			{ displayName: 'Files', name: 'files', type: 'json', default: '[]' },
			{ displayName: 'Field', name: 'field', type: 'string', default: 'data' },
		],
	} as INodeType['description'];

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const files = JSON.parse(this.getNodeParameter('files', 0) as string) as Array<
			{ path?: string; field?: string; json?: IDataObject } | null
		>;
		const out: INodeExecutionData[] = [];
		for (const entry of files) {
			if (!entry?.path) {
				out.push({ json: entry?.json ?? { note: 'no binary' } });
				continue;
			}
			const data = await this.helpers.prepareBinaryData(readFileSync(entry.path), path.basename(entry.path));
			out.push({ json: entry.json ?? { source: path.basename(entry.path) }, binary: { [entry.field ?? 'data']: data } });
		}
		return [out];
	}
}

const NODE_TYPES: Record<string, INodeType> = {
	'n8n-nodes-audio-classification.audioClassification': new AudioClassification(),
	'test.fixtureFiles': new FixtureFiles(),
};

export const nodeTypes: INodeTypes = {
	getByName: (type: string) => NODE_TYPES[type] as INodeType | IVersionedNodeType,
	getByNameAndVersion: (type: string) => NODE_TYPES[type],
	getKnownTypes: () => ({}),
};

export interface RunResult {
	run: IRun;
	/** Output items of the classifier node, first run, first output. */
	items: INodeExecutionData[];
	error?: Error;
}

export async function runClassifier(
	files: Array<{ path?: string; field?: string; json?: IDataObject } | null>,
	parameters: INodeParameters,
	nodeSettings: Partial<INode> = {},
): Promise<RunResult> {
	const source: INode = {
		id: 'src',
		name: 'Fixture Files',
		type: 'test.fixtureFiles',
		typeVersion: 1,
		position: [0, 0],
		parameters: { files: JSON.stringify(files) },
	};
	const classifier: INode = {
		id: 'clf',
		name: 'Audio Classification',
		type: 'n8n-nodes-audio-classification.audioClassification',
		typeVersion: 1,
		position: [200, 0],
		parameters,
		...nodeSettings,
	};
	const workflow = new Workflow({
		id: 'test',
		nodes: [source, classifier],
		connections: { 'Fixture Files': { main: [[{ node: 'Audio Classification', type: 'main', index: 0 }]] } },
		active: false,
		nodeTypes,
	});
	const hooks = new ExecutionLifecycleHooks('manual', 'test-execution', {
		id: 'test',
		name: 'test',
		nodes: workflow.nodes ? Object.values(workflow.nodes) : [],
		connections: workflow.connectionsBySourceNode,
		active: false,
		activeVersionId: null,
		isArchived: false,
		createdAt: new Date(),
		updatedAt: new Date(),
	} as never);
	let resolveRun!: (run: IRun) => void;
	const done = new Promise<IRun>((resolve) => (resolveRun = resolve));
	hooks.addHandler('workflowExecuteAfter', (run) => resolveRun(run));
	const additionalData = {
		hooks,
		executionId: 'test-execution',
		currentNodeParameters: undefined,
		restApiUrl: 'http://localhost/rest',
		instanceBaseUrl: 'http://localhost/',
		webhookBaseUrl: 'http://localhost/webhook',
		webhookWaitingBaseUrl: 'http://localhost/webhook-waiting',
		webhookTestBaseUrl: 'http://localhost/webhook-test',
		formWaitingBaseUrl: 'http://localhost/form-waiting',
		variables: {},
		userId: 'test-user',
	} as unknown as IWorkflowExecuteAdditionalData;
	const runData = createRunExecutionData({
		executionData: { nodeExecutionStack: [{ node: source, data: { main: [[{ json: {} }]] }, source: null }] },
	});
	await new WorkflowExecute(additionalData, 'manual', runData).processRunExecutionData(workflow);
	const run = await done;
	const taskData = run.data.resultData.runData['Audio Classification']?.[0];
	return {
		run,
		items: taskData?.data?.main?.[0] ?? [],
		error: (taskData?.error ?? run.data.resultData.error) as Error | undefined,
	};
}
