import type { IExecuteFunctions, IGetNodeParameterOptions } from 'n8n-workflow';

/** Whether a saved parameter value holds an expression anywhere (n8n marks them with a leading "="). */
function hasExpression(value: unknown): boolean {
	if (typeof value === 'string') return value.startsWith('=');
	if (Array.isArray(value)) return value.some(hasExpression);
	if (value !== null && typeof value === 'object') return Object.values(value).some(hasExpression);
	return false;
}

export type ParameterReader = (name: string, itemIndex: number, fallback?: unknown, options?: IGetNodeParameterOptions) => unknown;

/**
 * getNodeParameter for item after item. A parameter whose saved value has no
 * expression in it is the same for every item, so it is resolved once per
 * execution: n8n's resolution of a parameter costs tens of microseconds, and a
 * one-second WAV item's whole work is about 0.3 ms. Parameters with an
 * expression are resolved per item, as before. Values are shared between
 * items: callers read them, never change them.
 */
export function parameterReader(ctx: IExecuteFunctions): ParameterReader {
	const saved = ctx.getNode().parameters;
	const constant = new Map<string, unknown>();
	const perItem = new Set<string>(); // saved with an expression: looked at once, resolved every time
	return (name, itemIndex, fallback, options) => {
		const key = options?.extractValue ? `${name}\u0000value` : name;
		if (constant.has(key)) return constant.get(key);
		const value = ctx.getNodeParameter(name, itemIndex, fallback as never, options);
		if (perItem.has(name)) return value;
		if (hasExpression(saved[name])) perItem.add(name);
		else constant.set(key, value);
		return value;
	};
}
