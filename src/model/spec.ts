/**
 * Reads a model folder in Hugging Face Hub layout into one ModelSpec:
 *
 *   config.json               id2label, problem_type
 *   preprocessor_config.json  feature_extractor_type, sampling_rate, ...
 *   onnx/model*.onnx          one file per dtype (+ *.onnx_data external weights)
 *
 * Nothing downstream knows whether the folder is built in, local or a Hub cache.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import { MAX_SAMPLE_RATE, MIN_SAMPLE_RATE } from '../config';
import { ModelConfigError, ModelNotFoundError } from '../errors';
import type { PreprocessorConfig } from '../features';
import { AUTO_ORDER, type DtypeChoice, type Dtype, variantFileName } from './variants';

export interface ModelConfig {
	id2label?: Record<string, string>;
	problem_type?: string;
	[key: string]: unknown;
}

export interface ModelSpec {
	/** Name shown in the output's `model` field. */
	name: string;
	dir: string;
	onnxPath: string;
	dtype: Dtype;
	config: ModelConfig;
	preprocessor: PreprocessorConfig;
	samplingRate: number;
}

function readJson<T>(dir: string, file: string): T {
	const full = path.join(dir, file);
	if (!existsSync(full)) {
		throw new ModelNotFoundError(
			`The model folder has no ${file} (${dir})`,
			`A model folder needs config.json, preprocessor_config.json and onnx/model.onnx, as on the Hugging Face Hub. Download ${file} from the model's page into the folder.`,
		);
	}
	try {
		return JSON.parse(readFileSync(full, 'utf8')) as T;
	} catch {
		// No parser message: it quotes the file's first bytes, whatever the file is.
		throw new ModelConfigError(`${file} of the model is not valid JSON`, `Download ${file} again from the model's page.`);
	}
}

/** Where variant files live: `onnx/` (Optimum / transformers.js layout) or the root. */
function findVariant(dir: string, dtype: Dtype): string | undefined {
	for (const candidate of [path.join(dir, 'onnx', variantFileName(dtype)), path.join(dir, variantFileName(dtype))]) {
		if (existsSync(candidate)) return candidate;
	}
	return undefined;
}

function listOnnxFiles(dir: string): string[] {
	const found: string[] = [];
	for (const sub of ['', 'onnx']) {
		const d = path.join(dir, sub);
		if (!existsSync(d)) continue;
		for (const f of readdirSync(d)) if (f.endsWith('.onnx')) found.push(path.join(sub, f));
	}
	return found;
}

export function loadModelSpec(dir: string, dtype: DtypeChoice, name?: string): ModelSpec {
	if (!existsSync(dir) || !statSync(dir).isDirectory()) {
		throw new ModelNotFoundError(
			`The model folder does not exist: ${dir}`,
			'Check the path. It must be a folder on the machine running n8n (inside Docker: a mounted volume).',
		);
	}
	const config = readJson<ModelConfig>(dir, 'config.json');
	const preprocessor = readJson<PreprocessorConfig>(dir, 'preprocessor_config.json');
	if (typeof config !== 'object' || config === null || typeof preprocessor !== 'object' || preprocessor === null) {
		throw new ModelConfigError('config.json or preprocessor_config.json is not a JSON object', "Download them again from the model's page.");
	}
	const order = dtype === 'auto' ? AUTO_ORDER : [dtype];
	let chosen: Dtype | undefined;
	let onnxPath: string | undefined;
	for (const candidate of order) {
		onnxPath = findVariant(dir, candidate);
		if (onnxPath) {
			chosen = candidate;
			break;
		}
	}
	if (!onnxPath || !chosen) {
		const present = listOnnxFiles(dir);
		throw new ModelNotFoundError(
			dtype === 'auto'
				? `The model folder has no ONNX model (looked for onnx/model*.onnx in ${dir})`
				: `The model folder has no ${dtype} variant (onnx/${variantFileName(dtype)}) in ${dir}`,
			present.length
				? `Files present: ${present.join(', ')}. Set {dtype} to one of them, or to "Auto".`
				: 'Export the model with Optimum (optimum-cli export onnx --task audio-classification) or pick a Hub repo that has an onnx/ folder.',
		);
	}
	const samplingRate = Number(preprocessor.sampling_rate ?? 16000);
	if (!Number.isInteger(samplingRate) || samplingRate < MIN_SAMPLE_RATE || samplingRate > MAX_SAMPLE_RATE) {
		throw new ModelConfigError(
			`preprocessor_config.json has an invalid sampling_rate (${String(preprocessor.sampling_rate).slice(0, 40)}; supported: ${MIN_SAMPLE_RATE}-${MAX_SAMPLE_RATE} Hz)`,
			'Fix sampling_rate in preprocessor_config.json (usually 16000).',
		);
	}
	return { name: name ?? path.basename(dir), dir, onnxPath, dtype: chosen, config, preprocessor, samplingRate };
}

export function labelOf(config: ModelConfig, index: number): string {
	return config.id2label?.[String(index)] ?? `LABEL_${index}`;
}
