/**
 * An HLS playlist (.m3u8) as a live source, read in-process: the playlist is
 * polled, new segments are fetched in order, and their audio is handed on as
 * one continuous elementary stream (ADTS AAC or MP3) for the live decoders.
 * Segments may be MPEG-TS (the audio PID's PES payloads), packed audio
 * (ADTS/MP3 with an ID3 timestamp) or fragmented MP4 with AAC (the samples
 * of each fragment get ADTS headers from the init segment's
 * AudioSpecificConfig). Anything else (encrypted segments, AC-3, Opus or
 * FLAC in fMP4) is refused with the FFmpeg source as the way on.
 *
 * Only http(s): the playlist, variants, init segments and segments must all
 * be http(s) URLs (fetched by http.ts: bounded redirects, credentials to
 * the origin the user named only). Sizes are bounded (playlist 1 MB, one
 * segment 16 MB). Where it left off is kept across reconnects (`resume`),
 * so a reconnect neither repeats nor skips segments the playlist still has.
 */
import { esdsInfo } from '../decoders/aac';
import { mp4Boxes, type Mp4Box } from '../probe';
import { checkHttpUrl, displayUrl, openHttp } from './http';
import { SourceError } from './types';

const MAX_PLAYLIST_BYTES = 1024 * 1024;
const MAX_SEGMENT_BYTES = 16 * 1024 * 1024;

export interface HlsSourceOptions {
	url: string;
	headers?: Record<string, string>;
	/** A reconnect that sees no new segment for this long gives up the connection (min: 3 target durations). */
	stallMs: number;
	signal: AbortSignal;
	/** Kept by the caller across connections: the last media sequence number handed on. */
	resume?: { sequence?: number; playlist?: string };
}

export interface HlsConnection {
	url: string;
	contentType: string;
	chunks: AsyncGenerator<Uint8Array, void, void>;
}

interface Segment {
	sequence: number;
	uri: string;
	duration: number;
	map?: string;
}

interface MediaPlaylist {
	targetDuration: number;
	segments: Segment[];
	ended: boolean;
}

const unsupported = (what: string) =>
	new SourceError(`This HLS stream's ${what} is not read in-process`, 'Choose the FFmpeg source for this stream (it needs ffmpeg where n8n runs).', false, { kind: 'hlsUnsupported' });

/** A text or binary body, whole, at most maxBytes. */
async function fetchAll(url: string, o: HlsSourceOptions, maxBytes: number, what: string): Promise<{ body: Buffer; url: string }> {
	const c = await openHttp({ url, headers: o.headers, stallMs: o.stallMs, signal: o.signal });
	const parts: Buffer[] = [];
	let n = 0;
	for await (const chunk of c.chunks) {
		n += chunk.length;
		if (n > maxBytes) {
			await c.chunks.return();
			throw new SourceError(`The HLS ${what} is larger than ${Math.round(maxBytes / 1024 / 1024)} MB`, 'Use an audio-only variant of the stream, or the FFmpeg source.', false, { kind: 'hlsTooLarge' });
		}
		parts.push(Buffer.from(chunk));
	}
	return { body: Buffer.concat(parts), url };
}

/** Attribute lists (KEY=VALUE,KEY="quoted") of an #EXT-X tag. */
function attributes(line: string): Record<string, string> {
	const out: Record<string, string> = {};
	const re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)/g;
	for (let m = re.exec(line); m; m = re.exec(line)) out[m[1]] = m[2].replace(/^"|"$/g, '');
	return out;
}

/** An http(s) URL relative to the playlist; anything else (file:, data:) is refused. */
function resolve(uri: string, base: string): string {
	let u: string;
	try {
		u = new URL(uri, base).toString();
	} catch {
		throw new SourceError('The HLS playlist names an invalid URL', 'Check the stream.', false, { kind: 'hlsInvalid' });
	}
	try {
		checkHttpUrl(u);
	} catch {
		throw new SourceError(`The HLS playlist points outside http(s) (${uri.split(':')[0]}:)`, 'HLS segments must be http(s) addresses; this playlist is refused.', false, { kind: 'hlsScheme' });
	}
	return u;
}

