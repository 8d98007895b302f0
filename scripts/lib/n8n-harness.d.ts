import type { IDataObject, INode, INodeExecutionData, INodeParameters, INodeType, IRun } from 'n8n-workflow';

export interface HarnessFile {
	path?: string;
	field?: string;
	/** File name given to the binary (default: the path's base name). */
	fileName?: string;
	json?: IDataObject;
}

export function runClassifierWorkflow(options: {
	classifier: INodeType;
	files: Array<HarnessFile | null>;
	parameters: INodeParameters;
	nodeSettings?: Partial<INode>;
	/** Cancel the execution (as the Stop button does) after this many ms. */
	cancelAfterMs?: number;
}): Promise<{ run: IRun; items: INodeExecutionData[]; error?: Error; executionTime?: number }>;

export const CLASSIFIER_TYPE: string;
