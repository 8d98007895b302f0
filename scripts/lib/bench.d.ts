/** Types of bench.js's helper that the TypeScript benches use. */
export function builtInForTjs(modelDir: string, out: string): string;
