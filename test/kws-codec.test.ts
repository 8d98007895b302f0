// scripts/kws/codec.py, the codec augmentation of the command model's training (recipe v11):
// each setting's round trip through the real encoder (sox's AMR-NB, ffmpeg's libopus) must come
// back the input's length and aligned with it, or every training clip would be shifted against
// its neighbours' audio. Runs the script's own functions on a committed speech fixture.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

const KWS = path.join(__dirname, '..', 'scripts', 'kws');
const SPEECH = path.join(__dirname, 'fixtures', 'audio', 'speech-16k-mono-s16.wav');

function missing(): string[] {
	const out: string[] = [];
	for (const tool of ['sox', 'ffmpeg']) {
		try {
			execFileSync(tool, [tool === 'sox' ? '--version' : '-version'], { stdio: 'ignore' });
		} catch {
			out.push(tool);
		}
	}
	try {
		execFileSync('/usr/bin/python3', ['-c', 'import numpy, soundfile'], { stdio: 'ignore' });
	} catch {
		out.push('python3-numpy python3-soundfile');
	}
	return out;
}

const absent = missing();
if (absent.length) console.warn(`SKIPPED codec.py round trips: ${absent.join(', ')} not installed (apt-get install ffmpeg sox python3-numpy python3-soundfile)`);
const describeWithTools = absent.length ? describe.skip : describe;

interface Trip {
	setting: [string, number];
	samples: number;
	out: number;
	rawLag: number;
	lag: number;
	residualLag: number;
	correlation: number;
}

describeWithTools('codec.py (training-time codec augmentation)', () => {
	it('returns every setting\'s round trip at the input\'s length, with the codec delay removed', () => {
		// Four copies of the 1.2 s fixture in one stream, as the cache codes many clips in one.
		const script = `
import json, sys
import numpy as np, soundfile as sf
sys.path.insert(0, ${JSON.stringify(KWS)})
import codec
x, rate = sf.read(${JSON.stringify(SPEECH)}, dtype="float32")
assert rate == codec.SAMPLE_RATE
x = np.tile(x, 4)
out = []
for setting in codec.SETTINGS:
    raw = codec.encode_decode(x, setting)
    y, lag = codec.round_trip(x, setting)
    n = len(x) - 2 * codec.MAX_LAG
    out.append({"setting": setting, "samples": len(x), "out": len(y), "rawLag": codec.delay(x, raw), "lag": lag,
                "residualLag": codec.delay(x, y), "correlation": float(np.corrcoef(x[:n], y[:n])[0, 1])})
print(json.dumps(out))
`;
		const trips = JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8' })) as Trip[];
		console.log(`codec.py round trips of 4.8 s of speech: ${trips.map((t) => `${t.setting.join(' ')} delay ${t.rawLag}, corr ${t.correlation.toFixed(2)}`).join('; ')}`);
		expect(trips.map((t) => t.setting[0]).sort()).toEqual(['amr-nb', 'amr-nb', 'amr-nb', 'opus', 'opus']);
		for (const t of trips) {
			expect(t.out).toBe(t.samples);
			expect(t.lag).toBe(t.rawLag);
			// Aligned after the delay is removed: the best lag is now 0 (+-1 sample).
			expect(Math.abs(t.residualLag)).toBeLessThanOrEqual(1);
			expect(t.correlation).toBeGreaterThan(0.5);
		}
		// AMR-NB through sox is late by ~5 ms (80 samples at 16 kHz): the removal is what aligns it.
		for (const t of trips.filter((x) => x.setting[0] === 'amr-nb')) expect(t.rawLag).toBeGreaterThan(40);
	});
});
