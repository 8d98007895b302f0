/**
 * A hostile Hub mirror (anyone can set one as a credential's Endpoint URL or
 * HF_ENDPOINT) and a damaged cache: every server value is validated before it
 * touches a path, nothing is written outside the cache, oversize bodies are
 * cut off, cached blobs are verified, no file content or token is ever shown.
 */
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { downloadHubModel, type HubModelRequest } from '../src/hub/model';
import { isValidRevision } from '../src/hub/validate';
import { expectHubError, FakeHub, repoFromFolder } from './helpers/fake-hub';
import { MODELS } from './helpers/fixtures';

const COMMIT = 'e'.repeat(40);
const REPO = 'evil-org/tiny';
let hub: FakeHub;
let sandbox: string; // the cache lives in sandbox/cache; anything else appearing in sandbox escaped
let cacheDir: string;
const messages: string[] = [];

function request(extra: Partial<HubModelRequest> = {}): HubModelRequest {
	return {
		endpoint: hub.url,
		token: hub.token,
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

function allFiles(dir: string): string[] {
	const out: string[] = [];
	for (const f of readdirSync(dir, { withFileTypes: true })) {
		const full = path.join(dir, f.name);
		out.push(full);
		if (f.isDirectory()) out.push(...allFiles(full));
	}
	return out;
}

const outsideCache = () => allFiles(sandbox).filter((f) => f !== cacheDir && !f.startsWith(cacheDir + path.sep));

beforeEach(async () => {
	sandbox = mkdtempSync(path.join(tmpdir(), 'hostile-hub-'));
	cacheDir = path.join(sandbox, 'cache');
	writeFileSync(path.join(sandbox, 'secret.txt'), 'TOP-SECRET-CONTENT');
	hub = await new FakeHub().start();
	hub.repos[REPO] = repoFromFolder(path.join(MODELS, 'tiny-wav2vec2'), COMMIT);
});

afterEach(async () => {
	await hub.stop();
	rmSync(sandbox, { recursive: true, force: true });
});

afterAll(() => {
	expect(messages.length).toBeGreaterThan(10);
	for (const m of messages) {
		expect(m).not.toContain(hub.token);
		expect(m).not.toContain('TOP-SECRET');
	}
});

describe('server values never become paths outside the cache', () => {
	const escapes = ['../../../secret.txt', '../../../../escaped', `..%2F..%2F${'a'.repeat(30)}`, '/etc/hostname', 'blobs/../../x'];

	it.each(escapes)('an ETag of %j is refused', async (etag) => {
		hub.tamperHeaders = (_file, h) => {
			if (h['x-linked-etag']) h['x-linked-etag'] = `"${etag}"`;
			else h.etag = `"${etag}"`;
		};
		const e = await failure(downloadHubModel(request()));
		expect(e.message).toMatch(/ETag that is not a git or sha256 hash/);
		expect(outsideCache()).toEqual([path.join(sandbox, 'secret.txt')]);
		expect(readFileSync(path.join(sandbox, 'secret.txt'), 'utf8')).toBe('TOP-SECRET-CONTENT');
	});

	it.each(['../../../../escaped', 'main', `${'f'.repeat(39)}/`])('an X-Repo-Commit of %j is refused', async (commit) => {
		hub.tamperHeaders = (_file, h) => void (h['x-repo-commit'] = commit);
		const e = await failure(downloadHubModel(request()));
		expect(e.message).toMatch(/commit id that is not a 40-character hash/);
		expect(outsideCache()).toEqual([path.join(sandbox, 'secret.txt')]);
	});

	it.each(['../../../../escaped', '..', 'main/../../x', 'a\nb', 'refs/heads/.hidden', 'x.lock', '@', 'a..b', '/abs'])(
		'a Revision of %j is refused, online and offline, before any request',
		async (revision) => {
			const before = hub.requests.length;
			for (const offline of [false, true]) {
				const e = await failure(downloadHubModel(request({ revision, offline })));
				expect(e.message).toMatch(/not a valid branch, tag or commit name/);
			}
			expect(hub.requests.length).toBe(before);
			expect(outsideCache()).toEqual([path.join(sandbox, 'secret.txt')]);
		},
	);

	it('git ref-name rules: real branch, tag and PR names still pass', () => {
		for (const ok of ['main', 'v1.0', 'refs/pr/12', 'feature/new-labels', COMMIT]) expect(isValidRevision(ok)).toBe(true);
	});

	it('a listed file name that climbs out of the repo is refused', async () => {
		hub.extraListing = ['onnx/model.onnx_data_/../../../../../escaped.onnx_data'];
		const e = await failure(downloadHubModel(request()));
		expect(e.message).toMatch(/file with an unsafe name/);
		expect(outsideCache()).toEqual([path.join(sandbox, 'secret.txt')]);
	});
});

describe('bodies longer than declared', () => {
	it.each(['content-length', 'chunked'] as const)('are cut off (%s), and nothing of them is kept', async (mode) => {
		hub.oversize = { bytes: 5_000_000, mode };
		const e = await failure(downloadHubModel(request()));
		expect(e.message).toMatch(/sent more than the \d+ bytes it declared/);
		const leftovers = allFiles(cacheDir).filter((f) => f.endsWith('.incomplete') || f.endsWith('.lock'));
		expect(leftovers).toEqual([]);
		const blobs = path.join(cacheDir, 'models--evil-org--tiny', 'blobs');
		for (const f of readdirSync(blobs)) expect(statSync(path.join(blobs, f)).size).toBeLessThan(1_000_000);
	});
});

describe('a damaged cache', () => {
	async function cachedModelBlob(): Promise<string> {
		const dir = await downloadHubModel(request());
		return path.join(path.dirname(path.dirname(dir)), 'blobs', path.basename(readlinkSync(path.join(dir, 'onnx', 'model.onnx'))));
	}

	it.each([
		['corrupted in place (same size)', (blob: string) => {
			const b = readFileSync(blob);
			b[b.length >> 1] ^= 0xff;
			writeFileSync(blob, b);
		}],
		['truncated', (blob: string) => truncateSync(blob, 100)],
		['grown', (blob: string) => appendFileSync(blob, 'junk')],
	])('a blob %s is downloaded again when online', async (_what, damage) => {
		const blob = await cachedModelBlob();
		const good = readFileSync(blob);
		damage(blob);
		const later = new Date(Date.now() + 5000);
		utimesSync(blob, later, later);
		const gets = hub.cdnGets().length;
		await downloadHubModel(request({ revision: COMMIT })); // a pinned commit would otherwise skip the network
		expect(hub.cdnGets().length).toBe(gets + 1);
		expect(readFileSync(blob).equals(good)).toBe(true);
	});

	it('offline, a damaged blob is a clear error naming the file and the fix', async () => {
		const blob = await cachedModelBlob();
		const b = readFileSync(blob);
		b[10] ^= 0xff;
		writeFileSync(blob, b);
		const e = await failure(downloadHubModel(request({ offline: true })));
		expect(e.message).toMatch(/cached copy of onnx\/model.onnx from evil-org\/tiny is damaged/);
		expect(e.hint).toMatch(/offline mode/);
		expect(e.hintTemplate).toMatch(/{offline}/);
		expect(e.hint).toContain(blob);
	});

	it('an intact cache is hashed once, then trusted by its marker', async () => {
		const blob = await cachedModelBlob();
		const marker = path.join(path.dirname(path.dirname(blob)), '.n8n-verified', path.basename(blob));
		expect(existsSync(marker)).toBe(true);
		expect(readFileSync(marker, 'utf8')).toBe(`${statSync(blob).size}:${Math.round(statSync(blob).mtimeMs)}`);
		const gets = hub.cdnGets().length;
		await downloadHubModel(request({ offline: true }));
		expect(hub.cdnGets().length).toBe(gets);
	});
});
