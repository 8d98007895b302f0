import type { Hash } from 'node:crypto';

/** node:crypto's createHash, loaded on first use (it costs startup time and most runs never hash). */
export function createHash(algorithm: string): Hash {
	return (require('node:crypto') as typeof import('node:crypto')).createHash(algorithm);
}