/** A master playlist's choice: an audio rendition if there is one, else the lowest-bandwidth variant. */
export function chooseVariant(text: string, base: string): string | undefined {
	const lines = text.split(/\r?\n/).map((l) => l.trim());
	const audio = lines.filter((l) => l.startsWith('#EXT-X-MEDIA:')).map(attributes).find((a) => a.TYPE === 'AUDIO' && a.URI && a.DEFAULT !== 'NO')
		?? lines.filter((l) => l.startsWith('#EXT-X-MEDIA:')).map(attributes).find((a) => a.TYPE === 'AUDIO' && a.URI);
	if (audio) return resolve(audio.URI, base);
	let best: { uri: string; bandwidth: number } | undefined;
	for (let i = 0; i < lines.length; i++) {
		if (!lines[i].startsWith('#EXT-X-STREAM-INF:')) continue;
		const uri = lines.slice(i + 1).find((l) => l && !l.startsWith('#'));
		const bandwidth = Number(attributes(lines[i]).BANDWIDTH) || Infinity;
		if (uri && (!best || bandwidth < best.bandwidth)) best = { uri, bandwidth };
	}
	return best && resolve(best.uri, base);
}

export function parseMediaPlaylist(text: string, base: string): MediaPlaylist {
	const lines = text.split(/\r?\n/).map((l) => l.trim());
	if (lines[0] !== '#EXTM3U') throw new SourceError('The address is not an HLS playlist (no #EXTM3U)', 'Check the address: it should end in .m3u8, or choose the HTTP(S) stream source for a progressive stream.', false, { kind: 'hlsInvalid' });
	let sequence = 0;
	let targetDuration = 6;
	let duration = 0;
	let map: string | undefined;
	let ended = false;
	const segments: Segment[] = [];
	for (const line of lines) {
		if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) sequence = Number(line.slice(22)) || 0;
		else if (line.startsWith('#EXT-X-TARGETDURATION:')) targetDuration = Math.min(60, Math.max(1, Number(line.slice(22)) || 6));
		else if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice(8)) || 0;
		else if (line.startsWith('#EXT-X-ENDLIST')) ended = true;
		else if (line.startsWith('#EXT-X-MAP:')) map = resolve(attributes(line).URI ?? '', base);
		else if (line.startsWith('#EXT-X-KEY:')) {
			const method = attributes(line).METHOD;
			if (method && method !== 'NONE') throw unsupported(`encryption (${method})`);
		} else if (line && !line.startsWith('#')) {
			segments.push({ sequence: sequence++, uri: resolve(line, base), duration, map });
			duration = 0;
		}
	}
	return { targetDuration, segments, ended };
}

/** Opens the playlist (a master playlist picks its variant); segments follow as they appear. */
export async function openHls(o: HlsSourceOptions): Promise<HlsConnection> {
	checkHttpUrl(o.url);
	const resume = o.resume ?? {};
	let playlistUrl = resume.playlist ?? o.url;
	let first = await fetchAll(playlistUrl, o, MAX_PLAYLIST_BYTES, 'playlist');
	let text = first.body.toString('utf8');
	if (!text.trimStart().startsWith('#EXTM3U')) {
		throw new SourceError('The address is not an HLS playlist (no #EXTM3U)', 'Check the address: it should end in .m3u8, or choose the HTTP(S) stream source for a progressive stream.', false, { kind: 'hlsInvalid' });
	}
	if (/#EXT-X-STREAM-INF|#EXT-X-MEDIA:/.test(text)) {
		const variant = chooseVariant(text, playlistUrl);
		if (!variant) throw new SourceError('The HLS master playlist lists no variant', 'Check the stream.', false, { kind: 'hlsInvalid' });
		playlistUrl = variant;
		first = await fetchAll(playlistUrl, o, MAX_PLAYLIST_BYTES, 'playlist');
		text = first.body.toString('utf8');
	}
	resume.playlist = playlistUrl;
	const playlist = parseMediaPlaylist(text, playlistUrl);
	return { url: displayUrl(o.url), contentType: 'application/vnd.apple.mpegurl', chunks: segmentsOf(playlist, playlistUrl, o, resume) };
}

