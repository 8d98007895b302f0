/**
 * Detect Events: what was said or heard, and when. The decoded audio is cut
 * into windows (`window` seconds every `hop` seconds), each window is
 * classified (in batches through one session), and runs of windows whose
 * label passes `threshold` become events `{label, start, end, score,
 * meanScore}`; the edges are then tightened to where the sound is (10 ms
 * energy frames), so a spoken word gives one event at its own time.
 */
import { decodeAudioStream } from '../audio/decode';
import { AudioClassificationError } from '../errors';
import type { FeatureTensors } from '../features';
import type { BackendChoice } from '../inference/backends';
import { checkInferenceBudget } from '../inference/budget';
import type { Device } from '../inference/runtime';
import { labelOf, type ModelSpec } from '../model/spec';
import { type FunctionToApply, resolveFunction, scoresFromLogits } from '../postprocess';
import type { DecoderChoice } from '../audio/decode';
import { type PreparedClassifier, withClassifier } from './classifier';
import type { DetectedEvent } from './types';
import { StreamDetector } from './stream-detector';
import { renderTimeline } from './timeline';

export type { DetectedEvent } from './types';

export interface DetectOptions {
	/** Window length in seconds (default: the model's own span, see defaultWindow). */
	window?: number;
	/** Seconds between window starts (default: a quarter of the window). */
	hop?: number;
	/** Score a window's label needs to count (default 0.7). */
	threshold?: number;
	/** Events shorter than this (seconds) are dropped (default 0). */
	minDuration?: number;
	/** Events of one label closer than this (seconds) are merged (default: one hop). */
	mergeGap?: number;
	/** Labels that are never events (default: _silence_, _unknown_ and background labels). */
	ignoreLabels?: string[];
	/** Windows an event needs at least (default 2 when windows overlap by half or more: one stray window is not a sound). */
	minWindows?: number;
	/** Windows per session.run (results do not depend on it). */
	batchSize?: number;
	functionToApply?: FunctionToApply;
	device: Device;
	backend?: BackendChoice;
	decoder?: DecoderChoice;
	threads?: number;
	ffmpegPath?: string;
	maxDuration?: number;
	signal?: AbortSignal;
	/** Also return every window's scores. */
	includeWindows?: boolean;
	/** Also return a timeline picture (PNG) of the loudness and the events. */
	timeline?: boolean;
}


/** One window's top label, as the trigger reports what it heard. */
export interface HeardWindow {
	start: number;
	end: number;
	label: string;
	score: number;
}

export interface WindowScores {
	start: number;
	end: number;
	scores: Array<{ label: string; score: number }>;
}

export interface Detection {
	events: DetectedEvent[];
	windows?: WindowScores[];
	/** PNG: loudness over time with the events as labelled spans (when asked). */
	timeline?: Buffer;
	/** Seconds of audio. */
	duration: number;
	window: number;
	hop: number;
	decoder: string;
	backend: string;
	provider: string;
	fallbackReason?: string;
}

/** A window's label must reach this score: above the built-in model's scores on other words and noise, below its scores on commands. */
export const DEFAULT_THRESHOLD = 0.6;

const BACKGROUND = /^(_?silence_?|_?unknown_?|_?background(_noise)?_?|noise|other|none)$/i;

/**
 * The window a model naturally sees: AST its max_length frames (10.24 s),
 * Whisper its 30 s; waveform models have no fixed span, so keyword spotters
 * (labels with _silence_/_unknown_, like the built-in model) get the 1 s they
 * were trained on, and other waveform classifiers (emotion, language,
 * speaker) 3 s: long enough for a phrase, short enough to place it.
 */
export function defaultWindow(spec: ModelSpec): number {
	const pre = spec.preprocessor;
	if (pre.feature_extractor_type === 'ASTFeatureExtractor') return ((pre.max_length ?? 1024) - 1) * 0.01 + 0.025;
	if (pre.feature_extractor_type === 'WhisperFeatureExtractor') return pre.chunk_length ?? 30;
	const labels = Object.values(spec.config.id2label ?? {});
	return labels.some((l) => /^_?(silence|unknown)_?$/i.test(l)) ? 1 : 3;
}

export function defaultIgnored(spec: ModelSpec): string[] {
	return Object.values(spec.config.id2label ?? {}).filter((l) => BACKGROUND.test(l));
}

function invalid(what: string, hint: string): AudioClassificationError {
	return new AudioClassificationError(what, hint, { kind: 'invalidDetectOption' });
}

