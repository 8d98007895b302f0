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

function probeMp4(input: Buffer): ContainerProbe {
	let offset = 0;
	let sawMdat = false;
	let moovAfterMdat = false;
	let moov: { start: number; end: number } | undefined;
	for (let boxes = 0; offset + 8 <= input.length && boxes < 10_000; boxes++) {
		let size = input.readUInt32BE(offset);
		const type = input.toString('latin1', offset + 4, offset + 8);
		let header = 8;
		if (size === 1) {
			if (offset + 16 > input.length) break;
			size = Number(input.readBigUInt64BE(offset + 8));
			header = 16;
		} else if (size === 0) {
			size = input.length - offset;
		}
		if (size < header) break;
		if (type === 'mdat') sawMdat = true;
		if (type === 'moov') {
			moovAfterMdat = sawMdat;
			moov = { start: offset + header, end: Math.min(input.length, offset + size) };
			break;
		}
		offset += size;
	}
	const needsSeek = !moov || moovAfterMdat;
	if (!moov) return { container: 'mp4', needsSeek };
	for (let o = moov.start; o + 8 <= moov.end; ) {
		const size = input.readUInt32BE(o);
		const type = input.toString('latin1', o + 4, o + 8);
		if (size < 8) break;
		if (type === 'mvhd' && o + 32 <= moov.end) {
			const version = input[o + 8];
			const timescale = version === 1 ? input.readUInt32BE(o + 28) : input.readUInt32BE(o + 20);
			const duration =
				version === 1 ? (o + 40 <= moov.end ? Number(input.readBigUInt64BE(o + 32)) : 0) : input.readUInt32BE(o + 24);
			// 0xFFFFFFFF (or all ones) means "unknown" in fragmented files.
			const known = timescale > 0 && duration > 0 && duration !== 0xffffffff;
			return { container: 'mp4', needsSeek, duration: known ? duration / timescale : undefined };
		}
		o += size;
	}
	return { container: 'mp4', needsSeek };
}
