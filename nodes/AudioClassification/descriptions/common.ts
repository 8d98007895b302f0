import type { INodePropertyOptions, INodeProperties } from 'n8n-workflow';

import { builtInModels } from '../../../src';

/** The node's default CLAP model for Classify with Your Own Labels (catalog: models/catalog.json). */
export const DEFAULT_ZERO_SHOT_MODEL = 'Xenova/clap-htsat-unfused';

/** The node's default model; models/catalog.json marks the same one `default`. */
export const DEFAULT_BUILT_IN_MODEL = 'speech-commands-dscnn';

function builtInOptions(): INodePropertyOptions[] {
	try {
		return builtInModels().map((m) => ({ name: m.name, value: m.id, description: m.description }));
	} catch {
		return [];
	}
}

/** The Hub model locator: From List (curated + live search), By ID, By URL. */
function modelLocator(
	defaultValue: { mode: string; value: string },
	description: string,
	displayOptions: INodeProperties['displayOptions'],
): INodeProperties {
	return {
		displayName: 'Model',
		name: 'model',
		type: 'resourceLocator',
		default: defaultValue,
		required: true,
		description,
		displayOptions,
		modes: [
			{
				displayName: 'From List',
				name: 'list',
				type: 'list',
				typeOptions: { searchListMethod: 'searchModels', searchable: true },
			},
			{
				displayName: 'By ID',
				name: 'id',
				type: 'string',
				placeholder: 'e.g. Xenova/ast-finetuned-speech-commands-v2',
				validation: [
					{
						type: 'regex',
						properties: { regex: '[\\w.-]+/[\\w.-]+', errorMessage: 'Use organisation/name' },
					},
				],
			},
			{
				displayName: 'By URL',
				name: 'url',
				type: 'string',
				placeholder: 'e.g. https://huggingface.co/Xenova/ast-finetuned-speech-commands-v2',
				extractValue: { type: 'regex', regex: '^https?://[^/]+/([\\w.-]+/[\\w.-]+)' },
				validation: [
					{
						type: 'regex',
						// n8n anchors validation regexes (^...$): allow /tree/<rev> etc. after the repo
						properties: { regex: 'https?://[^/]+/[\\w.-]+/[\\w.-]+(/.*)?', errorMessage: 'Not a model URL' },
					},
				],
			},
		],
	};
}

/** Operation first, then the model, then each operation's own parameters, then the shared options. */
export const operationProperty: INodeProperties = {
	displayName: 'Operation',
	name: 'operation',
	type: 'options',
	noDataExpression: true,
	options: [
		{
			name: 'Classify',
			value: 'classify',
			description: 'Label the whole clip, as Python\'s audio-classification pipeline does',
			action: 'Classify audio',
		},
		{
			name: 'Detect Events',
			value: 'detectEvents',
			description: 'Find what was said or heard, and when, in a recording',
			action: 'Detect events in audio',
		},
		{
			name: 'Classify with Your Own Labels',
			value: 'zeroShot',
			description: 'Describe the sounds to listen for in words (zero-shot, CLAP models); no training',
			action: 'Classify audio with your own labels',
		},
	],
	default: 'classify',
};

