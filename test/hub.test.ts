import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { RepoCache, repoFolderName, resolveCacheDir } from '../src/hub/cache';
import { hubDownload } from '../src/hub/download';
import { clearResolvedHubModels, downloadHubModel, resolveHubAccess, searchHubModels, type HubModelRequest } from '../src/hub/model';
import { sessionCache } from '../src/inference/session-cache';
import { loadModelSpec } from '../src/model/spec';
import { classifyAudio } from '../src/pipeline';
import { expectHubError, FakeHub, repoFromFolder } from './helpers/fake-hub';
import { AUDIO, MODELS } from './helpers/fixtures';

const COMMIT = 'a'.repeat(40);
const REPO = 'test-org/tiny-wav2vec2';
let hub: FakeHub;
let cacheDir: string;
const messages: string[] = []; // every error and progress text, checked for the token

function request(extra: Partial<HubModelRequest> = {}): HubModelRequest {
	return {
		endpoint: hub.url,
		repoId: REPO,
		revision: 'main',
		dtype: 'auto',
		cacheDir,
		timeoutMs: 5_000,
		onProgress: (p) => messages.push(`${p.file} ${p.bytes}/${p.total}`),
		...extra,
	};
}

const failure = (p: Promise<unknown>) => expectHubError(p, messages);

beforeEach(async () => {
	cacheDir = mkdtempSync(path.join(tmpdir(), 'hf-cache-test-'));
	hub = await new FakeHub().start();
	hub.repos[REPO] = repoFromFolder(path.join(MODELS, 'tiny-variants'), COMMIT);
	hub.repos['test-org/private-model'] = repoFromFolder(path.join(MODELS, 'tiny-wav2vec2'), 'b'.repeat(40), 'private');
	hub.repos['test-org/gated-model'] = repoFromFolder(path.join(MODELS, 'tiny-wav2vec2'), 'c'.repeat(40), 'gated');
	hub.repos['test-org/external-data'] = repoFromFolder(path.join(MODELS, 'tiny-wavlm-mask'), 'd'.repeat(40));
});

afterEach(async () => {
	await hub.stop();
	rmSync(cacheDir, { recursive: true, force: true });
});

afterAll(async () => {
	await sessionCache.clear();
	for (const m of messages) expect(m).not.toContain('hf_FAKEtoken');
});

