/**
 * Event clips as the trigger attaches them: 16-bit WAV and Ogg Opus (libopus
 * in the package's WebAssembly build). Each is read back by this package's
 * own decoders; the Ogg Opus clip keeps its length (pre-skip and end trim
 * written) and its waveform, whatever the rate it came at.
 */
import { decodeAudio } from '../src/audio/decode';
import { encodeOggOpus, encodeWav16 } from '../src/audio/encode';

/** A 440 Hz + 1 kHz tone under a slow envelope, `seconds` long at `rate`. */
function tone(seconds: number, rate: number): Float32Array {
	const x = new Float32Array(Math.round(seconds * rate));
	for (let i = 0; i < x.length; i++) {
		const t = i / rate;
		x[i] = 0.4 * Math.sin(Math.PI * t / seconds) * (Math.sin(2 * Math.PI * 440 * t) + 0.5 * Math.sin(2 * Math.PI * 1000 * t));
	}
	return x;
}

/** Best normalised cross-correlation of `a` and `b` over lags up to `maxLag` samples (codec delay). */
function similarity(a: Float32Array, b: Float32Array, maxLag: number): number {
	let best = -1;
	for (let lag = -maxLag; lag <= maxLag; lag++) {
		let ab = 0;
		let aa = 0;
		let bb = 0;
		for (let i = Math.max(0, -lag); i < a.length && i + lag < b.length; i++) {
			const u = a[i];
			const v = b[i + lag];
			ab += u * v;
			aa += u * u;
			bb += v * v;
		}
		best = Math.max(best, ab / Math.sqrt(aa * bb + 1e-12));
	}
	return best;
}

describe('event clips', () => {
	test('WAV: 16-bit mono that decodes back to the samples within one quantisation step', async () => {
		const x = tone(0.5, 16_000);
		const wav = encodeWav16(x, 16_000);
		expect(wav.subarray(0, 4).toString('ascii')).toBe('RIFF');
		expect(wav.length).toBe(44 + 2 * x.length);
		const back = await decodeAudio(wav, { samplingRate: 16_000, decoder: 'builtIn' });
		expect(back.samples.length).toBe(x.length);
		let worst = 0;
		for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(back.samples[i] - x[i]));
		expect(worst).toBeLessThanOrEqual(1 / 32_767 + 1e-6);
	});

	test.each([16_000, 44_100, 22_050])('Ogg Opus from %i Hz: the length and waveform are kept', async (rate) => {
		const x = tone(1.3, rate);
		const ogg = await encodeOggOpus(x, rate);
		expect(ogg.subarray(0, 4).toString('ascii')).toBe('OggS');
		expect(ogg.includes(Buffer.from('OpusHead'))).toBe(true);
		// 32 kb/s: about 4 KB a second, not the 32 KB of 16-bit WAV at 16 kHz
		expect(ogg.length).toBeLessThan(1.3 * 8_000);
		const back = await decodeAudio(ogg, { samplingRate: 16_000, decoder: 'builtIn' });
		expect(back.decoder).toMatch(/opus/i);
		// the declared length: within one 20 ms frame of the clip's
		expect(Math.abs(back.duration - 1.3)).toBeLessThanOrEqual(0.02);
		const ref = rate === 16_000 ? x : (await decodeAudio(encodeWav16(x, rate), { samplingRate: 16_000, decoder: 'builtIn' })).samples;
		expect(similarity(ref, back.samples, 160)).toBeGreaterThan(0.9);
	});

	test('Ogg Opus of an empty clip is a valid, empty stream rather than an error', async () => {
		const ogg = await encodeOggOpus(new Float32Array(0), 16_000);
		expect(ogg.subarray(0, 4).toString('ascii')).toBe('OggS');
	});
});