const sleep = (ms: number, signal: AbortSignal) =>
	new Promise<void>((done) => {
		const t = setTimeout(finish, ms);
		function finish() {
			clearTimeout(t);
			signal.removeEventListener('abort', finish);
			done();
		}
		signal.addEventListener('abort', finish, { once: true });
	});

async function* segmentsOf(initial: MediaPlaylist, playlistUrl: string, o: HlsSourceOptions, resume: { sequence?: number }): AsyncGenerator<Uint8Array, void, void> {
	let playlist = initial;
	const demux = new SegmentDemuxer();
	const inits = new Map<string, Buffer>();
	let lastNew = Date.now();
	// A first connection starts at the newest segment (lowest latency); a reconnect where it left off.
	if (resume.sequence === undefined && playlist.segments.length && !playlist.ended) resume.sequence = playlist.segments[playlist.segments.length - 1].sequence - 1;
	while (!o.signal.aborted) {
		const next = playlist.segments.filter((s) => resume.sequence === undefined || s.sequence > resume.sequence);
		for (const s of next) {
			if (o.signal.aborted) return;
			if (s.map && !inits.has(s.map)) {
				inits.clear();
				inits.set(s.map, (await fetchAll(s.map, o, MAX_SEGMENT_BYTES, 'init segment')).body);
			}
			const { body } = await fetchAll(s.uri, o, MAX_SEGMENT_BYTES, 'segment');
			resume.sequence = s.sequence;
			lastNew = Date.now();
			const audio = demux.audio(body, s.map ? inits.get(s.map) : undefined);
			for (let at = 0; at < audio.length; at += 64 * 1024) yield audio.subarray(at, Math.min(audio.length, at + 64 * 1024));
		}
		if (playlist.ended) return;
		if (Date.now() - lastNew > Math.max(o.stallMs, 3 * playlist.targetDuration * 1000)) {
			throw new SourceError(`The HLS playlist has had no new segment for ${Math.round((Date.now() - lastNew) / 1000)} s`, 'The stream stalled; it is reconnected.', true, { kind: 'stall' });
		}
		await sleep(Math.min(5000, Math.max(500, (playlist.targetDuration * 1000) / 2)), o.signal);
		if (o.signal.aborted) return;
		playlist = parseMediaPlaylist((await fetchAll(playlistUrl, o, MAX_PLAYLIST_BYTES, 'playlist')).body.toString('utf8'), playlistUrl);
	}
}

/** The audio elementary stream of segments (ADTS or MP3 bytes), whatever their container. */
export class SegmentDemuxer {
	private audioPid = -1;
	private pmtPid = -1;
	private adts?: { profile: number; rateIndex: number; channels: number; track: number };

	audio(segment: Buffer, init?: Buffer): Buffer {
		if (segment.length >= 188 && segment[0] === 0x47 && (segment.length < 376 || segment[188] === 0x47)) return this.ts(segment);
		if (init || isFmp4(segment)) return this.fmp4(segment, init);
		return stripId3(segment);
	}

	/** MPEG-TS: PAT -> PMT -> the first audio PID; its PES payloads, headers removed. */
	private ts(seg: Buffer): Buffer {
		const out: Buffer[] = [];
		for (let p = 0; p + 188 <= seg.length; p += 188) {
			if (seg[p] !== 0x47) {
				const next = seg.indexOf(0x47, p + 1);
				if (next < 0) break;
				p = next - 188;
				continue;
			}
			const pid = ((seg[p + 1] & 0x1f) << 8) | seg[p + 2];
			const start = (seg[p + 1] & 0x40) !== 0;
			const afc = (seg[p + 3] >> 4) & 3;
			let o = p + 4;
			if (afc & 2) o += 1 + seg[p + 4];
			if (!(afc & 1) || o >= p + 188) continue;
			const payload = seg.subarray(o, p + 188);
			if (pid === 0 && start) this.pat(payload);
			else if (pid === this.pmtPid && start) this.pmt(payload);
			else if (pid === this.audioPid) {
				if (start && payload.length >= 9 && payload[0] === 0 && payload[1] === 0 && payload[2] === 1) out.push(payload.subarray(Math.min(payload.length, 9 + payload[8])));
				else if (!start) out.push(payload);
			}
		}
		if (this.audioPid < 0) throw new SourceError('The HLS segment (MPEG-TS) has no AAC or MP3 audio', 'Choose the FFmpeg source for this stream (other codecs need ffmpeg).', false, { kind: 'hlsUnsupported' });
		return Buffer.concat(out);
	}

