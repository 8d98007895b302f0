/**
 * What every operation shares: per input item and binary field, resolve the
 * model (once per execution), read the audio, call the operation, pair its
 * outputs to the item; errors become one error item (Continue On Fail) or
 * fail the node, naming the item, field and file; a stopped execution stops.
 */
import type { IBinaryData, IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import {
	AudioClassificationError,
	type BackendChoice,
	type DecoderChoice,
	DEFAULT_MAX_DURATION_S,
	type Device,
	type DtypeChoice,
	featureValues,
	type FunctionToApply,
	loadModelSpec,
	MAX_BATCH,
	maxDurationCeiling,
	type ModelSpec,
	type PreparedAudio,
	renderSettings,
	resolveBuiltIn,
	sessionCache,
	type Setting,
} from '../../../src';
import { resolveHubModelDir } from './hub';
import { type ParameterReader, parameterReader } from './parameters';
import { allowedPath, assertModelFilesAllowed } from './fileAccess';

export interface NodeOptions {
	allBinaryProperties?: boolean;
	backend?: BackendChoice;
	decoder?: DecoderChoice;
	cacheDir?: string;
	offline?: boolean;
	device?: Device;
	dtype?: DtypeChoice;
	ffmpegPath?: string;
	functionToApply?: FunctionToApply;
	keepInputFields?: boolean;
	maxDuration?: number;
	minScore?: number;
	threads?: number;
	// Detect Events
	window?: number;
	hop?: number;
	threshold?: number;
	minDuration?: number;
	mergeGap?: number;
	ignoreLabels?: string;
	includeWindows?: boolean;
	timeline?: boolean;
}

export interface AudioInput {
	itemIndex: number;
	item: INodeExecutionData;
	options: NodeOptions;
	spec: ModelSpec;
	audio: Buffer;
	signal?: AbortSignal;
	/** Copied into each output: input fields (when asked), model, binaryProperty, fileName. */
	base: IDataObject;
	/** This item's value of a node parameter (resolved once per execution when it has no expression). */
	parameter(name: string, fallback?: unknown): unknown;
	context: { model: string; binaryProperty: string; fileName: string | null };
}

/** What an operation reports about its run, for the log. */
export interface RunInfo {
	backend: string;
	provider: string;
	decoder: string;
	fallbackReason?: string;
}

export interface OperationResult {
	items: IDataObject[];
	info: RunInfo;
	/** Extra binary fields for every output item (by reference). */
	binary?: Record<string, IBinaryData>;
}

export type AudioOperation = (this: IExecuteFunctions, input: AudioInput) => Promise<OperationResult>;

/**
 * An operation whose items can share ONNX Runtime calls: `prepare` does each
 * item's own work (decode, features; its errors stay on its item), `run`
 * classifies several prepared items of one model together.
 */
export interface BatchedOperation {
	prepare(this: IExecuteFunctions, input: AudioInput): Promise<PreparedAudio>;
	run(this: IExecuteFunctions, inputs: AudioInput[], prepared: PreparedAudio[]): Promise<Array<OperationResult | Error>>;
}

/** Prepared inputs held before a batch runs: at most this many, and this many input values (floats, 32 MB). */
const PENDING_ITEMS = MAX_BATCH;
const PENDING_VALUES = 8_000_000;

/** One log line per model load in this process: in queue mode, each worker should load a model once. */
let watchingLoads = false;
function logModelLoads(ctx: IExecuteFunctions): void {
	if (watchingLoads) return;
	watchingLoads = true;
	const logger = ctx.logger;
	sessionCache.onLoad((e) =>
		logger.info(
			e.prewarm
				? `Audio Classification: the default built-in model was preloaded when n8n loaded the node (pid ${process.pid}): ${e.onnxPath} on ONNX Runtime ${e.backend} (${e.provider}) in ${e.ms} ms; N8N_AUDIO_CLASSIFICATION_PREWARM=false turns this off`
				: `Audio Classification: model loaded into this process (pid ${process.pid}): ${e.onnxPath} on ONNX Runtime ${e.backend} (${e.provider}) in ${e.ms} ms; loads so far: ${e.loads}`,
		),
	);
}

export async function forEachAudio(ctx: IExecuteFunctions, operation: AudioOperation | BatchedOperation): Promise<INodeExecutionData[][]> {
	logModelLoads(ctx);
	const items = ctx.getInputData();
	const parameter = parameterReader(ctx);
	const out: INodeExecutionData[] = [];
	const specs = new Map<string, ModelSpec | Error>();
	const signal = ctx.getExecutionCancelSignal?.();
	const batched = typeof operation === 'function' ? undefined : operation;

	const emit = (input: AudioInput, binary: IBinaryData, result: OperationResult) => {
		const { items: produced, info, binary: extra } = result;
		if (info.fallbackReason) logOnce(ctx, 'warn', `Audio Classification: ${info.fallbackReason}`);
		logOnce(ctx, 'info', `Audio Classification: ${input.spec.name} runs on ONNX Runtime ${info.backend} (${info.provider}); audio decoded by ${info.decoder}`);
		const binaryOut: Record<string, IBinaryData> = { [input.context.binaryProperty]: binary, ...extra };
		out.push(...produced.map((json) => ({ json, binary: binaryOut, pairedItem: { item: input.itemIndex } })));
	};
	const fail = (error: unknown, itemIndex: number, where: string) => {
		const nodeError = toNodeError(ctx, error, itemIndex, where);
		if (!ctx.continueOnFail()) throw nodeError;
		out.push({ json: { error: nodeError.message, hint: nodeError.description ?? null }, pairedItem: { item: itemIndex } });
	};

	// Batched operations: prepared items wait here until a batch is full, the model changes, or the input ends.
	let pending: Array<{ input: AudioInput; prepared: PreparedAudio; binary: IBinaryData; where: string }> = [];
	let pendingKey = '';
	let pendingValues = 0;
	// A batch runs in ONNX Runtime's worker thread while the next items are decoded here.
	let running: Promise<void> = Promise.resolve();
	const runBatch = async (batch: typeof pending) => {
		let results: Array<OperationResult | Error>;
		try {
			results = await batched!.run.call(ctx, batch.map((p) => p.input), batch.map((p) => p.prepared));
		} catch (error) {
			results = batch.map(() => error as Error);
		}
		return results;
	};
	/** Starts the pending batch; its outputs follow the previous batch's. */
	const flush = async () => {
		if (!batched || pending.length === 0) return;
		const batch = pending;
		pending = [];
		pendingValues = 0;
		const results = runBatch(batch);
		const previous = running;
		running = (async () => {
			await previous;
			const r = await results;
			batch.forEach((p, i) => {
				const result = r[i];
				if (result instanceof Error) fail(result, p.input.itemIndex, p.where);
				else emit(p.input, p.binary, result);
			});
		})();
		running.catch(() => undefined); // handled where it is awaited (next flush or drain); never an unhandled rejection
		// Keep at most one batch waiting: bounded memory, and a failure (without Continue On Fail) stops the loop.
		await previous;
	};
	/** Every started batch has emitted its outputs. */
	const drain = async () => {
		await flush();
		await running;
	};

	for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
		if (signal?.aborted) {
			// A stopped execution does no more work; its result is discarded anyway.
			throw new NodeOperationError(ctx.getNode(), 'The execution was cancelled', { itemIndex });
		}
		let where = `item ${itemIndex}`;
		try {
			const options = parameter('options', itemIndex, {}) as NodeOptions;
			const spec = await modelFor(ctx, itemIndex, options, specs, parameter);
			const item = items[itemIndex];
			for (const property of binaryPropertiesOf(ctx, item, itemIndex, options, parameter)) {
				where = `item ${itemIndex}, binary field "${property}"`;
				const binary = ctx.helpers.assertBinaryData(itemIndex, property);
				if (binary.fileName) where += `, file "${binary.fileName}"`;
				const audio = await ctx.helpers.getBinaryDataBuffer(itemIndex, property);
				const base: IDataObject = options.keepInputFields ? { ...item.json } : {};
				const context = { model: spec.name, binaryProperty: property, fileName: binary.fileName ?? null };
				const input: AudioInput = {
					itemIndex,
					item,
					options,
					spec,
					audio,
					signal,
					base,
					context,
					parameter: (name, fallback) => parameter(name, itemIndex, fallback),
				};
				if (!batched) {
					emit(input, binary, await (operation as AudioOperation).call(ctx, input));
					continue;
				}
				const key = `${spec.onnxPath}\u0000${JSON.stringify(engineOptions(options, undefined))}`;
				if (key !== pendingKey) await flush();
				pendingKey = key;
				const prepared = await batched.prepare.call(ctx, input);
				pending.push({ input, prepared, binary, where });
				pendingValues += featureValues(prepared.features);
				if (pending.length >= PENDING_ITEMS || pendingValues >= PENDING_VALUES) await flush();
			}
		} catch (error) {
			await drain(); // the items before this one keep their place in the output
			fail(error, itemIndex, where);
		}
	}
	await drain();
	return [out];
}

