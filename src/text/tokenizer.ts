/**
 * The text side of CLAP: the repo's own tokenizer.json, run by
 * @huggingface/tokenizers (the pure-JS port of Hugging Face's tokenizers that
 * transformers.js uses; no native code, no install scripts), padded to the
 * longest text of the batch with the tokenizer's pad token and an
 * attention mask, as Python's `tokenizer(texts, padding=True)` gives them.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import { ModelConfigError, ModelNotFoundError } from '../errors';
import type { FeatureTensor } from '../features';

interface HfTokenizer {
	encode(text: string): { ids: number[] };
	token_to_id(token: string): number | undefined;
}

export interface TokenBatch {
	input_ids: FeatureTensor;
	attention_mask: FeatureTensor;
}

export interface TextTokenizer {
	/** Token ids of one text, special tokens included. */
	ids(text: string): number[];
	/** A padded batch, right-padded to the longest text. */
	batch(texts: string[]): TokenBatch;
}

/** Longest sequence kept (tokenizer_config.json's model_max_length; RoBERTa's 512 when absent or a placeholder). */
const DEFAULT_MAX_LENGTH = 512;

function readJson(dir: string, file: string, required: boolean): Record<string, unknown> | undefined {
	const full = path.join(dir, file);
	if (!existsSync(full)) {
		if (!required) return undefined;
		throw new ModelNotFoundError(
			`The model folder has no ${file} (${dir})`,
			`A CLAP model needs its tokenizer: download ${file} from the model's page into the folder (transformers.js exports such as Xenova/clap-htsat-unfused have it).`,
		);
	}
	try {
		const value = JSON.parse(readFileSync(full, 'utf8')) as unknown;
		if (typeof value !== 'object' || value === null) throw new Error('not an object');
		return value as Record<string, unknown>;
	} catch {
		throw new ModelConfigError(`${file} of the model is not valid JSON`, `Download ${file} again from the model's page.`);
	}
}

const loaded = new Map<string, TextTokenizer>();

/** The tokenizer of a model folder, built once per folder and kept. */
export function loadTokenizer(dir: string): TextTokenizer {
	const file = path.join(dir, 'tokenizer.json');
	const key = `${dir}\u0000${existsSync(file) ? statSync(file).mtimeMs : 0}`; // a local folder may be updated in place
	const cached = loaded.get(key);
	if (cached) return cached;
	const json = readJson(dir, 'tokenizer.json', true)!;
	const config = readJson(dir, 'tokenizer_config.json', false) ?? {};
	let tokenizer: HfTokenizer;
	try {
		const { Tokenizer } = require('@huggingface/tokenizers') as { Tokenizer: new (json: object, config: object) => HfTokenizer };
		tokenizer = new Tokenizer(json, config);
	} catch (error) {
		throw new ModelConfigError(
			`The model's tokenizer.json could not be read (${String((error as Error).message).slice(0, 160)})`,
			"Download tokenizer.json again from the model's page; it must be a Hugging Face tokenizers file.",
		);
	}
	const padToken = typeof config.pad_token === 'string' ? config.pad_token : (config.pad_token as { content?: string } | undefined)?.content;
	const padding = json.padding as { pad_id?: number } | null | undefined;
	const padId = (padToken !== undefined ? tokenizer.token_to_id(padToken) : undefined) ?? padding?.pad_id ?? 0;
	const declared = Number(config.model_max_length);
	const maxLength = Number.isFinite(declared) && declared > 1 && declared <= 1e6 ? Math.floor(declared) : DEFAULT_MAX_LENGTH;

	const ids = (text: string): number[] => {
		const out = tokenizer.encode(text).ids;
		// Too long: keep the start and the closing special token, as truncation=True does.
		return out.length > maxLength ? [...out.slice(0, maxLength - 1), out[out.length - 1]] : out;
	};
	const result: TextTokenizer = {
		ids,
		batch(texts) {
			const rows = texts.map(ids);
			const width = Math.max(...rows.map((r) => r.length));
			const inputIds = new BigInt64Array(rows.length * width).fill(BigInt(padId));
			const mask = new BigInt64Array(rows.length * width);
			rows.forEach((r, i) => {
				for (let j = 0; j < r.length; j++) {
					inputIds[i * width + j] = BigInt(r[j]);
					mask[i * width + j] = 1n;
				}
			});
			return {
				input_ids: { type: 'int64', data: inputIds, dims: [rows.length, width] },
				attention_mask: { type: 'int64', data: mask, dims: [rows.length, width] },
			};
		},
	};
	loaded.set(key, result);
	return result;
}