	private section(payload: Buffer): Buffer | undefined {
		const at = 1 + payload[0];
		if (at + 3 > payload.length) return undefined;
		const length = ((payload[at + 1] & 0x0f) << 8) | payload[at + 2];
		return payload.subarray(at, Math.min(payload.length, at + 3 + length));
	}

	private pat(payload: Buffer): void {
		const s = this.section(payload);
		if (!s || s[0] !== 0) return;
		for (let o = 8; o + 4 <= s.length - 4; o += 4) {
			const program = s.readUInt16BE(o);
			if (program !== 0) {
				this.pmtPid = s.readUInt16BE(o + 2) & 0x1fff;
				return;
			}
		}
	}

	private pmt(payload: Buffer): void {
		const s = this.section(payload);
		if (!s || s[0] !== 2 || s.length < 12) return;
		let o = 12 + (s.readUInt16BE(10) & 0x0fff);
		let other: number | undefined;
		while (o + 5 <= s.length - 4) {
			const type = s[o];
			const pid = s.readUInt16BE(o + 1) & 0x1fff;
			// 0x0F ADTS AAC, 0x03/0x04 MPEG audio: read here. 0x11 LATM, 0x81 AC-3, 0xCF/0xDB encrypted: not.
			if (type === 0x0f || type === 0x03 || type === 0x04) {
				this.audioPid = pid;
				return;
			}
			if ([0x11, 0x81, 0x87, 0xcf, 0xdb, 0xc1, 0xc2].includes(type)) other = type;
			o += 5 + (s.readUInt16BE(o + 3) & 0x0fff);
		}
		if (other !== undefined) throw unsupported(`audio codec (MPEG-TS stream type 0x${other.toString(16)})`);
	}

	/** Fragmented MP4: each fragment's AAC samples, each with an ADTS header from the init segment. */
	private fmp4(seg: Buffer, init?: Buffer): Buffer {
		if (init && !this.adts) this.adts = adtsConfig(init);
		if (!this.adts) throw unsupported('fragmented MP4 without an init segment');
		const out: Buffer[] = [];
		const top = [...mp4Boxes(seg, 0, seg.length)];
		for (const moof of top.filter((b) => b.type === 'moof')) {
			for (const traf of boxes(seg, moof, 'traf')) {
				const tfhd = first(seg, traf, 'tfhd');
				if (!tfhd || tfhd.end - tfhd.start < 8) continue;
				const flags = seg.readUInt32BE(tfhd.start) & 0xffffff;
				if (seg.readUInt32BE(tfhd.start + 4) !== this.adts.track) continue;
				let o = tfhd.start + 8;
				let base = moof.start - 8;
				if (flags & 0x01) {
					base = Number(seg.readBigUInt64BE(o));
					o += 8;
				}
				if (flags & 0x02) o += 4;
				if (flags & 0x08) o += 4;
				const defaultSize = flags & 0x10 ? seg.readUInt32BE(o) : 0;
				for (const trun of boxes(seg, traf, 'trun')) {
					const tf = seg.readUInt32BE(trun.start) & 0xffffff;
					const count = seg.readUInt32BE(trun.start + 4);
					let r = trun.start + 8;
					let data = base;
					if (tf & 0x01) {
						data = base + seg.readInt32BE(r);
						r += 4;
					}
					if (tf & 0x04) r += 4;
					const per = (tf & 0x100 ? 4 : 0) + (tf & 0x200 ? 4 : 0) + (tf & 0x400 ? 4 : 0) + (tf & 0x800 ? 4 : 0);
					if (count > 100_000 || r + count * per > trun.end) throw new SourceError('The HLS segment (fMP4) is malformed', 'Check the stream.', true, { kind: 'hlsInvalid' });
					for (let i = 0; i < count; i++, r += per) {
						const size = tf & 0x200 ? seg.readUInt32BE(r + (tf & 0x100 ? 4 : 0)) : defaultSize;
						if (size <= 0 || size > 8191 - 7 || data + size > seg.length) break;
						out.push(adtsHeader(this.adts, size + 7), seg.subarray(data, data + size));
						data += size;
					}
				}
			}
		}
		return Buffer.concat(out);
	}
}

