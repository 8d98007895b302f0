/**
 * Waveform transformers (wav2vec2, HuBERT, WavLM, data2vec-audio, ...) attend
 * over the whole clip: their working memory grows with the square of its
 * length (a 10-minute clip needs tens of GB on a base model). Estimate it
 * before running and refuse clearly instead of exhausting the machine.
 */
import { maxInferenceBytes } from '../config';
import { ResourceLimitError } from '../errors';
import { formatSeconds } from '../audio/decode';
import type { ModelSpec } from '../model/spec';

const WAVEFORM_TRANSFORMERS = new Set([
	'wav2vec2',
	'wav2vec2-conformer',
	'wav2vec2-bert',
	'hubert',
	'wavlm',
	'data2vec-audio',
	'unispeech',
	'unispeech-sat',
	'sew',
	'sew-d',
]);

const num = (v: unknown, fallback: number): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fallback);

/** Rough peak bytes for one run over `samples` input samples, or 0 when the model's cost does not grow with the clip. */
export function estimateInferenceBytes(spec: ModelSpec, samples: number): number {
	const type = String(spec.config.model_type ?? '');
	if (spec.preprocessor.feature_extractor_type !== 'Wav2Vec2FeatureExtractor' || !WAVEFORM_TRANSFORMERS.has(type)) return 0;
	const strides = Array.isArray(spec.config.conv_stride) ? (spec.config.conv_stride as number[]) : [5, 2, 2, 2, 2, 2, 2];
	const convChannels = Array.isArray(spec.config.conv_dim) ? num((spec.config.conv_dim as number[])[0], 512) : 512;
	const hop = strides.reduce((a, b) => a * num(b, 1), 1);
	const frames = samples / hop;
	const heads = num(spec.config.num_attention_heads, 12);
	const hidden = num(spec.config.hidden_size, 768);
	const attention = 3 * heads * frames * frames; // scores, softmax, a copy
	const firstConv = 2 * convChannels * (samples / num(strides[0], 5));
	const activations = 16 * hidden * frames;
	return 4 * (attention + firstConv + activations);
}

export function checkInferenceBudget(spec: ModelSpec, samples: number): void {
	const need = estimateInferenceBytes(spec, samples);
	const budget = maxInferenceBytes();
	if (need <= budget) return;
	// Largest clip within budget (the estimate is monotonic): bisect on seconds.
	let lo = 0;
	let hi = samples;
	while (hi - lo > spec.samplingRate / 10) {
		const mid = (lo + hi) / 2;
		if (estimateInferenceBytes(spec, mid) <= budget) lo = mid;
		else hi = mid;
	}
	throw new ResourceLimitError(
		`This clip (${formatSeconds(samples / spec.samplingRate)}) is too long for ${spec.name} in one pass: it would need about ${(need / 2 ** 30).toFixed(1)} GB, over the ${(budget / 2 ** 30).toFixed(1)} GB inference budget`,
		`This model attends over the whole clip, so its memory grows with the square of the length. Trim clips to about ${formatSeconds(lo / spec.samplingRate)} or less, or raise N8N_AUDIO_CLASSIFICATION_MAX_INFERENCE_MEMORY_MB where n8n runs if the machine has the memory.`,
	);
}