/**
 * The options every operation passes to the engine. Max Duration defaults to
 * 10 minutes for Classify (the whole clip is one input) and 3 hours for
 * Detect Events (streamed), within the instance's ceiling.
 */
export function engineOptions(options: NodeOptions, signal?: AbortSignal, defaultMaxDuration = DEFAULT_MAX_DURATION_S) {
	return {
		device: options.device ?? 'cpu',
		backend: options.backend ?? 'auto',
		decoder: options.decoder ?? 'auto',
		threads: options.threads || undefined,
		ffmpegPath: options.ffmpegPath || undefined,
		maxDuration: maxDurationOf(options, defaultMaxDuration),
		signal,
	} as const;
}

async function modelFor(
	ctx: IExecuteFunctions,
	itemIndex: number,
	options: NodeOptions,
	cache: Map<string, ModelSpec | Error>,
	parameter: ParameterReader,
): Promise<ModelSpec> {
	const dtype = options.dtype ?? 'auto';
	const source = parameter('modelSource', itemIndex) as string;
	let ref: string;
	if (source === 'localFolder') ref = (parameter('modelPath', itemIndex) as string).trim();
	else if (source === 'huggingFaceHub') {
		const model = parameter('model', itemIndex, '', { extractValue: true }) as string;
		ref = `${model}@${parameter('revision', itemIndex, 'main') as string}`;
	} else ref = parameter('builtInModel', itemIndex) as string;
	const key = `${source}\u0000${ref}\u0000${dtype}`;
	const cached = cache.get(key);
	if (cached instanceof Error) throw cached; // one failed load (e.g. Hub unreachable) is not retried per item
	if (cached) return cached;
	let spec: ModelSpec;
	try {
		if (source === 'localFolder') {
			if (!ref) {
				throw new NodeOperationError(ctx.getNode(), 'Model Folder is empty', {
					itemIndex,
					description: 'Enter the absolute path of a model folder in Hugging Face Hub layout.',
				});
			}
			const dir = await allowedPath(ctx, itemIndex, ref, 'model folder');
			spec = loadModelSpec(dir, dtype, ref);
			assertModelFilesAllowed(ctx, itemIndex, spec);
		} else if (source === 'huggingFaceHub') {
			const cacheDir = options.cacheDir?.trim()
				? await allowedPath(ctx, itemIndex, options.cacheDir.trim(), 'cache folder')
				: undefined;
			const { dir, repoId } = await resolveHubModelDir(ctx, itemIndex, dtype, { ...options, cacheDir });
			spec = loadModelSpec(dir, dtype, repoId);
		} else {
			const { dir, model } = resolveBuiltIn(ref);
			spec = loadModelSpec(dir, dtype, model.id);
		}
	} catch (error) {
		cache.set(key, error as Error);
		throw error;
	}
	cache.set(key, spec);
	return spec;
}

