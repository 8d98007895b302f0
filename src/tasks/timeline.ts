/**
 * A timeline picture of a Detect Events result, for people who would rather
 * look than read: the loudness of the recording over time, each event as a
 * coloured span with its label, and a time axis. A small PNG made here (no
 * canvas or image library): RGB rows, deflated with node:zlib.
 */

import type { DetectedEvent } from './types';

export interface TimelineInput {
	duration: number;
	/** RMS per frame (10 ms). */
	energy: { rms: Float32Array; frame: number };
	events: DetectedEvent[];
	width?: number;
	height?: number;
}

// 5x7 glyphs, one 5-bit row each (top to bottom), for labels and times.
const GLYPHS: Record<string, number[]> = {
	a: [0, 14, 1, 15, 17, 19, 13], b: [16, 16, 22, 25, 17, 17, 30], c: [0, 14, 16, 16, 16, 17, 14], d: [1, 1, 13, 19, 17, 17, 15],
	e: [0, 14, 17, 31, 16, 17, 14], f: [6, 9, 8, 28, 8, 8, 8], g: [0, 15, 17, 17, 15, 1, 14], h: [16, 16, 22, 25, 17, 17, 17],
	i: [4, 0, 12, 4, 4, 4, 14], j: [2, 0, 6, 2, 2, 18, 12], k: [16, 16, 18, 20, 24, 20, 18], l: [12, 4, 4, 4, 4, 4, 14],
	m: [0, 26, 21, 21, 21, 21, 21], n: [0, 22, 25, 17, 17, 17, 17], o: [0, 14, 17, 17, 17, 17, 14], p: [0, 30, 17, 17, 30, 16, 16],
	q: [0, 15, 17, 17, 15, 1, 1], r: [0, 22, 25, 16, 16, 16, 16], s: [0, 15, 16, 14, 1, 1, 30], t: [8, 8, 28, 8, 8, 9, 6],
	u: [0, 17, 17, 17, 17, 19, 13], v: [0, 17, 17, 17, 17, 10, 4], w: [0, 17, 17, 21, 21, 21, 10], x: [0, 17, 10, 4, 4, 10, 17],
	y: [0, 17, 17, 17, 15, 1, 14], z: [0, 31, 2, 4, 8, 16, 31],
	'0': [14, 17, 19, 21, 25, 17, 14], '1': [4, 12, 4, 4, 4, 4, 14], '2': [14, 17, 1, 2, 4, 8, 31], '3': [31, 2, 4, 2, 1, 17, 14],
	'4': [2, 6, 10, 18, 31, 2, 2], '5': [31, 16, 30, 1, 1, 17, 14], '6': [6, 8, 16, 30, 17, 17, 14], '7': [31, 1, 2, 4, 8, 8, 8],
	'8': [14, 17, 17, 14, 17, 17, 14], '9': [14, 17, 17, 15, 1, 2, 12],
	_: [0, 0, 0, 0, 0, 0, 31], ':': [0, 12, 12, 0, 12, 12, 0], '.': [0, 0, 0, 0, 0, 12, 12], '-': [0, 0, 0, 31, 0, 0, 0],
	' ': [0, 0, 0, 0, 0, 0, 0], '?': [14, 17, 1, 2, 4, 0, 4],
};

const PALETTE: Array<[number, number, number]> = [
	[230, 97, 1], [44, 123, 182], [26, 152, 80], [215, 48, 39], [117, 112, 179], [191, 129, 45], [1, 133, 113], [197, 27, 125],
	[102, 166, 30], [90, 90, 200],
];

class Canvas {
	readonly px: Uint8Array;

	constructor(
		readonly width: number,
		readonly height: number,
	) {
		this.px = new Uint8Array(width * height * 3).fill(255);
	}

	blend(x: number, y: number, [r, g, b]: [number, number, number], alpha = 1): void {
		if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
		const o = (y * this.width + x) * 3;
		this.px[o] = Math.round(this.px[o] * (1 - alpha) + r * alpha);
		this.px[o + 1] = Math.round(this.px[o + 1] * (1 - alpha) + g * alpha);
		this.px[o + 2] = Math.round(this.px[o + 2] * (1 - alpha) + b * alpha);
	}

	rect(x0: number, y0: number, x1: number, y1: number, color: [number, number, number], alpha = 1): void {
		for (let y = Math.max(0, Math.floor(y0)); y < Math.min(this.height, Math.ceil(y1)); y++) {
			for (let x = Math.max(0, Math.floor(x0)); x < Math.min(this.width, Math.ceil(x1)); x++) this.blend(x, y, color, alpha);
		}
	}

