/**
 * A loopback HTTP server with the Hugging Face Hub's URL layout and headers:
 * `/{repo}/resolve/{rev}/{file}` (small files served directly with a git
 * ETag; LFS files answered with a 302 to `/cdn/<sha256>` carrying
 * X-Linked-Etag / X-Linked-Size / X-Repo-Commit), Range requests on the CDN,
 * `/api/models/{repo}/revision/{rev}`, `/api/models?search=`, `/api/whoami-v2`,
 * and switchable faults: a connection dropped mid-file, corrupted bytes, a
 * slow server, private and gated repos.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

import { HubError } from '../../src/hub/errors';

export interface FakeRepo {
	commit: string;
	files: Record<string, Buffer>;
	access?: 'public' | 'private' | 'gated';
}

export interface RequestLog {
	method: string;
	url: string;
	range?: string;
	authorization?: string;
}

const isLfs = (file: string) => /\.onnx(_data(_\d+)?)?$/.test(file);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const gitOid = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

export function repoFromFolder(dir: string, commit: string, access: FakeRepo['access'] = 'public'): FakeRepo {
	const files: Record<string, Buffer> = {};
	const walk = (sub: string) => {
		for (const f of readdirSync(path.join(dir, sub))) {
			const rel = sub ? `${sub}/${f}` : f;
			if (statSync(path.join(dir, rel)).isDirectory()) walk(rel);
			else files[rel] = readFileSync(path.join(dir, rel));
		}
	};
	walk('');
	return { commit, files, access };
}

export class FakeHub {
	readonly token = 'hf_FAKEtokenDoNotLeak1234567890';

	readonly requests: RequestLog[] = [];

	repos: Record<string, FakeRepo> = {};

	/** Drop the connection after this many body bytes, on the next CDN response only. */
	dropNextAfterBytes?: number;

	/** Serve LFS content with one byte flipped. */
	corrupt = false;

	/** Wait this long before sending CDN bodies. */
	slowMs = 0;

	/** Hostile mirror: rewrite the headers of /resolve answers (ETag, X-Repo-Commit, ...). */
	tamperHeaders?: (file: string, headers: http.OutgoingHttpHeaders) => void;

	/** Hostile mirror: extra file names in the repo listing. */
	extraListing: string[] = [];

	/** Hostile CDN: send this many bytes more than the file has, with a matching Content-Length or chunked. */
	oversize?: { bytes: number; mode: 'content-length' | 'chunked' };

	private server = http.createServer((req, res) => this.handle(req, res));

	url = '';

	async start(): Promise<this> {
		await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
		this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
		return this;
	}

	async stop(): Promise<void> {
		this.server.closeAllConnections();
		await new Promise((r) => this.server.close(r));
	}

	cdnGets(): RequestLog[] {
		return this.requests.filter((r) => r.method === 'GET' && r.url.startsWith('/cdn/'));
	}

	private authorized(req: http.IncomingMessage): boolean {
		return req.headers.authorization === `Bearer ${this.token}`;
	}

	private refuse(repo: FakeRepo, req: http.IncomingMessage, res: http.ServerResponse): boolean {
		if (repo.access === 'private' && !this.authorized(req)) {
			res.writeHead(401, { 'x-error-code': 'RepoNotFound', 'x-error-message': 'Invalid credentials in Authorization header' }).end();
			return true;
		}
		if (repo.access === 'gated') {
			if (!this.authorized(req)) res.writeHead(401, { 'x-error-code': 'GatedRepo' }).end();
			else res.writeHead(403, { 'x-error-code': 'GatedRepo' }).end();
			return true;
		}
		return false;
	}

	private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
		const url = new URL(req.url ?? '/', this.url);
		this.requests.push({
			method: req.method ?? '',
			url: url.pathname,
			range: req.headers.range,
			authorization: req.headers.authorization,
		});
		const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);

		if (parts[0] === 'api' && parts[1] === 'whoami-v2') {
			if (!this.authorized(req)) return void res.writeHead(401).end('{"error":"Invalid credentials"}');
			return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"name":"tester","type":"user"}');
		}
		if (parts[0] === 'api' && parts[1] === 'models' && parts.length === 2) {
			const q = (url.searchParams.get('search') ?? '').toLowerCase();
			const hits = Object.keys(this.repos)
				.filter((id) => id.toLowerCase().includes(q))
				.map((id) => ({ id, downloads: 10, pipeline_tag: 'audio-classification', library_name: 'transformers.js' }));
			return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(hits));
		}
		if (parts[0] === 'api' && parts[1] === 'models' && parts[4] === 'revision') {
			const repo = this.repos[`${parts[2]}/${parts[3]}`];
			if (!repo) return void res.writeHead(404, { 'x-error-code': 'RepoNotFound' }).end();
			if (this.refuse(repo, req, res)) return;
			if (parts[5] !== 'main' && parts[5] !== repo.commit) return void res.writeHead(404, { 'x-error-code': 'RevisionNotFound' }).end();
			const names = [...Object.keys(repo.files), ...this.extraListing];
			const body = { id: `${parts[2]}/${parts[3]}`, sha: repo.commit, siblings: names.map((rfilename) => ({ rfilename })) };
			return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
		}
		if (parts[2] === 'resolve') {
			const repo = this.repos[`${parts[0]}/${parts[1]}`];
			if (!repo) return void res.writeHead(404, { 'x-error-code': 'RepoNotFound' }).end();
			if (this.refuse(repo, req, res)) return;
			if (parts[3] !== 'main' && parts[3] !== repo.commit) return void res.writeHead(404, { 'x-error-code': 'RevisionNotFound' }).end();
			const file = parts.slice(4).join('/');
			const content = repo.files[file] ?? (this.extraListing.includes(file) ? Buffer.from('x') : undefined);
			if (!content) return void res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end();
			if (isLfs(file)) {
				const headers: http.OutgoingHttpHeaders = {
					location: `${this.url}/cdn/${sha256(content)}?signature=abc`,
					'x-repo-commit': repo.commit,
					'x-linked-etag': `"${sha256(content)}"`,
					'x-linked-size': String(content.length),
					etag: `"${gitOid(content)}"`,
				};
				this.tamperHeaders?.(file, headers);
				return void res.writeHead(302, headers).end();
			}
			const headers: http.OutgoingHttpHeaders = {
				'x-repo-commit': repo.commit,
				etag: `"${gitOid(content)}"`,
				'content-length': String(content.length),
			};
			this.tamperHeaders?.(file, headers);
			res.writeHead(200, headers);
			return void (req.method === 'HEAD' ? res.end() : res.end(content));
		}
		if (parts[0] === 'cdn') {
			// Like the real CDN: no auth needed, and an Authorization header must not arrive here.
			const content = Object.values(this.repos)
				.flatMap((r) => Object.values(r.files))
				.find((b) => sha256(b) === parts[1]);
			if (!content) return void res.writeHead(404).end();
			return void this.serveCdn(req, res, content);
		}
		res.writeHead(404).end();
	}

	private serveCdn(req: http.IncomingMessage, res: http.ServerResponse, full: Buffer): void {
		let body = Buffer.from(full);
		if (this.corrupt) body[body.length >> 1] ^= 0xff;
		if (this.oversize) body = Buffer.concat([body, Buffer.alloc(this.oversize.bytes, 0x41)]);
		let start = 0;
		const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
		if (m) start = Number(m[1]);
		const slice = body.subarray(start);
		const headers: http.OutgoingHttpHeaders = { 'content-length': String(slice.length), 'accept-ranges': 'bytes' };
		if (this.oversize?.mode === 'chunked') delete headers['content-length'];
		if (m) headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
		const send = () => {
			res.writeHead(m ? 206 : 200, headers);
			if (req.method === 'HEAD') return void res.end();
			const drop = this.dropNextAfterBytes;
			if (drop !== undefined && drop < slice.length) {
				this.dropNextAfterBytes = undefined;
				res.write(slice.subarray(0, drop), () => res.socket?.destroy());
				return;
			}
			res.end(slice);
		};
		if (this.slowMs) setTimeout(send, this.slowMs);
		else send();
	}
}

/** Awaits a promise that must fail with a HubError; records its texts (checked later for tokens and file content). */
export async function expectHubError(p: Promise<unknown>, messages: string[]): Promise<HubError> {
	const e = await p.then(
		() => undefined,
		(err: unknown) => err,
	);
	expect(e).toBeInstanceOf(HubError);
	messages.push((e as HubError).message, (e as HubError).hint);
	return e as HubError;
}
