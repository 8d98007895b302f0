/** What gets published: dist/ after `npm run build` (npm test builds first). */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

import type { INodeProperties } from 'n8n-workflow';

import { AudioClassification } from '../nodes/AudioClassification/AudioClassification.node';
import { builtInModels } from '../src/model/catalog';

const ROOT = path.join(__dirname, '..');
const properties: INodeProperties[] = new AudioClassification().description.properties;
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const built = existsSync(path.join(ROOT, 'dist', 'nodes'));
const describeBuilt = built ? describe : describe.skip;
if (!built) console.warn('SKIPPED package layout tests: dist/ not built (run npm run build)');

describe('package.json', () => {
	it('declares the n8n community package contract', () => {
		expect(pkg.name).toBe('n8n-nodes-audio-classification');
		expect(pkg.keywords).toContain('n8n-community-node-package');
		expect(pkg.n8n.n8nNodesApiVersion).toBe(1);
		expect(pkg.peerDependencies['n8n-workflow']).toBeDefined();
		expect(pkg.engines.node).toBe('>=20.19');
		expect(pkg.dependencies['ffmpeg-static']).toBeUndefined(); // optional: never breaks install
		expect(pkg.optionalDependencies['ffmpeg-static']).toBeDefined();
	});

	it("the node's default built-in model is the catalog's default", () => {
		const param = properties.find((p) => p.name === 'builtInModel')!;
		const catalogDefault = builtInModels().find((m) => m.default)!;
		expect(param.default).toBe(catalogDefault.id);
		expect((param.options as Array<{ value: string }>).map((o) => o.value)).toContain(catalogDefault.id);
		expect(properties.find((p) => p.name === 'modelSource')!.default).toBe('builtIn');
	});

	it('keeps every public parameter name saved workflows use, and adds operation with classify as default', () => {
		const names = new Set(properties.map((p) => p.name));
		for (const name of ['binaryPropertyName', 'modelSource', 'builtInModel', 'model', 'revision', 'modelPath', 'topK', 'outputMode', 'options']) {
			expect(names.has(name)).toBe(true);
		}
		const options = (properties.find((p) => p.name === 'options')!.options as INodeProperties[]).map((o) => o.name);
		for (const name of ['cacheDir', 'allBinaryProperties', 'device', 'ffmpegPath', 'functionToApply', 'keepInputFields', 'minScore', 'dtype', 'offline', 'threads', 'maxDuration', 'backend', 'decoder']) {
			expect(options).toContain(name);
		}
		for (const name of ['window', 'hop', 'threshold', 'minDuration', 'mergeGap', 'ignoreLabels']) expect(options).toContain(name);
		const operation = properties.find((p) => p.name === 'operation')!;
		expect(operation.default).toBe('classify');
		expect((operation.options as Array<{ value: string }>).map((o) => o.value)).toEqual(['classify', 'detectEvents', 'zeroShot']);
		for (const name of ['candidateLabels', 'hypothesisTemplate']) expect(names.has(name)).toBe(true);
		// Classify keeps Built-In as its default source; Classify with Your Own Labels starts on the Hub's base CLAP model
		const sources = properties.filter((p) => p.name === 'modelSource');
		expect(sources.map((p) => p.default)).toEqual(['builtIn', 'huggingFaceHub']);
		expect(sources[0].displayOptions).toEqual({ hide: { operation: ['zeroShot'] } });
		const zeroShotModel = properties.find((p) => p.name === 'model' && p.displayOptions?.show?.operation)!;
		expect(zeroShotModel.default).toEqual({ mode: 'list', value: 'Xenova/clap-htsat-unfused' });
	});
});

describeBuilt('dist/', () => {
	it('has every node and credential file package.json points to, with icons and codex', () => {
		for (const file of [...pkg.n8n.nodes, ...pkg.n8n.credentials]) expect(existsSync(path.join(ROOT, file))).toBe(true);
		for (const file of [
			'dist/nodes/AudioClassification/audioClassification.svg',
			'dist/nodes/AudioClassification/audioClassification.dark.svg',
			'dist/nodes/AudioClassification/AudioClassification.node.json',
			'dist/credentials/huggingFace.svg',
		]) {
			expect(existsSync(path.join(ROOT, file))).toBe(true);
		}
	});

	it('copies every model file byte for byte', () => {
		for (const model of builtInModels()) {
			for (const file of ['config.json', 'preprocessor_config.json', 'onnx/model.onnx', 'README.md']) {
				const src = readFileSync(path.join(ROOT, 'models', model.path, file));
				const dst = readFileSync(path.join(ROOT, 'dist', 'models', model.path, file));
				expect(dst.equals(src)).toBe(true);
			}
		}
	});

	it('npm pack publishes dist/ with the model and without tests or sources', () => {
		const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
		const files = (JSON.parse(out)[0].files as Array<{ path: string }>).map((f) => f.path);
		expect(files).toContain('dist/models/speech-commands-dscnn/onnx/model.onnx');
		expect(files).toContain('dist/models/catalog.json');
		expect(files).toContain('dist/nodes/AudioClassification/AudioClassification.node.js');
		expect(files.some((f) => f.startsWith('test/') || f.startsWith('src/') || f.startsWith('dist/test/'))).toBe(false);
	});

	it('the built node loads from dist and resolves its bundled model there', () => {
		const out = execFileSync(
			process.execPath,
			[
				'-e',
				"const c=require('./dist/src/model/catalog');console.log(c.resolveBuiltIn('speech-commands-dscnn').dir)",
			],
			{ cwd: ROOT, encoding: 'utf8' },
		);
		expect(out.trim()).toBe(path.join(ROOT, 'dist', 'models', 'speech-commands-dscnn'));
	});
});
