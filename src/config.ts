/**
 * Every limit and environment variable the engine reads, in one place, so an
 * instance (or a queue-mode worker) can be sized from one page. Environment
 * variables are instance settings: workflows cannot change them.
 */
import { availableParallelism, totalmem } from 'node:os';

const ENV_PREFIX = 'N8N_AUDIO_CLASSIFICATION_';

function envNumber(name: string, fallback: number): number {
	const raw = process.env[ENV_PREFIX + name];
	const value = raw === undefined || raw.trim() === '' ? NaN : Number(raw);
	return Number.isFinite(value) && value > 0 ? value : fallback;
}

/** Sample rates accepted from files and from model configs. */
export const MIN_SAMPLE_RATE = 1_000;
export const MAX_SAMPLE_RATE = 384_000;

/** The Max Duration option's default (seconds): classify takes the whole clip at once. */
export const DEFAULT_MAX_DURATION_S = 600;
/** Detect Events streams the audio, so its default is longer: 3 hours. */
export const DETECT_MAX_DURATION_S = 3 * 3600;

/** Upper bound of the Max Duration option, whatever a workflow sets (seconds). */
export function maxDurationCeiling(): number {
	return envNumber('MAX_DURATION_CEILING_S', 3 * 3600);
}

/** Sessions kept loaded (least recently used evicted). */
export function maxSessions(): number {
	return Math.floor(envNumber('MAX_SESSIONS', 4));
}

/** Bytes of model files kept loaded at once (default: 40% of the machine's memory). */
export function maxModelBytes(): number {
	return envNumber('MAX_MODEL_MEMORY_MB', (0.4 * totalmem()) / 2 ** 20) * 2 ** 20;
}

/** Estimated working memory one inference may use (default 2 GiB). */
export function maxInferenceBytes(): number {
	return envNumber('MAX_INFERENCE_MEMORY_MB', 2048) * 2 ** 20;
}

/** ONNX Runtime threads a workflow may ask for: at most the cores of this machine. */
export function maxThreads(): number {
	return Math.max(1, availableParallelism());
}

/**
 * How long a Hub model resolved online (repo, revision -> snapshot) is reused
 * in this process before the Hub is asked again (default 60 s; 0 = every
 * execution). A commit hash never changes, so it is not asked again at all.
 */
export function hubRecheckMs(): number {
	const raw = process.env[`${ENV_PREFIX}HUB_RECHECK_S`];
	const value = raw === undefined || raw.trim() === '' ? NaN : Number(raw);
	return (Number.isFinite(value) && value >= 0 ? value : 60) * 1000;
}

/**
 * Model files from this size up (base-size transformers) are compute-bound: waking ONNX
 * Runtime's threads per operator shows, and batching clips saves nothing while it
 * multiplies the activations' memory.
 */
const LARGE_MODEL_BYTES = 50 * 1024 * 1024;

/**
 * Whether clips of this model should share ONNX Runtime calls. Small models: yes, the
 * per-call cost is most of their time. Large ones: no. An AST-base-shaped model (86.6 M)
 * took 1.50 s per 10 s clip alone and 1.54 s in a batch of 4, whose run needed 690 MB more
 * (a batch of 10 through the node peaked at 2.2 GB and was 1.28x slower than one by one).
 */
export function batchingPays(modelBytes: number): boolean {
	return modelBytes < LARGE_MODEL_BYTES;
}

/**
 * Let ONNX Runtime's thread pool spin (N8N_AUDIO_CLASSIFICATION_ORT_SPINNING=1, or 0 for
 * never). Unset: only for large models (a base-size transformer's run is ~300 parallel
 * operators, each paying a thread wake-up without spinning: 1 s clip 94 -> 84 ms); small
 * models run 10 ms apart in n8n, where spinning between runs kept cores busy (13.2 vs
 * 2.8 ms of CPU per run of the built-in model).
 */
export function ortSpinning(modelBytes = 0): boolean {
	const raw = (process.env[`${ENV_PREFIX}ORT_SPINNING`] ?? '').trim();
	if (/^(1|true|yes|on)$/i.test(raw)) return true;
	if (/^(0|false|no|off)$/i.test(raw)) return false;
	return modelBytes >= LARGE_MODEL_BYTES;
}

/** ffmpeg binary chosen by the instance (FFMPEG_PATH), not by workflows. */
export function ffmpegPathFromEnv(): string | undefined {
	return process.env.FFMPEG_PATH || undefined;
}

/**
 * Whether the Audio Event Trigger's FFmpeg source may open local capture devices (alsa:, pulse:,
 * avfoundation:, dshow:): a microphone on the n8n host is an instance decision, off by default.
 */
export function captureDevicesAllowed(): boolean {
	return /^(1|true|yes|on)$/i.test(process.env[ENV_PREFIX + 'CAPTURE_DEVICES']?.trim() ?? '');
}

/** Seconds ffmpeg may run for one item. */
export function ffmpegTimeoutMs(): number {
	return envNumber('FFMPEG_TIMEOUT_S', 120) * 1000;
}

/**
 * Whether loading the node also starts ONNX Runtime's thread and loads the default built-in
 * model (N8N_AUDIO_CLASSIFICATION_PREWARM): `true` always, `false` never, unset: only in n8n
 * processes that run executions (src/prewarm.ts says which).
 */
export function prewarmSetting(): 'on' | 'off' | 'auto' {
	const raw = process.env[ENV_PREFIX + 'PREWARM']?.trim() ?? '';
	if (/^(1|true|yes|on)$/i.test(raw)) return 'on';
	if (/^(0|false|no|off)$/i.test(raw)) return 'off';
	return 'auto';
}
