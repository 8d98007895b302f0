/** The TypeScript node run through n8n-core's WorkflowExecute (scripts/lib/n8n-harness.js). */
import type { INode, INodeParameters } from 'n8n-workflow';

import { AudioClassification } from '../../nodes/AudioClassification/AudioClassification.node';
import { type HarnessFile, runClassifierWorkflow } from '../../scripts/lib/n8n-harness';

export async function runClassifier(
	files: Array<HarnessFile | null>,
	parameters: INodeParameters,
	nodeSettings: Partial<INode> = {},
) {
	return await runClassifierWorkflow({ classifier: new AudioClassification(), files, parameters, nodeSettings });
}
