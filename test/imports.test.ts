/**
 * src/ has no import circles (ARCHITECTURE: shared types live in a file both
 * sides can import). Type-only imports count: a circle of types is still two
 * files that cannot be read, moved or tested one without the other.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..');

function sources(dir: string): string[] {
	return readdirSync(dir).flatMap((f) => {
		const p = path.join(dir, f);
		if (statSync(p).isDirectory()) return sources(p);
		return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
	});
}

/** Relative imports and re-exports of each file, resolved to files. */
function importGraph(dir: string): Map<string, string[]> {
	const graph = new Map<string, string[]>();
	for (const file of sources(dir)) {
		const deps = new Set<string>();
		for (const m of readFileSync(file, 'utf8').matchAll(/(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'/g)) {
			const base = path.resolve(path.dirname(file), m[1]);
			const target = [`${base}.ts`, path.join(base, 'index.ts')].find((c) => existsSync(c));
			if (target) deps.add(path.relative(ROOT, target));
		}
		graph.set(path.relative(ROOT, file), [...deps]);
	}
	return graph;
}

/** Strongly connected components with more than one file (Tarjan). */
function circles(graph: Map<string, string[]>): string[][] {
	let next = 0;
	const index = new Map<string, number>();
	const low = new Map<string, number>();
	const stack: string[] = [];
	const onStack = new Set<string>();
	const found: string[][] = [];
	const visit = (v: string) => {
		index.set(v, next);
		low.set(v, next++);
		stack.push(v);
		onStack.add(v);
		for (const w of graph.get(v) ?? []) {
			if (!index.has(w)) {
				visit(w);
				low.set(v, Math.min(low.get(v)!, low.get(w)!));
			} else if (onStack.has(w)) {
				low.set(v, Math.min(low.get(v)!, index.get(w)!));
			}
		}
		if (low.get(v) === index.get(v)) {
			const component: string[] = [];
			let w: string;
			do {
				w = stack.pop()!;
				onStack.delete(w);
				component.push(w);
			} while (w !== v);
			if (component.length > 1) found.push(component.sort());
		}
	};
	for (const v of graph.keys()) if (!index.has(v)) visit(v);
	return found;
}

describe('module structure', () => {
	it('the engine (src/) has no import circles', () => {
		const graph = importGraph(path.join(ROOT, 'src'));
		expect(graph.size).toBeGreaterThan(50);
		expect(circles(graph)).toEqual([]);
	});

	it('the circle finder finds a circle (a.ts -> b.ts -> c.ts -> a.ts)', () => {
		const graph = new Map([
			['a.ts', ['b.ts']],
			['b.ts', ['c.ts']],
			['c.ts', ['a.ts', 'd.ts']],
			['d.ts', []],
		]);
		expect(circles(graph)).toEqual([['a.ts', 'b.ts', 'c.ts']]);
	});
});