describe('download into the huggingface_hub cache layout', () => {
	it('fetches only the needed files, as blobs + relative snapshot links + refs', async () => {
		const dir = await downloadHubModel(request());
		const root = path.join(cacheDir, 'models--test-org--tiny-wav2vec2');
		expect(dir).toBe(path.join(root, 'snapshots', COMMIT));
		expect(readFileSync(path.join(root, 'refs', 'main'), 'utf8')).toBe(COMMIT);
		expect(readdirSync(dir).sort()).toEqual(['config.json', 'onnx', 'preprocessor_config.json']);
		expect(readdirSync(path.join(dir, 'onnx'))).toEqual(['model.onnx']); // not model_quantized.onnx
		const link = path.join(dir, 'onnx', 'model.onnx');
		expect(lstatSync(link).isSymbolicLink()).toBe(true);
		expect(readlinkSync(link)).toMatch(/^\.\.\/\.\.\/\.\.\/blobs\/[0-9a-f]{64}$/); // relative, named by sha256
		expect(readFileSync(link).equals(readFileSync(path.join(MODELS, 'tiny-variants', 'onnx', 'model.onnx')))).toBe(true);
		expect(readdirSync(path.join(root, 'blobs')).some((f) => f.endsWith('.incomplete') || f.endsWith('.lock'))).toBe(false);
		// the CDN got no token, the Hub did not need one
		expect(hub.cdnGets().every((r) => r.authorization === undefined)).toBe(true);
	});

	it('the downloaded folder classifies exactly like the local one', async () => {
		const dir = await downloadHubModel(request());
		const clip = readFileSync(path.join(AUDIO, 'speech-16k-mono-s16.wav'));
		const opts = { topK: 0, functionToApply: 'auto' as const, device: 'cpu' as const };
		const fromHub = await classifyAudio(clip, loadModelSpec(dir, 'auto', REPO), opts);
		const local = await classifyAudio(clip, loadModelSpec(path.join(MODELS, 'tiny-variants'), 'auto'), opts);
		expect(fromHub.labels).toEqual(local.labels);
	});

	it('picks the requested variant and its external weights', async () => {
		const q8 = await downloadHubModel(request({ dtype: 'q8' }));
		expect(readdirSync(path.join(q8, 'onnx'))).toEqual(['model_quantized.onnx']);
		const ext = await downloadHubModel(request({ repoId: 'test-org/external-data' }));
		expect(readdirSync(path.join(ext, 'onnx')).sort()).toEqual(['model.onnx', 'model.onnx_data']);
		expect(loadModelSpec(ext, 'auto').dtype).toBe('fp32');
	});

	it('reuses the cache: in this process for a minute no request at all, then a branch costs HEAD requests only, a commit none', async () => {
		await downloadHubModel(request());
		const gets = hub.cdnGets().length;
		const before = hub.requests.length;
		await downloadHubModel(request());
		expect(hub.requests.length).toBe(before); // resolved a moment ago in this process (N8N_AUDIO_CLASSIFICATION_HUB_RECHECK_S)
		clearResolvedHubModels(); // as after the recheck interval, or in another process
		await downloadHubModel(request());
		expect(hub.requests.length).toBeGreaterThan(before);
		expect(hub.cdnGets().length).toBe(gets);
		expect(hub.requests.slice(before).every((r) => r.method === 'HEAD' || r.url.startsWith('/api/'))).toBe(true);
		const mid = hub.requests.length;
		await hubDownload({ ...request(), file: 'onnx/model.onnx', revision: COMMIT });
		expect(hub.requests.length).toBe(mid);
	});

	it('asks the Hub again after the recheck interval (0 = every execution)', async () => {
		process.env.N8N_AUDIO_CLASSIFICATION_HUB_RECHECK_S = '0';
		try {
			await downloadHubModel(request());
			const before = hub.requests.length;
			await downloadHubModel(request());
			expect(hub.requests.length).toBeGreaterThan(before);
		} finally {
			delete process.env.N8N_AUDIO_CLASSIFICATION_HUB_RECHECK_S;
		}
	});

	it('reuses a cache written by Python tools (same layout), offline', async () => {
		// what huggingface_hub leaves behind: refs/main + snapshot files (here plain copies)
		const root = path.join(cacheDir, repoFolderName('py-org/from-python'));
		const snap = path.join(root, 'snapshots', 'e'.repeat(40));
		mkdirSync(path.join(snap, 'onnx'), { recursive: true });
		mkdirSync(path.join(root, 'refs'), { recursive: true });
		writeFileSync(path.join(root, 'refs', 'main'), 'e'.repeat(40));
		for (const f of ['config.json', 'preprocessor_config.json', 'onnx/model.onnx']) {
			writeFileSync(path.join(snap, f), readFileSync(path.join(MODELS, 'tiny-wav2vec2', f)));
		}
		await hub.stop();
		const dir = await downloadHubModel(request({ repoId: 'py-org/from-python', offline: true }));
		expect(dir).toBe(snap);
	});
});

describe('queue-mode workers sharing the cache', () => {
	it('a snapshot entry being linked again by another process never disappears for a reader (it is renamed over, not removed first)', async () => {
		const root = mkdtempSync(path.join(tmpdir(), 'hub-link-'));
		try {
			const cache = new RepoCache(root, 'org/model');
			const commit = 'a'.repeat(40);
			const etags = ['b'.repeat(64), 'c'.repeat(64)];
			for (const etag of etags) {
				mkdirSync(path.dirname(cache.blobPath(etag)), { recursive: true });
				writeFileSync(cache.blobPath(etag), etag);
			}
			const entry = cache.linkSnapshot(commit, 'onnx/model.onnx', etags[0]);
			// Another worker (a process on the built package) links the same file again and again,
			// alternating blobs so that every call relinks.
			const writer = spawn(process.execPath, [
				'-e',
				`const { RepoCache } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'src', 'hub', 'cache'))});
				 const cache = new RepoCache(${JSON.stringify(root)}, 'org/model');
				 const until = Date.now() + 1500;
				 for (let i = 0; Date.now() < until; i++) cache.linkSnapshot(${JSON.stringify(commit)}, 'onnx/model.onnx', ${JSON.stringify(etags)}[i % 2]);`,
			]);
			const exited = new Promise((resolve) => writer.on('exit', resolve));
			let checks = 0;
			let missing = 0;
			await new Promise((r) => setTimeout(r, 300)); // the writer has started
			const until = Date.now() + 800;
			while (Date.now() < until) {
				checks++;
				if (!existsSync(entry)) missing++;
			}
			expect(await exited).toBe(0);
			expect(checks).toBeGreaterThan(1000);
			expect(missing).toBe(0);
			expect(readdirSync(path.dirname(entry))).toEqual(['model.onnx']); // no temporary names left
		} finally {
			rmSync(root, { recursive: true, force: true });
		}
	}, 30_000);
});

