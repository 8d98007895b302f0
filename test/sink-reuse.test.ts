/**
 * The decoders' sink gives its blocks back for the next file once decode.ts has read them
 * (src/audio/decoders/sink.ts): a file decoded after, or while, others are decoded must come
 * out exactly as when decoded first in a fresh state, whatever blocks it was handed.
 */
import { decodeAudio } from '../src';
import { audio } from './helpers/fixtures';

const FILES = ['speech-48k-mono.opus', 'speech-48k-stereo.webm', 'speech-44k-stereo.mp3', 'speech-44k-stereo.flac', 'command-stop-aac.caf', 'speech-44k-stereo-aac.caf'];
const decode = async (name: string) => (await decodeAudio(audio(name), { samplingRate: 16_000, decoder: 'builtIn' })).samples;

it('files decoded one after another and concurrently equal their first decode exactly', async () => {
	const first = new Map<string, Float32Array>();
	for (const f of FILES) first.set(f, await decode(f));
	// Each again, in reverse order (blocks of the others come back to it), then all at once, twice
	for (const f of [...FILES].reverse()) expect(Buffer.compare(Buffer.from((await decode(f)).buffer), Buffer.from(first.get(f)!.buffer))).toBe(0);
	const again = await Promise.all([...FILES, ...FILES].map(decode));
	again.forEach((samples, i) => {
		const want = first.get(FILES[i % FILES.length])!;
		expect(samples.length).toBe(want.length);
		expect(Buffer.compare(Buffer.from(samples.buffer), Buffer.from(want.buffer))).toBe(0);
	});
	// Outputs are the caller's own: decoding more does not change samples handed out before
	const kept = Float32Array.from(again[0]);
	await Promise.all(FILES.map(decode));
	expect(Buffer.compare(Buffer.from(again[0].buffer), Buffer.from(kept.buffer))).toBe(0);
});
