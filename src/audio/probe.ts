/**
 * What a container's header says before anything is decoded: the duration
 * declared by FLAC (STREAMINFO) and MP4/MOV (mvhd), and whether an MP4's
 * index (moov) comes after its media data, which ffmpeg cannot read from a
 * pipe. Header values are hints for an early, cheap refusal; the decoders
 * still count what they really produce.
 */

export interface ContainerProbe {
	container: 'flac' | 'mp4' | 'unknown';
	/** Declared duration in seconds, when the header gives one. */
	duration?: number;
	/** MP4 only: the moov box is after mdat (or missing), so ffmpeg must seek. */
	needsSeek?: boolean;
}

export function probeContainer(input: Buffer): ContainerProbe {
	if (input.length >= 42 && input.toString('ascii', 0, 4) === 'fLaC') return probeFlac(input);
	if (input.length >= 12 && input.toString('ascii', 4, 8) === 'ftyp') return probeMp4(input);
	return { container: 'unknown' };
}

function probeFlac(input: Buffer): ContainerProbe {
	// First metadata block must be STREAMINFO (type 0, 34 bytes).
	if ((input[4] & 0x7f) !== 0) return { container: 'flac' };
	const si = 8;
	const sampleRate = (input[si + 10] << 12) | (input[si + 11] << 4) | (input[si + 12] >> 4);
	const totalSamples = (input[si + 13] & 0x0f) * 2 ** 32 + input.readUInt32BE(si + 14);
	if (!sampleRate || !totalSamples) return { container: 'flac' }; // 0 = unknown
	return { container: 'flac', duration: totalSamples / sampleRate };
}

/** One ISO-BMFF box: its type and body span (clamped to the parent). */
export interface Mp4Box {
	type: string;
	/** Body start (after the 8- or 16-byte header). */
	start: number;
	end: number;
}

/** The boxes between start and end: 64-bit sizes, size 0 = "to the end"; stops at a malformed size. */
export function* mp4Boxes(buf: Buffer, start: number, end: number): Generator<Mp4Box> {
	let o = start;
	for (let n = 0; o + 8 <= end && n < 100_000; n++) {
		let size = buf.readUInt32BE(o);
		let header = 8;
		if (size === 1) {
			if (o + 16 > end) return;
			size = Number(buf.readBigUInt64BE(o + 8));
			header = 16;
		} else if (size === 0) {
			size = end - o;
		}
		if (size < header) return;
		yield { type: buf.toString('latin1', o + 4, o + 8), start: o + header, end: Math.min(end, o + size) };
		o += size;
	}
}

function probeMp4(input: Buffer): ContainerProbe {
	let sawMdat = false;
	let moovAfterMdat = false;
	let moov: Mp4Box | undefined;
	for (const box of mp4Boxes(input, 0, input.length)) {
		if (box.type === 'mdat') sawMdat = true;
		if (box.type === 'moov') {
			moovAfterMdat = sawMdat;
			moov = box;
			break;
		}
	}
	const needsSeek = !moov || moovAfterMdat;
	if (!moov) return { container: 'mp4', needsSeek };
	for (const box of mp4Boxes(input, moov.start, moov.end)) {
		const b = box.start; // version(1) flags(3) created modified timescale duration
		if (box.type === 'mvhd' && b + 24 <= moov.end) {
			const version = input[b];
			const timescale = version === 1 ? input.readUInt32BE(b + 20) : input.readUInt32BE(b + 12);
			const duration =
				version === 1 ? (b + 32 <= moov.end ? Number(input.readBigUInt64BE(b + 24)) : 0) : input.readUInt32BE(b + 16);
			// 0xFFFFFFFF (or all ones) means "unknown" in fragmented files.
			const known = timescale > 0 && duration > 0 && duration !== 0xffffffff;
			return { container: 'mp4', needsSeek, duration: known ? duration / timescale : undefined };
		}
	}
	return { container: 'mp4', needsSeek };
}
