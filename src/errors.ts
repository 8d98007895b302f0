/**
 * Typed engine errors. Each carries a user-facing message and a hint that
 * tells the user what to do; the node maps them to NodeOperationError
 * without parsing message text.
 */
export class AudioClassificationError extends Error {
	readonly hint: string;

	constructor(message: string, hint: string) {
		super(message);
		this.name = new.target.name;
		this.hint = hint;
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
				'set the FFMPEG_PATH environment variable, or set the node option "FFmpeg Path". ' +
				'WAV files are decoded without ffmpeg.',
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
