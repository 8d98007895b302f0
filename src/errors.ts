/**
 * Typed engine errors. Each carries a user-facing message, a hint that tells
 * the user what to do, and structured data (`kind` plus details) for callers
 * that decide on it; the node maps them to NodeOperationError without
 * parsing message text.
 *
 * The engine does not know n8n's UI: where a message or hint must name a
 * setting, it writes `{settingName}` (the public parameter name, e.g.
 * `{maxDuration}`). `message`/`hint` render those neutrally; the node renders
 * `messageTemplate`/`hintTemplate` with the names its panel shows.
 */
export type Setting = 'maxDuration' | 'dtype' | 'offline' | 'endpoint' | 'decoder' | 'backend' | 'device' | 'ffmpegPath' | 'cacheDir' | 'candidateLabels';

const NEUTRAL_NAMES: Record<Setting, string> = {
	maxDuration: 'the maximum duration setting',
	dtype: 'the model file variant setting',
	offline: 'offline mode',
	endpoint: 'the Hub endpoint',
	decoder: 'the decoder setting',
	backend: 'the backend setting',
	device: 'the device setting',
	ffmpegPath: 'the ffmpeg path setting',
	cacheDir: 'the cache folder setting',
	candidateLabels: 'the candidate labels',
};

/** Replaces `{setting}` tokens with the given names. */
export function renderSettings(text: string, names: Partial<Record<Setting, string>> = {}): string {
	return text.replace(/\{(maxDuration|dtype|offline|endpoint|decoder|backend|device|ffmpegPath|cacheDir|candidateLabels)\}/g, (_, s: Setting) => names[s] ?? NEUTRAL_NAMES[s]);
}

export interface ErrorData {
	/** What went wrong, as a stable id (e.g. 'tooLong', 'variantMissing'); the class name by default. */
	kind: string;
	[detail: string]: unknown;
}

export class AudioClassificationError extends Error {
	readonly hint: string;
	readonly messageTemplate: string;
	readonly hintTemplate: string;
	readonly data: ErrorData;

	constructor(message: string, hint: string, data?: Partial<ErrorData>) {
		super(renderSettings(message));
		this.name = new.target.name;
		this.messageTemplate = message;
		this.hintTemplate = hint;
		this.hint = renderSettings(hint);
		this.data = { kind: new.target.name, ...data };
	}
}

/** The input bytes are empty, truncated or in a format nothing here can read. */
export class AudioDecodeError extends AudioClassificationError {}

/** ffmpeg is needed for this format but was not found anywhere we looked. */
export class FfmpegNotFoundError extends AudioClassificationError {
	readonly tried: string[];

	constructor(tried: string[]) {
		super(
			'This audio format needs ffmpeg, and no ffmpeg was found',
			`Looked in: ${tried.join('; ')}. Install ffmpeg (e.g. "apt-get install ffmpeg" or "apk add ffmpeg"), ` +
				'or set the FFMPEG_PATH environment variable where n8n runs. ' +
				'WAV, MP3, FLAC, Ogg (Opus, Vorbis), WebM/Opus, M4A/MP4/MOV (AAC, ALAC), AAC, AMR, AIFF and CAF files are decoded without ffmpeg.',
		);
		this.tried = tried;
	}
}

/** A model folder or one of its files is missing or unreadable. */
export class ModelNotFoundError extends AudioClassificationError {}

/** config.json / preprocessor_config.json say something we cannot honour. */
export class ModelConfigError extends AudioClassificationError {}

/** The preprocessor's feature_extractor_type has no implementation here. */
export class UnsupportedFeatureExtractorError extends AudioClassificationError {}

/** The ONNX graph's inputs or outputs do not match what the extractor produces. */
export class GraphMismatchError extends AudioClassificationError {}

/** The requested execution provider (CUDA, DirectML, CoreML) cannot be used. */
export class DeviceUnavailableError extends AudioClassificationError {}

/** The input is longer, larger or faster-sampled than the limits allow. */
export class AudioLimitError extends AudioClassificationError {}

/** Running the model on this input would need more memory than the configured budget. */
export class ResourceLimitError extends AudioClassificationError {}

/** The execution was stopped while this item was being processed. */
export class CancelledError extends AudioClassificationError {
	constructor() {
		super('The execution was cancelled', 'The workflow was stopped before this item was finished; run it again.');
	}
}

/** The workflow's "FFmpeg Path" names a program the instance has not made available as ffmpeg. */
export class FfmpegNotAllowedError extends AudioClassificationError {
	constructor() {
		super(
			'{ffmpegPath} does not name an ffmpeg this n8n instance allows',
			'Where ffmpeg comes from is an instance setting: ask the n8n administrator to set the FFMPEG_PATH environment variable ' +
				'(or install ffmpeg on PATH), then clear {ffmpegPath}. It is only accepted when it names that same binary.',
			{ kind: 'ffmpegNotAllowed' },
		);
	}
}