describe('robust transfer', () => {
	it('resumes a connection dropped mid-file with a Range request', async () => {
		hub.dropNextAfterBytes = 1000;
		const dir = await downloadHubModel(request());
		const ranged = hub.cdnGets().filter((r) => r.range);
		expect(ranged).toHaveLength(1);
		expect(Number(/^bytes=(\d+)-$/.exec(ranged[0].range!)![1])).toBeGreaterThan(0);
		expect(readFileSync(path.join(dir, 'onnx', 'model.onnx')).equals(hub.repos[REPO].files['onnx/model.onnx'])).toBe(true);
	});

	it('rejects a file whose sha256 does not match, and leaves nothing behind', async () => {
		hub.corrupt = true;
		const e = await failure(downloadHubModel(request()));
		expect(e.message).toMatch(/corrupt: sha256/);
		const blobs = path.join(cacheDir, 'models--test-org--tiny-wav2vec2', 'blobs');
		expect(readdirSync(blobs).filter((f) => f.length === 64 || f.includes('.incomplete') || f.includes('.lock'))).toEqual([]);
	});

	it('downloads a file once when several executions ask at the same time', async () => {
		// one resolution shared in this process: one file list, one download
		const dirs = await Promise.all([1, 2, 3].map(() => downloadHubModel(request())));
		expect(new Set(dirs).size).toBe(1);
		expect(hub.requests.filter((r) => r.url.startsWith('/api/models/'))).toHaveLength(1);
		expect(hub.cdnGets().filter((r) => r.url.includes('/cdn/'))).toHaveLength(1);
		// and the file lock, as between processes: three downloads of one new file, one transfer
		hub.repos[REPO].files['onnx/model_fp16.onnx'] = Buffer.from(hub.repos[REPO].files['onnx/model.onnx']).reverse();
		hub.slowMs = 300;
		await Promise.all([1, 2, 3].map(() => hubDownload({ ...request(), file: 'onnx/model_fp16.onnx' })));
		expect(hub.cdnGets().filter((r) => r.url.includes('/cdn/'))).toHaveLength(2);
	});

	it('takes over the lock of a crashed download, and waits for a live one', async () => {
		const meta = hub.repos[REPO].files['onnx/model.onnx'];
		const sha = require('node:crypto').createHash('sha256').update(meta).digest('hex') as string;
		const blobs = path.join(cacheDir, 'models--test-org--tiny-wav2vec2', 'blobs');
		mkdirSync(blobs, { recursive: true });
		writeFileSync(path.join(blobs, `${sha}.lock`), JSON.stringify({ pid: 2 ** 22 + 12345, host: require('node:os').hostname() }));
		await downloadHubModel(request()); // dead holder: lock stolen
		rmSync(cacheDir, { recursive: true, force: true });
		mkdirSync(blobs, { recursive: true });
		writeFileSync(path.join(blobs, `${sha}.lock`), JSON.stringify({ pid: process.pid, host: require('node:os').hostname() }));
		let done = false;
		const pending = downloadHubModel(request()).then(() => (done = true));
		await new Promise((r) => setTimeout(r, 600));
		expect(done).toBe(false); // live holder: waits
		rmSync(path.join(blobs, `${sha}.lock`));
		await pending;
		expect(done).toBe(true);
	});

	it('times out on a server that stops answering', async () => {
		hub.slowMs = 3_000;
		const e = await failure(downloadHubModel(request({ timeoutMs: 300 })));
		expect(e.message).toMatch(/Could not reach/);
		expect(e.hint).toMatch(/offline mode|mirror/);
	});
});

describe('offline mode', () => {
	it('works from the cache with the Hub down, and says what to download when a file is missing', async () => {
		await downloadHubModel(request());
		await hub.stop();
		const dir = await downloadHubModel(request({ offline: true }));
		expect(existsSync(path.join(dir, 'onnx', 'model.onnx'))).toBe(true);
		const e = await failure(downloadHubModel(request({ offline: true, dtype: 'q8' })));
		expect(e.message).toMatch(/no q8 variant/);
		const missing = await failure(downloadHubModel(request({ offline: true, repoId: 'test-org/never-downloaded' })));
		expect(missing.message).toMatch(/Offline mode: test-org\/never-downloaded@main is not in the cache/);
		expect(missing.hint).toMatch(/huggingface-cli download test-org\/never-downloaded/);
	});

	it('HF_HUB_OFFLINE, HF_ENDPOINT, HF_TOKEN and HF_HOME are honoured', () => {
		const saved = { ...process.env };
		try {
			process.env.HF_ENDPOINT = 'http://mirror.example:8080/';
			process.env.HF_TOKEN = 'hf_env';
			process.env.HF_HOME = '/data/hf';
			delete process.env.HF_HUB_CACHE;
			expect(resolveHubAccess()).toEqual({ endpoint: 'http://mirror.example:8080', token: 'hf_env' });
			expect(resolveHubAccess({ accessToken: 'hf_cred', endpoint: 'https://hub.corp/' })).toEqual({
				endpoint: 'https://hub.corp',
				token: 'hf_cred',
			});
			expect(resolveCacheDir()).toBe('/data/hf/hub');
			expect(resolveCacheDir('/opt/cache')).toBe('/opt/cache');
		} finally {
			process.env = saved;
		}
	});

	it('downloads through a mirror set with HF_ENDPOINT', async () => {
		const saved = process.env.HF_ENDPOINT;
		process.env.HF_ENDPOINT = hub.url;
		try {
			const access = resolveHubAccess();
			const dir = await downloadHubModel({ ...request(), ...access });
			expect(existsSync(path.join(dir, 'config.json'))).toBe(true);
		} finally {
			process.env.HF_ENDPOINT = saved;
		}
	});
});