/** Window, hop and threshold as Detect Events and the trigger take them, checked. */
export function detectionWindow(spec: ModelSpec, options: Pick<DetectOptions, 'window' | 'hop' | 'threshold'>) {
	const window = options.window && options.window > 0 ? options.window : defaultWindow(spec);
	const hop = options.hop && options.hop > 0 ? options.hop : window / 4;
	const threshold = options.threshold ?? DEFAULT_THRESHOLD;
	if (hop > window) throw invalid(`The hop (${hop} s) is longer than the window (${window} s)`, 'Set a hop no longer than the window, so no audio is skipped.');
	if (window * spec.samplingRate > 60 * spec.samplingRate * 10) throw invalid(`The window (${window} s) is too long`, 'Use windows of at most 10 minutes.');
	return { window, hop, threshold };
}

/**
 * A streaming detector over a prepared classifier: what Detect Events runs on a file and the
 * Audio Event Trigger on a live stream.
 */
export function createDetector(
	classifier: PreparedClassifier,
	options: Omit<DetectOptions, 'device'> & { cooldown?: number; onWindow?: (w: HeardWindow) => void },
): StreamDetector {
	const spec = classifier.spec;
	const { window, hop, threshold } = detectionWindow(spec, options);
	const rate = spec.samplingRate;
	const fn = resolveFunction(options.functionToApply ?? 'auto', spec.config.problem_type);
	const batchSize = Math.max(1, Math.floor(options.batchSize ?? 8));
	return new StreamDetector(
		{
			rate,
			winLen: Math.round(window * rate),
			hopLen: Math.max(1, Math.round(hop * rate)),
			hopSeconds: hop,
			threshold,
			label: (i) => labelOf(spec.config, i),
			ignore: new Set(options.ignoreLabels ?? defaultIgnored(spec)),
			multiLabel: fn === 'sigmoid',
			mergeGap: options.mergeGap ?? hop,
			minWindows: options.minWindows ?? (hop <= window / 2 ? 2 : 1),
			minDuration: options.minDuration ?? 0,
			cooldown: options.cooldown,
			perCall: classifier.batches ? batchSize : 1, // large models: one window per call
			keepWindows: options.includeWindows,
			keepEnergy: options.timeline,
			onWindow: options.onWindow
				? (start, row) => {
						let best = 0;
						for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
						options.onWindow!({ start, end: start + window, label: labelOf(spec.config, best), score: row[best] });
					}
				: undefined,
		},
		async (chunks) => {
			const features: FeatureTensors[] = [];
			for (const chunk of chunks) features.push(await classifier.features(chunk));
			return (await classifier.logits(features)).map((row) => scoresFromLogits(row, fn));
		},
	);
}

export async function detectEvents(audio: Buffer, spec: ModelSpec, options: DetectOptions): Promise<Detection> {
	const { window, hop } = detectionWindow(spec, options);
	const rate = spec.samplingRate;
	const winLen = Math.round(window * rate);
	const hopLen = Math.max(1, Math.round(hop * rate));
	checkInferenceBudget(spec, winLen * Math.max(1, Math.floor(options.batchSize ?? 8)));
	let decoded: { decoder: string; duration: number } = { decoder: '', duration: 0 };
	const events: DetectedEvent[] = [];
	let detector: StreamDetector | undefined;
	const loaded = await withClassifier(spec, options, async (classifier) => {
		// A file is a stream that ends: the same detector as the Audio Event Trigger's.
		const d = createDetector(classifier, options);
		detector = d;
		decoded = await decodeAudioStream(
			audio,
			{ samplingRate: rate, ffmpegPath: options.ffmpegPath, signal: options.signal, maxDuration: options.maxDuration, decoder: options.decoder },
			async (block) => {
				events.push(...(await d.push(block)));
			},
		);
		events.push(...(await d.end()));
		return classifier.session;
	});
	const duration = detector!.duration;
	const kept = events.sort((a, b) => a.start - b.start || b.score - a.score);
	const scores = detector!.windows;
	const labels = scores[0] ? Array.from(scores[0], (_, i) => labelOf(spec.config, i)) : [];
	const windows = options.includeWindows
		? scores.map((row, w) => ({
				start: round((w * hopLen) / rate),
				end: round(Math.min(duration, (w * hopLen + winLen) / rate)),
				scores: Array.from(row, (score, i) => ({ label: labels[i], score })).sort((a, b) => b.score - a.score),
			}))
		: undefined;
	return {
		events: kept,
		windows,
		timeline: options.timeline ? renderTimeline({ duration, energy: detector!.energyFrames(), events: kept }) : undefined,
		duration,
		window,
		hop,
		decoder: decoded.decoder,
		backend: loaded.backend,
		provider: loaded.provider,
		fallbackReason: loaded.fallbackReason,
	};
}

const round = (t: number) => Math.round(t * 1000) / 1000;
