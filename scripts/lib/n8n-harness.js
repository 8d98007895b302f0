// Runs a workflow through n8n's real execution engine (n8n-core's
// WorkflowExecute): real node execution contexts, parameter resolution,
// binary-data helpers, pairedItem and continueOnFail handling. Used by the
// jest tests (with the TypeScript node) and by `npm run demo` (with dist/).
const { readFileSync } = require('node:fs');
const path = require('node:path');

const { ExecutionLifecycleHooks, WorkflowExecute } = require('n8n-core');
const { Workflow, createRunExecutionData } = require('n8n-workflow');

/** Source node: one item per entry of its `files` parameter, each file as binary. */
class ReadAudioFiles {
	constructor() {
		this.description = {
			displayName: 'Read Audio Files',
			name: 'readAudioFiles',
			group: ['input'],
			version: 1,
			description: 'Test and demo source',
			defaults: { name: 'Read Audio Files' },
			inputs: ['main'],
			outputs: ['main'],
			properties: [{ displayName: 'Files', name: 'files', type: 'json', default: '[]' }],
		};
	}

	async execute() {
		const files = JSON.parse(this.getNodeParameter('files', 0));
		const out = [];
		for (const entry of files) {
			if (!entry || !entry.path) {
				out.push({ json: (entry && entry.json) || { note: 'no binary' } });
				continue;
			}
			const data = await this.helpers.prepareBinaryData(readFileSync(entry.path), entry.fileName || path.basename(entry.path));
			out.push({
				json: entry.json || { source: path.basename(entry.path) },
				binary: { [entry.field || 'data']: data },
			});
		}
		return [out];
	}
}

const CLASSIFIER_TYPE = 'n8n-nodes-audio-classification.audioClassification';

/**
 * Runs Read Audio Files -> Audio Classification and returns the classifier's
 * output items, its error (if the node failed) and the whole run.
 */
async function runClassifierWorkflow({ classifier, files, parameters, nodeSettings = {}, cancelAfterMs }) {
	const types = { [CLASSIFIER_TYPE]: classifier, 'harness.readAudioFiles': new ReadAudioFiles() };
	const nodeTypes = {
		getByName: (type) => types[type],
		getByNameAndVersion: (type) => types[type],
		getKnownTypes: () => ({}),
	};
	const source = {
		id: 'source',
		name: 'Read Audio Files',
		type: 'harness.readAudioFiles',
		typeVersion: 1,
		position: [0, 0],
		parameters: { files: JSON.stringify(files) },
	};
	const node = {
		id: 'classifier',
		name: 'Audio Classification',
		type: CLASSIFIER_TYPE,
		typeVersion: 1,
		position: [220, 0],
		parameters,
		...nodeSettings,
	};
	const workflow = new Workflow({
		id: 'harness',
		name: 'harness',
		nodes: [source, node],
		connections: { 'Read Audio Files': { main: [[{ node: 'Audio Classification', type: 'main', index: 0 }]] } },
		active: false,
		nodeTypes,
	});
	const hooks = new ExecutionLifecycleHooks('manual', 'harness-execution', {
		id: 'harness',
		name: 'harness',
		nodes: [source, node],
		connections: workflow.connectionsBySourceNode,
		active: false,
	});
	let resolveRun;
	const done = new Promise((resolve) => (resolveRun = resolve));
	hooks.addHandler('workflowExecuteAfter', (run) => resolveRun(run));
	const additionalData = {
		hooks,
		executionId: 'harness-execution',
		currentNodeParameters: undefined,
		restApiUrl: 'http://localhost/rest',
		instanceBaseUrl: 'http://localhost/',
		webhookBaseUrl: 'http://localhost/webhook',
		webhookWaitingBaseUrl: 'http://localhost/webhook-waiting',
		webhookTestBaseUrl: 'http://localhost/webhook-test',
		formWaitingBaseUrl: 'http://localhost/form-waiting',
		variables: {},
		userId: 'harness-user',
	};
	const runData = createRunExecutionData({
		executionData: { nodeExecutionStack: [{ node: source, data: { main: [[{ json: {} }]] }, source: null }] },
	});
	const execution = new WorkflowExecute(additionalData, 'manual', runData).processRunExecutionData(workflow);
	if (cancelAfterMs !== undefined) {
		// What the Stop button does: n8n aborts the execution's signal and finishes the run as cancelled.
		setTimeout(() => execution.cancel(), cancelAfterMs);
	} else {
		await execution;
	}
	const run = await done;
	const task = run.data.resultData.runData['Audio Classification']?.[0];
	return {
		run,
		items: task?.data?.main?.[0] ?? [],
		error: task?.error ?? run.data.resultData.error,
		executionTime: task?.executionTime,
	};
}

module.exports = { runClassifierWorkflow, ReadAudioFiles, CLASSIFIER_TYPE };