describe('errors with a fix', () => {
	it('private repo: 401 without a token, works with one; the token never shows', async () => {
		const e = await failure(downloadHubModel(request({ repoId: 'test-org/private-model' })));
		expect(e.message).toMatch(/refused access.*401/);
		expect(e.hint).toMatch(/credential with a read token \(or set HF_TOKEN\)/);
		const dir = await downloadHubModel(request({ repoId: 'test-org/private-model', token: hub.token }));
		expect(existsSync(path.join(dir, 'onnx', 'model.onnx'))).toBe(true);
		expect(hub.requests.some((r) => r.authorization === `Bearer ${hub.token}`)).toBe(true);
	});

	it('gated repo: says to accept the conditions on the model page', async () => {
		const e = await failure(downloadHubModel(request({ repoId: 'test-org/gated-model', token: hub.token })));
		expect(e.message).toMatch(/gated model/);
		expect(e.hint).toContain(`${hub.url}/test-org/gated-model`);
	});

	it('404s name what is missing and point to repos with ONNX exports', async () => {
		const repo = await failure(downloadHubModel(request({ repoId: 'test-org/nope' })));
		expect(repo.message).toMatch(/repo test-org\/nope does not exist/);
		expect(repo.hint).toMatch(/Xenova\/ and onnx-community\//);
		const rev = await failure(downloadHubModel(request({ revision: 'v9' })));
		expect(rev.message).toMatch(/revision .* does not exist/);
		const variant = await failure(downloadHubModel(request({ dtype: 'fp16' })));
		expect(variant.message).toMatch(/no fp16 variant/);
		expect(variant.hint).toMatch(/onnx\/model\.onnx, onnx\/model_quantized\.onnx/);
	});

	it('network unreachable: suggests offline mode or a mirror, without the token', async () => {
		await hub.stop();
		const e = await failure(downloadHubModel(request({ token: hub.token })));
		expect(e.message).toMatch(/Could not reach http:\/\/127\.0\.0\.1/);
		expect(e.hint).toMatch(/offline mode \(or HF_HUB_OFFLINE=1\).*mirror/);
	});
});

it('searches the Hub for audio-classification models with ONNX weights', async () => {
	const hits = await searchHubModels({ endpoint: hub.url }, 'wav2vec2');
	expect(hits.map((h) => h.id)).toEqual([REPO]);
	const req = hub.requests.find((r) => r.url === '/api/models')!;
	expect(req).toBeDefined();
});

it('maps a full disk to an actionable error', async () => {
	const { networkError } = await import('../src/hub/download');
	const e = networkError(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }), { endpoint: hub.url });
	expect(e.message).toMatch(/disk is full/);
	expect(e.hintTemplate).toMatch(/point \{cacheDir\} \(or HF_HOME\)/);
});

it('every curated Hub entry names its repo, task, rate, license and a public source for its layout', async () => {
	const { hubCatalog } = await import('../src/model/catalog');
	const entries = hubCatalog();
	expect(entries.length).toBeGreaterThanOrEqual(5);
	for (const m of entries) {
		expect(m.id).toMatch(/^[\w.-]+\/[\w.-]+$/);
		expect(m.source).toContain(`huggingface.co/${m.id}`);
		expect(m.samplingRate).toBe(m.pipeline === 'zero-shot-audio-classification' ? 48000 : 16000); // CLAP listens at 48 kHz
		expect(m.task && m.useCase && m.license && m.architecture).toBeTruthy();
	}
	// the zero-shot list: the general, music-and-speech and base CLAP exports, each with its onnx/ files and sizes
	const clap = entries.filter((m) => m.pipeline === 'zero-shot-audio-classification');
	expect(clap.map((m) => m.id).sort()).toEqual(['Xenova/clap-htsat-unfused', 'Xenova/larger_clap_general', 'Xenova/larger_clap_music_and_speech']);
	for (const m of clap) expect(Object.keys(m.files ?? {})).toContain('onnx/model_quantized.onnx');
});
