/**
 * The prewarm (src/prewarm.ts): loading the node starts ONNX Runtime's thread and loads the
 * default built-in model, and the first execution with the node's defaults reuses that session
 * instead of loading its own. The mechanism is asserted (the cache's loads), not a time: the
 * first-result time is a bench figure (npm run bench:n8n).
 */
import path from 'node:path';

import type * as Engine from '../src';
import type * as Harness from './helpers/n8n';

const SPEECH = path.join(__dirname, 'fixtures', 'speech-commands');

/** The node and engine loaded fresh (module state: the prewarm runs once per process). */
function load(env: string | undefined): { engine: typeof Engine; harness: typeof Harness } {
	const saved = process.env.N8N_AUDIO_CLASSIFICATION_PREWARM;
	if (env === undefined) delete process.env.N8N_AUDIO_CLASSIFICATION_PREWARM;
	else process.env.N8N_AUDIO_CLASSIFICATION_PREWARM = env;
	let out!: { engine: typeof Engine; harness: typeof Harness };
	jest.isolateModules(() => {
		out = { harness: require('./helpers/n8n'), engine: require('../src') };
	});
	process.env.N8N_AUDIO_CLASSIFICATION_PREWARM = saved;
	return out;
}

describe('prewarm', () => {
	it('N8N_AUDIO_CLASSIFICATION_PREWARM=true: loading the node loads the default built-in model, and the first execution reuses it', async () => {
		const { engine, harness } = load('true');
		expect(await engine.prewarm({ device: 'cpu', backend: 'auto' })).toBe(true); // the node's import started it; this waits for it
		expect(engine.sessionCache.stats.loads).toBe(1);
		const events: Engine.LoadEvent[] = [];
		engine.sessionCache.onLoad((e) => events.push(e)); // a later listener hears of the prewarm's load
		expect(events).toHaveLength(1);
		expect(events[0].prewarm).toBe(true);
		expect(events[0].onnxPath).toContain(path.join('models', 'speech-commands-dscnn'));

		const { items, error } = await harness.runClassifier([{ path: path.join(SPEECH, 'stop__stop_099d52ad_3.wav') }], { topK: 1 });
		expect(error).toBeUndefined();
		expect(items[0].json.label).toBe('stop');
		expect(engine.sessionCache.stats.loads).toBe(1); // the prewarmed session, not a second load
		expect(events).toHaveLength(1);
		await engine.sessionCache.clear();
	});

	it('unset: only in n8n processes that run executions, so not in this one (jest)', async () => {
		const { engine } = load(undefined);
		expect(await engine.prewarm({ device: 'cpu', backend: 'auto' })).toBe(false);
		expect(engine.sessionCache.stats.loads).toBe(0);
	});

	it("which n8n commands run executions (n8n's short commands load the nodes and exit at once)", () => {
		const { engine } = load('0');
		const bin = '/usr/local/lib/node_modules/n8n/bin/n8n';
		for (const args of [[], ['start'], ['start', '--tunnel'], ['worker', '--concurrency=5'], ['webhook'], ['execute', '--id=7'], ['execute-batch']]) {
			expect([args, engine.runsExecutions(['/usr/bin/node', bin, ...args])]).toEqual([args, true]);
		}
		for (const args of [['publish:workflow', '--id=1'], ['export:workflow', '--all'], ['import:credentials'], ['user-management:reset'], ['audit']]) {
			expect([args, engine.runsExecutions(['/usr/bin/node', bin, ...args])]).toEqual([args, false]);
		}
		expect(engine.runsExecutions(['/usr/bin/node', '/srv/my-script.js'])).toBe(false);
		expect(engine.runsExecutions(['/usr/bin/node'])).toBe(false);
	});

	it.each(['false', '0', 'off'])('N8N_AUDIO_CLASSIFICATION_PREWARM=%s: nothing is loaded until an execution asks', async (value) => {
		const { engine, harness } = load(value);
		expect(await engine.prewarm({ device: 'cpu', backend: 'auto' })).toBe(false);
		expect(engine.sessionCache.stats.loads).toBe(0);
		const { error } = await harness.runClassifier([{ path: path.join(SPEECH, 'stop__stop_099d52ad_3.wav') }], { topK: 1 });
		expect(error).toBeUndefined();
		expect(engine.sessionCache.stats.loads).toBe(1);
		await engine.sessionCache.clear();
	});
});
