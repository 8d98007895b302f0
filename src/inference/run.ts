/** Feeds extractor tensors to a session by its input names; returns logits. */
import { GraphMismatchError, ResourceLimitError } from '../errors';
import type { FeatureTensor, FeatureTensors } from '../features';
import type { OutputTensor, RemoteSession } from './worker-host';

export interface Logits {
	data: Float32Array;
	/** Number of classes (last dimension). */
	classes: number;
}

const OUT_OF_MEMORY = /bad_alloc|out of memory|failed to allocate|cannot allocate|allocation fail|ENOMEM/i;

/**
 * Runs several inputs of the same shape as one batch (the graphs take a
 * batch dimension) and returns one row of logits per input.
 */
export async function runClassifierBatch(session: RemoteSession, batch: FeatureTensors[]): Promise<Logits[]> {
	if (batch.length === 1) return [await runClassifier(session, batch[0])];
	const stacked: FeatureTensors = {};
	for (const name of session.inputNames) {
		const parts = batch.map((f) => f[name]);
		if (parts.some((t) => !t)) return [await runClassifier(session, batch[0])]; // reported there
		const first = parts[0];
		const size = first.data.length;
		if (parts.some((t) => t.data.length !== size || t.type !== first.type || t.fill !== first.fill || t.dims.join() !== first.dims.join())) {
			throw new GraphMismatchError('Windows of one batch differ in shape', 'This is a bug: every window of a batch has the same length.');
		}
		stacked[name] = stackTensors(parts);
	}
	const all = await runClassifier(session, stacked, batch.length);
	const rows: Logits[] = [];
	for (let i = 0; i < batch.length; i++) rows.push({ data: all.data.subarray(i * all.classes, (i + 1) * all.classes), classes: all.classes });
	return rows;
}

/** The tensors a graph takes, by its input names; `missing` makes the error for one it lacks. */
export function pickFeeds(inputNames: readonly string[], available: FeatureTensors, missing: (name: string) => Error): FeatureTensors {
	const feeds: FeatureTensors = {};
	for (const name of inputNames) {
		const t = available[name];
		if (!t) throw missing(name);
		feeds[name] = t;
	}
	return feeds;
}

/** Tensors of one shape stacked along the batch dimension. */
export function stackTensors(parts: FeatureTensor[]): FeatureTensor {
	const first = parts[0];
	if (first.fill !== undefined && parts.every((t) => t.fill === first.fill)) {
		return { type: first.type, data: first.data.slice(0, 0), dims: [parts.length, ...first.dims.slice(1)], fill: first.fill };
	}
	const size = first.data.length;
	const Typed = first.type === 'int64' ? BigInt64Array : first.type === 'bool' ? Uint8Array : Float32Array;
	const data = new Typed(size * parts.length);
	parts.forEach((t, i) => (data as Float32Array).set(t.data as Float32Array, i * size));
	return { type: first.type, data, dims: [parts.length, ...first.dims.slice(1)] };
}

export async function runClassifier(session: RemoteSession, features: FeatureTensors, rows = 1): Promise<Logits> {
	const feeds = pickFeeds(session.inputNames, features, (name) =>
		new GraphMismatchError(
			`The ONNX model expects an input "${name}" that this model's feature extractor does not produce (it produces ${Object.keys(features).join(', ')})`,
			'The preprocessor_config.json does not match the ONNX graph: use the files from the same Hub repo and revision.',
		),
	);
	let results: Record<string, OutputTensor>;
	try {
		results = await session.run(feeds);
	} catch (error) {
		const first = String((error as Error).message).split('\n')[0];
		if (OUT_OF_MEMORY.test(first)) {
			throw new ResourceLimitError(
				`ONNX Runtime ran out of memory running the model on this clip (${first.slice(0, 200)})`,
				'Use a shorter clip or a smaller model variant (e.g. q8), load fewer models at once, or give n8n more memory.',
			);
		}
		throw new GraphMismatchError(
			`The ONNX model rejected its input: ${first}`,
			'The model expects a different input shape than its preprocessor_config.json describes (e.g. max_length or num_mel_bins); use the files from the same Hub repo and revision.',
		);
	}
	const output = results.logits ?? results[session.outputNames[0]];
	const dims = output.dims;
	const classes = Number(dims[dims.length - 1]);
	const data = output.data as Float32Array;
	if (output.type !== 'float32' || data.length !== classes * rows) {
		throw new GraphMismatchError(
			`The ONNX model's output is ${output.type} [${dims.join(', ')}], not one row of class scores`,
			'Use an audio-classification export (task audio-classification); CTC or sequence models are not classifiers.',
		);
	}
	if (data.some((v) => !Number.isFinite(v))) {
		throw new GraphMismatchError(
			'The model produced invalid scores (NaN or infinity) for this clip',
			'The model file may be damaged, or the audio is extreme (e.g. full-scale noise); try another variant of the model or check the recording.',
		);
	}
	return { data, classes };
}
