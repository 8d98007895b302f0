/** The built-in models, listed by models/catalog.json (adding a model is adding data). */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { ModelNotFoundError } from '../errors';

export interface BuiltInModel {
	id: string;
	name: string;
	description: string;
	/** Folder under models/, in Hub layout. */
	path: string;
	default?: boolean;
}

/** A Hub repo known to have an ONNX export in the layout the node reads. */
export interface HubCatalogEntry {
	id: string;
	task: string;
	useCase: string;
	architecture: string;
	labels: number | null;
	samplingRate: number;
	sizes: Record<string, string> | null;
	license: string;
	/** Public page that shows the repo and its onnx/ files. */
	source: string;
	/** The Hub pipeline: audio-classification (default) or zero-shot-audio-classification (CLAP). */
	pipeline?: 'audio-classification' | 'zero-shot-audio-classification';
	/** Every file of the repo's onnx/ folder with its size, as the Hub lists it. */
	files?: Record<string, string>;
}

interface Catalog {
	builtIn: BuiltInModel[];
	hub: HubCatalogEntry[];
}

/** models/ sits next to src/ in the repo and next to dist/src/ after the build. */
function modelsDir(): string {
	return path.resolve(__dirname, '..', '..', 'models');
}

function readCatalog(dir = modelsDir()): Catalog {
	return JSON.parse(readFileSync(path.join(dir, 'catalog.json'), 'utf8')) as Catalog;
}

export function builtInModels(): BuiltInModel[] {
	return readCatalog().builtIn;
}

export function hubCatalog(): HubCatalogEntry[] {
	return readCatalog().hub ?? [];
}

export function resolveBuiltIn(id: string): { dir: string; model: BuiltInModel } {
	const model = builtInModels().find((m) => m.id === id);
	if (!model) {
		const known = builtInModels()
			.map((m) => m.id)
			.join(', ');
		throw new ModelNotFoundError(
			`Unknown built-in model "${id}"`,
			`Built-in models: ${known}. Pick one from the list, or use "Local Folder".`,
		);
	}
	return { dir: path.join(modelsDir(), model.path), model };
}
