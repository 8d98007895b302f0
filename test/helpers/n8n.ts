/** The TypeScript node run through n8n-core's WorkflowExecute (scripts/lib/n8n-harness.js). */
import { tmpdir } from 'node:os';
import path from 'node:path';

import type { INode, INodeParameters } from 'n8n-workflow';

import { AudioClassification } from '../../nodes/AudioClassification/AudioClassification.node';
import { type HarnessFile, runClassifierWorkflow } from '../../scripts/lib/n8n-harness';

// n8n 2.x only lets nodes reach ~/.n8n-files by default: the tests allow the
// repo (fixture models) and the temp folder (Hub caches), as an admin would
// with N8N_RESTRICT_FILE_ACCESS_TO. Read when n8n-core first builds its config.
process.env.N8N_RESTRICT_FILE_ACCESS_TO ??= [path.resolve(__dirname, '..', '..'), tmpdir()].join(';');

export async function runClassifier(
	files: Array<HarnessFile | null>,
	parameters: INodeParameters,
	nodeSettings: Partial<INode> = {},
) {
	return await runClassifierWorkflow({ classifier: new AudioClassification(), files, parameters, nodeSettings });
}