function binaryPropertiesOf(
	ctx: IExecuteFunctions,
	item: INodeExecutionData,
	itemIndex: number,
	options: NodeOptions,
	parameter: ParameterReader,
): string[] {
	if (options.allBinaryProperties) {
		const names = Object.keys(item.binary ?? {});
		if (names.length === 0) {
			throw new NodeOperationError(ctx.getNode(), 'This item has no binary data', {
				itemIndex,
				description:
					'Make sure the previous node outputs a file (e.g. Read/Write Files from Disk, HTTP Request with "Response Format: File").',
			});
		}
		return names;
	}
	return [(parameter('binaryPropertyName', itemIndex) as string).trim()];
}

/** How the node's panel names the settings the engine's errors refer to. */
const UI_NAMES: Record<Setting, string> = {
	maxDuration: '"Options > Max Duration"',
	dtype: '"Options > Model File Variant"',
	offline: '"Options > Offline Mode"',
	endpoint: "the Hugging Face Hub credential's Endpoint URL",
	decoder: '"Options > Decoder"',
	backend: '"Options > Backend"',
	device: '"Options > Device"',
	ffmpegPath: 'the "Options > FFmpeg Path" option',
	cacheDir: '"Options > Cache Folder"',
	candidateLabels: '"Candidate Labels"',
};

/** Messages logged once per process (a fallback warning on every item would flood the log). */
const logged = new Set<string>();

function logOnce(ctx: IExecuteFunctions, level: 'info' | 'warn', message: string): void {
	if (logged.has(message)) return;
	logged.add(message);
	ctx.logger[level](message);
}

function maxDurationOf(options: NodeOptions, defaultMaxDuration: number): number {
	const chosen = options.maxDuration && options.maxDuration > 0 ? options.maxDuration : defaultMaxDuration;
	return Math.min(chosen, maxDurationCeiling());
}

function toNodeError(ctx: IExecuteFunctions, error: unknown, itemIndex: number, where: string): NodeOperationError {
	if (error instanceof NodeOperationError) {
		if (error.context.itemIndex === undefined) error.context.itemIndex = itemIndex;
		return error;
	}
	if (error instanceof AudioClassificationError) {
		// The engine names settings by parameter name; the panel's names are the node's business.
		return new NodeOperationError(ctx.getNode(), `${renderSettings(error.messageTemplate, UI_NAMES)} (${where})`, {
			itemIndex,
			description: renderSettings(error.hintTemplate, UI_NAMES),
		});
	}
	return new NodeOperationError(ctx.getNode(), error as Error, { itemIndex });
}
