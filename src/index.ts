/** The engine's public surface (no n8n imports anywhere under src/). */
export { decodeAudio, decodeAudioStream, type DecoderChoice } from './audio/decode';
export { locateFfmpeg } from './audio/ffmpeg';
export * from './errors';
export { getFeatureExtractor, SUPPORTED_FEATURE_EXTRACTORS } from './features';
export { type LoadEvent, sessionCache } from './inference/session-cache';
export type { Device } from './inference/runtime';
export { builtInModels, hubCatalog, resolveBuiltIn } from './model/catalog';
export { resolveCacheDir } from './hub/cache';
export { prewarm, runsExecutions } from './prewarm';
export { downloadHubModel, offlineFromEnv, resolveHubAccess, searchHubModels } from './hub/model';
export { loadModelSpec, type ModelSpec } from './model/spec';
export { AUTO_ORDER, type DtypeChoice } from './model/variants';
export { classifyAudio, classifyPrepared, MAX_BATCH, prepareAudio, zeroShotAudio, type Classification, type ClassifyOptions, type PreparedAudio } from './pipeline';
export { featureValues } from './tasks/classifier';
export type { FunctionToApply, LabelScore } from './postprocess';
export { DEFAULT_MAX_DURATION_S, DETECT_MAX_DURATION_S, maxDurationCeiling } from './config';
export { type Backend, type BackendChoice, resolveBackend } from './inference/backends';
export { defaultIgnored, defaultWindow, detectEvents, type DetectedEvent, type Detection, type DetectOptions } from './tasks/detect-events';
export {
	assertClap,
	clearZeroShotCaches,
	DEFAULT_HYPOTHESIS_TEMPLATE,
	hypotheses,
	isClap,
	parseCandidateLabels,
	withCandidateLabels,
	zeroShotPrepared,
	zeroShotStats,
	type ZeroShotClip,
} from './tasks/zero-shot';
export { listen, sourceDisplay, type ClipFormat, type HeardEvent, type ListenOptions, type ListenStatus, type SourceKind } from './tasks/listen';
export { ffmpegTarget } from './audio/sources/ffmpeg';
export type { HeardWindow } from './tasks/detect-events';
export { checkHttpUrl, displayUrl } from './audio/sources/http';
export { SourceError } from './audio/sources/types';
