"""Real codec round trips of the training speech (recipe v11, session 20).

Voice notes reach the node through lossy codecs: AMR-NB from phones and MMS (8 kHz, 4.75-12.2
kbit/s), Opus from Telegram and WhatsApp (voip mode, 8-16 kbit/s at the low end). v7 only cut
some training clips to telephone bandwidth (train.narrowband), and recognises 12.2 kbit/s AMR-NB
notes of the validation commands 88.3% of the time against 93.2% uncoded (eval-amr.js).

Encoding every clip at training time would cost a subprocess per clip, so the speech is coded
once, by the real encoders (sox's AMR-NB, ffmpeg's libopus), and cached: every clip of every
speech source gets one coded twin, each with one of SETTINGS (in turn over a seeded order) and,
as a phone would record it, the room's noise mixed in before the encoder (80% of clips, SNR
[SNR_MIN, SNR_MIN + 25] dB, as train.augment_speech draws it). train.py then draws the twin
instead of the clip for a share (--codec) of speech items, and adds no second noise to it.

All clips of one setting go through the encoder as one stream (hundreds of times faster than one
process per clip); the stream is decoded, its codec delay measured by cross-correlation with the
input and removed, and cut back into clips. No shell: argument lists, audio through pipes.

    /usr/bin/python3 scripts/kws/codec.py    # builds the cache train.py --recipe v11 reads
"""
import os
import random
import subprocess
import time

import numpy as np

# Only numpy here (the training modules, which need torch, are imported by build()), so the round
# trip can be tested where torch is not installed (test/kws-codec.test.ts, in CI).
SAMPLE_RATE = 16000  # frontend.SAMPLE_RATE, checked by build()
CACHE_NAME = "kws-codec-v11.npz"  # in synth.CACHE_DIR
# (codec, setting): AMR-NB modes 7, 4, 0 (12.2, 7.4, 4.75 kbit/s); Opus voip at 8 and 16 kbit/s.
SETTINGS = (("amr-nb", 7), ("amr-nb", 4), ("amr-nb", 0), ("opus", 8), ("opus", 16))
# The sources train.source_wave draws speech from, and their coded twins' keys.
SOURCES = ("train_x", "unk_train", "other_words_train", "synth_cmd_x", "synth_unk_x")
SENTENCES = "other_sent"
BLOCK = 10 * SAMPLE_RATE  # the long sentence stream is coded in 10-second blocks
MAX_LAG = 400
RAW = ["-t", "raw", "-r", str(SAMPLE_RATE), "-e", "floating-point", "-b", "32", "-c", "1"]


def _run(argv, data):
    return subprocess.run(argv, input=data, capture_output=True, check=True).stdout


def encode_decode(x, setting):
    """`x` (float32, 16 kHz) through one encoder and back to 16 kHz float32, as the node would
    decode it (its length may differ by the codec's delay and framing)."""
    codec, value = setting
    pcm = np.ascontiguousarray(x, dtype=np.float32).tobytes()
    if codec == "amr-nb":
        coded = _run(["sox", "-V1", "-D", *RAW, "-", "-r", "8000", "-t", "amr-nb", "-C", str(value), "-"], pcm)
        out = _run(["sox", "-V1", "-D", "-t", "amr-nb", "-", *RAW, "-"], coded)
    elif codec == "opus":
        coded = _run(["ffmpeg", "-nostdin", "-v", "error", "-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "pipe:0",
                      "-c:a", "libopus", "-b:a", f"{value}k", "-application", "voip", "-f", "ogg", "pipe:1"], pcm)
        out = _run(["ffmpeg", "-nostdin", "-v", "error", "-i", "pipe:0", "-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", "1",
                    "pipe:1"], coded)
    else:
        raise ValueError(f"unknown codec {codec}")
    return np.frombuffer(out, dtype=np.float32)