export const commonProperties: INodeProperties[] = [
	{
		displayName: 'Input Binary Field',
		name: 'binaryPropertyName',
		type: 'string',
		default: 'data',
		required: true,
		placeholder: 'e.g. data',
		hint: 'The name of the input binary field containing the audio file',
	},
	{
		displayName: 'Model Source',
		name: 'modelSource',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'Built-In',
				value: 'builtIn',
				description: 'A model shipped with this node; works offline',
			},
			{
				name: 'Hugging Face Hub',
				value: 'huggingFaceHub',
				description: 'Download an ONNX model from the Hub (or a mirror) into the shared Hugging Face cache',
			},
			{
				name: 'Local Folder',
				value: 'localFolder',
				// eslint-disable-next-line n8n-nodes-base/node-param-description-miscased-json -- file names are lowercase
				description: 'A folder in Hugging Face Hub layout (config.json, preprocessor_config.json, onnx/model.onnx)',
			},
		],
		default: 'builtIn',
		displayOptions: { hide: { operation: ['zeroShot'] } },
	},
	{
		displayName: 'Model Source',
		name: 'modelSource',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'Hugging Face Hub',
				value: 'huggingFaceHub',
				description: 'Download a CLAP model from the Hub (or a mirror) into the shared Hugging Face cache',
			},
			{
				name: 'Local Folder',
				value: 'localFolder',
				// eslint-disable-next-line n8n-nodes-base/node-param-description-miscased-json -- file names are lowercase
				description: 'A CLAP folder in Hub layout (config.json, preprocessor_config.json, tokenizer.json, onnx/model.onnx)',
			},
		],
		default: 'huggingFaceHub',
		displayOptions: { show: { operation: ['zeroShot'] } },
	},
	{
		displayName: 'Built-In Model',
		name: 'builtInModel',
		type: 'options',
		options: builtInOptions(),
		default: 'speech-commands-dscnn',
		displayOptions: { show: { modelSource: ['builtIn'] } },
	},
	modelLocator(
		{ mode: 'list', value: '' },
		'An audio-classification model with ONNX weights (onnx/model*.onnx)',
		{ show: { modelSource: ['huggingFaceHub'] }, hide: { operation: ['zeroShot'] } },
	),
	modelLocator(
		{ mode: 'list', value: DEFAULT_ZERO_SHOT_MODEL },
		'A CLAP model with ONNX weights (onnx/model*.onnx) and tokenizer.json, e.g. the transformers.js exports',
		{ show: { modelSource: ['huggingFaceHub'], operation: ['zeroShot'] } },
	),
	{
		displayName: 'Revision',
		name: 'revision',
		type: 'string',
		default: 'main',
		description: 'Branch, tag or commit of the model repo',
		displayOptions: { show: { modelSource: ['huggingFaceHub'] } },
	},
	{
		displayName: 'Model Folder',
		name: 'modelPath',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'e.g. /home/node/models/ast-finetuned-audioset-10-10-0.4593',
		// eslint-disable-next-line n8n-nodes-base/node-param-description-miscased-json -- file names are lowercase
		description: 'Absolute path, on the machine running n8n, of a folder with config.json, preprocessor_config.json and onnx/model*.onnx',
		displayOptions: { show: { modelSource: ['localFolder'] } },
	},
];

export function optionsProperty(operationOptions: INodeProperties[]): INodeProperties {
	return {
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		options: [...sharedOptions, ...operationOptions].sort((a, b) => a.displayName.localeCompare(b.displayName)),
	};
}

