/**
 * Prewarm: when n8n loads the node, start ONNX Runtime's thread and load the default built-in
 * model's session in it, so the first execution after n8n's start finds them ready. Profiled in
 * the real n8n, n8n's thread otherwise sat idle 230 ms of the first execution waiting for the
 * thread's bootstrap, onnxruntime-node's initialisation and the session (BENCHMARKS.md).
 * The session is the one an execution with the node's defaults asks for (same cache key), so it
 * is reused, not loaded twice. Everything runs off n8n's thread and after the current tick;
 * failures are silent here (an execution reports them on its item). Off with
 * N8N_AUDIO_CLASSIFICATION_PREWARM=false.
 *
 * Unset, it runs only in n8n processes that run executions: `n8n` / `n8n start`, `worker`,
 * `webhook`, `execute`, `execute-batch`. n8n's short commands (`export:workflow`,
 * `publish:workflow`, ...) load the nodes too and then call process.exit(): a process that exits
 * while onnxruntime-node initialises in its thread aborts ("terminate called after throwing an
 * instance of 'Napi::Error'"), seen in the e2e on `n8n publish:workflow`.
 */
import path from 'node:path';

import { prewarmSetting } from './config';
import { type SessionRequest, sessionCache } from './inference/session-cache';
import { builtInModels, resolveBuiltIn } from './model/catalog';
import { loadModelSpec } from './model/spec';
import { prewarmOpus } from './audio/decoders/opus';
import { encodeWav16 } from './audio/encode';
import { classifyAudio } from './pipeline';

const SERVING_COMMANDS = new Set(['start', 'worker', 'webhook', 'execute', 'execute-batch']);

/** Whether `argv` is an n8n process that runs executions (see above). */
export function runsExecutions(argv: readonly string[]): boolean {
	const script = argv[1] ?? '';
	if (path.basename(script) !== 'n8n') return false;
	const command = argv.slice(2).find((a) => !a.startsWith('-'));
	return command === undefined || SERVING_COMMANDS.has(command);
}

let started: Promise<boolean> | undefined;

/**
 * Starts the prewarm once per process, with the session options an execution with the node's
 * defaults uses (the node passes them: the same cache key, so the session is reused). Resolves
 * true when the session is loaded, false when prewarm is off or the load failed.
 */
export function prewarm(defaults: Omit<SessionRequest, 'onnxPath'>): Promise<boolean> {
	if (started) return started;
	const setting = prewarmSetting();
	if (setting === 'off' || (setting === 'auto' && !runsExecutions(process.argv))) return (started = Promise.resolve(false));
	started = new Promise<void>((resolve) => setImmediate(resolve).unref()).then(async () => {
		try {
			const models = builtInModels();
			const { dir, model } = resolveBuiltIn((models.find((m) => m.default) ?? models[0]).id);
			const spec = loadModelSpec(dir, 'auto', model.id);
			const loaded = await sessionCache.preload({ ...defaults, onnxPath: spec.onnxPath }, true);
			// The first voice note's own costs: libopus's instance, then one classification of half a
			// second of 48 kHz silence (the resampler's kernel, the features and the run compiled)
			await prewarmOpus().catch(() => undefined);
			if (loaded) await classifyAudio(encodeWav16(new Float32Array(24_000), 48_000), spec, { ...defaults, topK: 1, functionToApply: 'softmax' });
			return loaded;
		} catch {
			return false;
		}
	});
	return started;
}