const boxes = (buf: Buffer, parent: Mp4Box, type: string) => [...mp4Boxes(buf, parent.start, parent.end)].filter((b) => b.type === type);
const first = (buf: Buffer, parent: Mp4Box, type: string) => boxes(buf, parent, type)[0];

function isFmp4(seg: Buffer): boolean {
	const t = seg.length >= 8 ? seg.toString('latin1', 4, 8) : '';
	return t === 'styp' || t === 'moof' || t === 'ftyp' || t === 'sidx';
}

/** The audio track of an init segment: its id and AAC configuration (else: not read in-process). */
function adtsConfig(init: Buffer): { profile: number; rateIndex: number; channels: number; track: number } {
	const moov = [...mp4Boxes(init, 0, init.length)].find((b) => b.type === 'moov');
	for (const trak of moov ? boxes(init, moov, 'trak') : []) {
		const tkhd = first(init, trak, 'tkhd');
		const mdia = first(init, trak, 'mdia');
		const hdlr = mdia && first(init, mdia, 'hdlr');
		if (!tkhd || !mdia || !hdlr || init.toString('latin1', hdlr.start + 8, hdlr.start + 12) !== 'soun') continue;
		const track = init.readUInt32BE(tkhd.start + (init[tkhd.start] === 1 ? 20 : 12));
		const minf = first(init, mdia, 'minf');
		const stbl = minf && first(init, minf, 'stbl');
		const stsd = stbl && first(init, stbl, 'stsd');
		if (!stsd) continue;
		const entry = [...mp4Boxes(init, stsd.start + 8, stsd.end)][0];
		if (!entry) continue;
		if (entry.type !== 'mp4a') throw unsupported(`audio codec (${entry.type.trim()} in fragmented MP4)`);
		const esds = [...mp4Boxes(init, entry.start + 28, entry.end)].find((b) => b.type === 'esds');
		const info = esds && esdsInfo(init, esds);
		if (!info?.asc || info.objectType !== 0x40 || info.asc.length < 2) throw unsupported('audio codec (not AAC in fragmented MP4)');
		const aot = info.asc[0] >> 3;
		const rateIndex = ((info.asc[0] & 7) << 1) | (info.asc[1] >> 7);
		const channels = (info.asc[1] >> 3) & 0x0f;
		if (rateIndex > 12 || aot === 31 || channels === 0) throw unsupported('AAC configuration (explicit rate or channel layout)');
		// ADTS carries the core profile: HE-AAC (5, 29) is signalled implicitly inside the LC stream.
		return { profile: aot === 5 || aot === 29 ? 1 : Math.max(0, Math.min(3, aot - 1)), rateIndex, channels, track };
	}
	throw unsupported('init segment (no audio track)');
}

function adtsHeader(c: { profile: number; rateIndex: number; channels: number }, length: number): Buffer {
	const h = Buffer.alloc(7);
	h[0] = 0xff;
	h[1] = 0xf1;
	h[2] = (c.profile << 6) | (c.rateIndex << 2) | ((c.channels >> 2) & 1);
	h[3] = ((c.channels & 3) << 6) | ((length >> 11) & 3);
	h[4] = (length >> 3) & 0xff;
	h[5] = ((length & 7) << 5) | 0x1f;
	h[6] = 0xfc;
	return h;
}

/** Packed audio (ADTS or MP3 segments) starts with an ID3 tag holding its timestamp: dropped. */
function stripId3(seg: Buffer): Buffer {
	let o = 0;
	while (o + 10 <= seg.length && seg.toString('latin1', o, o + 3) === 'ID3') {
		const size = ((seg[o + 6] & 0x7f) << 21) | ((seg[o + 7] & 0x7f) << 14) | ((seg[o + 8] & 0x7f) << 7) | (seg[o + 9] & 0x7f);
		o += 10 + size + (seg[o + 5] & 0x10 ? 10 : 0);
	}
	return seg.subarray(Math.min(o, seg.length));
}