	/** Text at scale 2 (10x14 px glyphs); returns its width. */
	text(x: number, y: number, text: string, color: [number, number, number], maxWidth = Infinity): number {
		let cx = x;
		for (const ch of text.toLowerCase()) {
			if (cx + 12 - x > maxWidth) break;
			const rows = GLYPHS[ch] ?? GLYPHS['?'];
			rows.forEach((bits, row) => {
				for (let col = 0; col < 5; col++) if (bits & (16 >> col)) this.rect(cx + col * 2, y + row * 2, cx + col * 2 + 2, y + row * 2 + 2, color);
			});
			cx += 12;
		}
		return cx - x;
	}

	png(): Buffer {
		const raw = Buffer.alloc((this.width * 3 + 1) * this.height);
		for (let y = 0; y < this.height; y++) {
			raw[y * (this.width * 3 + 1)] = 0; // filter: none
			raw.set(this.px.subarray(y * this.width * 3, (y + 1) * this.width * 3), y * (this.width * 3 + 1) + 1);
		}
		const header = Buffer.alloc(13);
		header.writeUInt32BE(this.width, 0);
		header.writeUInt32BE(this.height, 4);
		header[8] = 8; // bit depth
		header[9] = 2; // RGB
		return Buffer.concat([
			Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
			chunk('IHDR', header),
			chunk('IDAT', (require('node:zlib') as typeof import('node:zlib')).deflateSync(raw)),
			chunk('IEND', Buffer.alloc(0)),
		]);
	}
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
	let c = n;
	for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
	return c >>> 0;
});

function crc32(bytes: Buffer): number {
	let c = 0xffffffff;
	for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
	return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
	const length = Buffer.alloc(4);
	length.writeUInt32BE(data.length);
	const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
	const crc = Buffer.alloc(4);
	crc.writeUInt32BE(crc32(body));
	return Buffer.concat([length, body, crc]);
}

function clock(seconds: number): string {
	const m = Math.floor(seconds / 60);
	const s = Math.round(seconds - m * 60);
	return m >= 60 ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, '0')}:${String(s).padStart(2, '0')}` : `${m}:${String(s).padStart(2, '0')}`;
}

export function renderTimeline(input: TimelineInput): Buffer {
	const width = input.width ?? 1200;
	const height = input.height ?? 240;
	const c = new Canvas(width, height);
	const top = 40; // label band
	const axis = 30;
	const waveTop = top;
	const waveBottom = height - axis;
	const mid = (waveTop + waveBottom) / 2;
	const x = (t: number) => (t / Math.max(input.duration, 1e-6)) * width;
	const colors = new Map<string, [number, number, number]>();
	const colorOf = (label: string) => {
		if (!colors.has(label)) colors.set(label, PALETTE[colors.size % PALETTE.length]);
		return colors.get(label)!;
	};
	// events first (behind the loudness)
	for (const e of input.events) c.rect(x(e.start), waveTop, Math.max(x(e.end), x(e.start) + 2), waveBottom, colorOf(e.label), 0.28);
	// loudness: the loudest 10 ms frame of each pixel column, on a 60 dB scale
	const { rms, frame } = input.energy;
	let peak = 1e-9;
	for (const v of rms) peak = Math.max(peak, v);
	for (let px = 0; px < width; px++) {
		const a = Math.floor((px / width) * input.duration / frame);
		const b = Math.max(a + 1, Math.floor(((px + 1) / width) * input.duration / frame));
		let m = 0;
		for (let f = a; f < Math.min(rms.length, b); f++) m = Math.max(m, rms[f]);
		const db = m > 0 ? 20 * Math.log10(m / peak) : -60;
		const h = Math.max(0, (db + 60) / 60) * (waveBottom - waveTop) / 2;
		c.rect(px, mid - h, px + 1, mid + h + 1, [70, 70, 70]);
	}
	// labels above their events, on the first of two rows where they fit
	const rowEnds = [-Infinity, -Infinity];
	for (const e of [...input.events].sort((p, q) => p.start - q.start)) {
		const lx = Math.round(x(e.start));
		const row = rowEnds.findIndex((end) => lx >= end + 4);
		if (row < 0) continue; // too crowded: the span still shows
		rowEnds[row] = lx + c.text(lx, 3 + row * 18, e.label, colorOf(e.label), width - lx);
	}
	// time axis
	c.rect(0, waveBottom, width, waveBottom + 1, [160, 160, 160]);
	const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
	const step = steps.find((s) => input.duration / s <= 10) ?? 3600;
	for (let t = 0; t <= input.duration; t += step) {
		const tx = Math.round(x(t));
		c.rect(tx, waveBottom, tx + 1, waveBottom + 6, [120, 120, 120]);
		c.text(Math.min(tx + 3, width - 60), waveBottom + 10, clock(t), [90, 90, 90]);
	}
	return c.png();
}
