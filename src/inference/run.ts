/** Feeds extractor tensors to a session by its input names; returns logits. */
import type { InferenceSession } from 'onnxruntime-node';

import { GraphMismatchError } from '../errors';
import type { FeatureTensors } from '../features';
import { loadOrt } from './runtime';

export interface Logits {
	data: Float32Array;
	/** Number of classes (last dimension). */
	classes: number;
}

export async function runClassifier(session: InferenceSession, features: FeatureTensors): Promise<Logits> {
	const ort = loadOrt();
	const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
	for (const name of session.inputNames) {
		const t = features[name];
		if (!t) {
			throw new GraphMismatchError(
				`The ONNX model expects an input "${name}" that this model's feature extractor does not produce (it produces ${Object.keys(features).join(', ')})`,
				'The preprocessor_config.json does not match the ONNX graph: use the files from the same Hub repo and revision.',
			);
		}
		feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
	}
	let results: InferenceSession.ReturnType;
	try {
		results = await session.run(feeds);
	} catch (error) {
		throw new GraphMismatchError(
			`The ONNX model rejected its input: ${String((error as Error).message).split('\n')[0]}`,
			'The model expects a different input shape than its preprocessor_config.json describes (e.g. max_length or num_mel_bins); use the files from the same Hub repo and revision.',
		);
	}
	const output = results.logits ?? results[session.outputNames[0]];
	const dims = output.dims;
	const classes = Number(dims[dims.length - 1]);
	const data = output.data as Float32Array;
	if (output.type !== 'float32' || data.length !== classes) {
		throw new GraphMismatchError(
			`The ONNX model's output is ${output.type} [${dims.join(', ')}], not one row of class scores`,
			'Use an audio-classification export (task audio-classification); CTC or sequence models are not classifiers.',
		);
	}
	return { data, classes };
}