def delay(x, y, span=20 * SAMPLE_RATE):
    """The lag (samples) at which `y` best matches `x`, over [-MAX_LAG, MAX_LAG], on the first `span` samples."""
    n = min(len(x), len(y), span) - 2 * MAX_LAG
    ref = x[MAX_LAG:MAX_LAG + n].astype(np.float64)
    scores = [float(np.dot(ref, y[MAX_LAG + lag:MAX_LAG + lag + n])) for lag in range(-MAX_LAG, MAX_LAG + 1)]
    return int(np.argmax(scores)) - MAX_LAG


def round_trip(x, setting):
    """`x` coded and decoded, the codec's delay removed, the same length as `x`; and the delay."""
    y = encode_decode(x, setting)
    lag = delay(x, y)
    out = np.zeros(len(x), dtype=np.float32)
    part = y[max(0, lag):max(0, lag) + len(x) - max(0, -lag)]
    out[max(0, -lag):max(0, -lag) + len(part)] = part
    return out, lag


def noisy(clip, rng, noise, bounds, snr_min):
    """The clip with a training noise crop mixed in at a random SNR (80% of the time), as recorded."""
    import data as D
    if rng.random() >= 0.8 or not np.any(clip):
        return clip
    n = D.noise_crop(noise, bounds, rng, len(clip))
    snr = rng.uniform(snr_min, snr_min + 25)
    p_sig = max(float(np.mean(clip.astype(np.float64) ** 2)), 1e-8)
    p_noise = max(float(np.mean(n.astype(np.float64) ** 2)), 1e-8)
    return (clip + n * np.sqrt(p_sig / (p_noise * 10 ** (snr / 10)))).astype(np.float32)


def code_clips(clips, rng, noise, bounds, snr_min, log):
    """Coded twins of `clips` (N, L): each gets one setting, in turn over a seeded order, and its own noise."""
    order = list(range(len(clips)))
    rng.shuffle(order)
    out = np.zeros_like(clips)
    for k, setting in enumerate(SETTINGS):
        idx = sorted(order[k::len(SETTINGS)])
        if not idx:
            continue
        stream = np.concatenate([noisy(clips[i], rng, noise, bounds, snr_min) for i in idx])
        coded, lag = round_trip(stream, setting)
        out[idx] = np.clip(coded, -1, 1).reshape(len(idx), clips.shape[1])
        log(f"  {setting[0]} {setting[1]}: {len(idx)} clips, delay {lag} samples")
    return out


def build(d, cache=None, seed=41, snr_min=3.0, log=print):
    """The coded twins of d's speech sources (a dict of `<source>_codec` arrays), cached at `cache`
    (default: CACHE_NAME in synth.CACHE_DIR)."""
    import frontend
    import synth as S
    assert frontend.SAMPLE_RATE == SAMPLE_RATE
    cache = cache or os.path.join(S.CACHE_DIR, CACHE_NAME)
    if os.path.exists(cache):
        return dict(np.load(cache))
    t0 = time.time()
    rng = random.Random(seed)
    noise, bounds = d["noise_train"], d["noise_train_bounds"]
    out = {}
    for name in SOURCES:
        log(f"coding {name} ({len(d[name])} clips)")
        out[f"{name}_codec"] = code_clips(d[name], rng, noise, bounds, snr_min, log)
    sent = d[SENTENCES]
    blocks = np.zeros((-(-len(sent) // BLOCK), BLOCK), dtype=np.float32)
    blocks.reshape(-1)[:len(sent)] = sent
    log(f"coding {SENTENCES} ({len(sent) / SAMPLE_RATE / 60:.0f} min in 10-s blocks)")
    out[f"{SENTENCES}_codec"] = code_clips(blocks, rng, noise, bounds, snr_min, log).reshape(-1)[:len(sent)]
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    tmp = cache + ".tmp.npz"
    np.savez(tmp, **out)
    os.replace(tmp, cache)
    log(f"codec cache: {cache} ({time.time() - t0:.0f}s)")
    return out


if __name__ == "__main__":
    import train as T
    T.RECIPE = "v11"
    build(T.load_training_data(os.path.join(T.REPO, "..", "shared"), T.DATA_CACHE, True))
