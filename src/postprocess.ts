/** Scores from logits, as the audio-classification pipeline's postprocess does. */
export type FunctionToApply = 'auto' | 'softmax' | 'sigmoid' | 'none';

export interface LabelScore {
	label: string;
	score: number;
}

export interface PostprocessOptions {
	functionToApply: FunctionToApply;
	/** config.problem_type: multi_label_classification selects sigmoid under `auto`. */
	problemType?: string;
	/** 0 = all labels. */
	topK: number;
	minScore?: number;
	labelOf: (index: number) => string;
}

export function resolveFunction(fn: FunctionToApply, problemType?: string): Exclude<FunctionToApply, 'auto'> {
	if (fn !== 'auto') return fn;
	return problemType === 'multi_label_classification' ? 'sigmoid' : 'softmax';
}

export function scoresFromLogits(logits: Float32Array, fn: Exclude<FunctionToApply, 'auto'>): Float64Array {
	const out = new Float64Array(logits.length);
	if (fn === 'softmax') {
		let max = -Infinity;
		for (const v of logits) max = Math.max(max, v);
		let sum = 0;
		for (let i = 0; i < logits.length; i++) sum += out[i] = Math.exp(logits[i] - max);
		for (let i = 0; i < out.length; i++) out[i] /= sum;
	} else if (fn === 'sigmoid') {
		for (let i = 0; i < logits.length; i++) out[i] = 1 / (1 + Math.exp(-logits[i]));
	} else {
		out.set(logits);
	}
	return out;
}

export function postprocess(logits: Float32Array, options: PostprocessOptions): LabelScore[] {
	const scores = scoresFromLogits(logits, resolveFunction(options.functionToApply, options.problemType));
	const order = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a] || a - b);
	const k = options.topK > 0 ? Math.min(options.topK, order.length) : order.length;
	const min = options.minScore ?? -Infinity;
	return order
		.slice(0, k)
		.filter((i) => scores[i] >= min)
		.map((i) => ({ label: options.labelOf(i), score: scores[i] }));
}