const sharedOptions: INodeProperties[] = [
	{
		displayName: 'Backend',
		name: 'backend',
		type: 'options',
		options: [
			{
				name: 'Auto',
				value: 'auto',
				description: 'Native ONNX Runtime when it loads on this system, else WebAssembly (e.g. n8n\'s Alpine Docker image)',
			},
			{ name: 'Native', value: 'native', description: 'Onnxruntime-node: fastest, supports GPUs; glibc Linux, macOS, Windows' },
			{ name: 'WebAssembly', value: 'wasm', description: 'Onnxruntime-web inside Node: runs everywhere, CPU only, slower' },
		],
		default: 'auto',
		description: 'Which ONNX Runtime runs the model',
	},
	{
		displayName: 'Cache Folder',
		name: 'cacheDir',
		type: 'string',
		default: '',
		placeholder: 'e.g. /home/node/.cache/huggingface/hub',
		description:
			'Where Hub models are kept (huggingface_hub layout, shared with Python tools). Empty: HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.',
	},
	{
		displayName: 'Classify All Binary Fields',
		name: 'allBinaryProperties',
		type: 'boolean',
		default: false,
		description:
			'Whether to classify every binary field of each item instead of only the Input Binary Field',
	},
	{
		displayName: 'Decoder',
		name: 'decoder',
		type: 'options',
		options: [
			{
				name: 'Auto',
				value: 'auto',
				description: 'Built-in decoders (WAV, MP3, FLAC, Ogg Opus/Vorbis, WebM/Opus, M4A/MP4/MOV, AAC, AMR, AIFF, CAF), ffmpeg for the rest',
			},
			{ name: 'Built-In Only', value: 'builtIn', description: 'Never run ffmpeg' },
			{ name: 'FFmpeg', value: 'ffmpeg', description: 'Decode everything with ffmpeg, exactly as the Python pipeline does' },
		],
		default: 'auto',
		description: 'How the audio is decoded',
	},
	{
		displayName: 'Device',
		name: 'device',
		type: 'options',
		options: [
			{ name: 'Auto', value: 'auto', description: 'GPU if its provider loads, else CPU' },
			{ name: 'CoreML (macOS)', value: 'coreml' },
			{ name: 'CPU', value: 'cpu' },
			{ name: 'CUDA (NVIDIA, Linux)', value: 'cuda' },
			{ name: 'DirectML (Windows)', value: 'dml' },
		],
		default: 'cpu',
		description: 'Where ONNX Runtime runs the model',
	},
	{
		displayName: 'FFmpeg Path',
		name: 'ffmpegPath',
		type: 'string',
		default: '',
		placeholder: 'e.g. /usr/bin/ffmpeg',
		description:
			'Leave empty. Where ffmpeg comes from is an instance setting: FFMPEG_PATH, then the ffmpeg-static package, then ffmpeg on PATH. A path here is only accepted when it names that same ffmpeg.',
	},
	{
		displayName: 'Function to Apply',
		name: 'functionToApply',
		type: 'options',
		options: [
			{
				name: 'Auto',
				value: 'auto',
				description: 'Sigmoid for multi-label models (config.problem_type), else softmax',
			},
			{ name: 'None', value: 'none', description: 'Raw logits' },
			{ name: 'Sigmoid', value: 'sigmoid', description: 'Independent 0..1 score per label' },
			{ name: 'Softmax', value: 'softmax', description: 'Scores over all labels sum to 1' },
		],
		default: 'softmax',
		description: 'How logits become scores, as in the Python pipeline',
		// zero-shot scores are always a softmax over the labels, as in Python
		displayOptions: { hide: { '/operation': ['zeroShot'] } },
	},
	{
		displayName: 'Include Input Fields',
		name: 'keepInputFields',
		type: 'boolean',
		default: false,
		description: "Whether to copy the input item's JSON fields into every output item",
	},
	{
		displayName: 'Max Duration (Seconds)',
		name: 'maxDuration',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 600,
		description:
			'Longest audio accepted; longer files are refused before they are decoded. Default: 600 (10 minutes) for Classify, which reads the whole clip at once; 10800 (3 hours) for Detect Events, which streams it.',
	},
	{
		displayName: 'Minimum Score',
		name: 'minScore',
		type: 'number',
		typeOptions: { minValue: 0, numberPrecision: 4 },
		default: 0,
		description: 'Drop labels scoring below this value (after Top K)',
	},
	{
		displayName: 'Model File Variant',
		name: 'dtype',
		type: 'options',
		options: [
			{ name: 'Auto', value: 'auto', description: 'First that exists: fp32, q8, int8, uint8, fp16, q4' },
			{ name: 'Fp16 (model_fp16.onnx)', value: 'fp16' },
			{ name: 'Fp32 (model.onnx)', value: 'fp32' },
			{ name: 'Int8 (model_int8.onnx)', value: 'int8' },
			{ name: 'Q4 (model_q4.onnx)', value: 'q4' },
			{ name: 'Q8 (model_quantized.onnx)', value: 'q8' },
			{ name: 'Uint8 (model_uint8.onnx)', value: 'uint8' },
		],
		default: 'auto',
		description: 'Which ONNX file of the model folder to load',
	},
	{
		displayName: 'Offline Mode',
		name: 'offline',
		type: 'boolean',
		default: false,
		description:
			'Whether to use only models already in the cache, never the network (also turned on by HF_HUB_OFFLINE=1)',
	},
	{
		displayName: 'Threads',
		name: 'threads',
		type: 'number',
		typeOptions: { minValue: 0 },
		default: 0,
		description: 'CPU threads for ONNX Runtime. 0 lets ONNX Runtime decide.',
	},
];
