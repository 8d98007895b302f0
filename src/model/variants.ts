/**
 * ONNX file variants as transformers.js / Optimum name them under `onnx/`:
 * `model.onnx` (fp32), `model_fp16.onnx`, `model_quantized.onnx` (q8), ...
 */
const DTYPE_SUFFIX = {
	fp32: '',
	fp16: '_fp16',
	q8: '_quantized',
	int8: '_int8',
	uint8: '_uint8',
	q4: '_q4',
	q4f16: '_q4f16',
	bnb4: '_bnb4',
} as const;

export type Dtype = keyof typeof DTYPE_SUFFIX;
export type DtypeChoice = Dtype | 'auto';

/** `auto` on CPU: full precision first, then the 8-bit exports, then the rest. */
export const AUTO_ORDER: Dtype[] = ['fp32', 'q8', 'int8', 'uint8', 'fp16', 'q4', 'q4f16', 'bnb4'];


export function variantFileName(dtype: Dtype): string {
	return `model${DTYPE_SUFFIX[dtype]}.onnx`;
}
