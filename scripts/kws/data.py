"""Loads the Speech Commands excerpt from ../shared and builds the `_unknown_`
and `_silence_` material, cached as one .npz so training restarts quickly."""
import csv
import io
import os
import random
import subprocess

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from frontend import CLIP_SAMPLES, SAMPLE_RATE

COMMANDS = ["yes", "no", "up", "down", "left", "right", "stop", "go"]

# Words spoken by espeak-ng for `_unknown_`. No command word, homophone or
# near-rhyme of one (know, write, rite, town, lift, goal, top, cup, yet ...),
# and none of the real unknown words, so those stay a fair held-out check.
SYNTH_WORDS_TRAIN = """
apple table window garden music paper river silver orange yellow purple
morning evening button camera pencil rabbit monkey tiger zebra lemon pepper
water coffee butter ladder hammer basket bottle candle kitchen mountain
ocean planet rocket island forest desert castle dragon wizard pirate
number letter answer question minute second hour today tomorrow yesterday
bring carry open close start finish begin maybe never always often
hello thanks please sorry welcome again under over between behind
north south east west summer winter spring autumn money ticket
doctor teacher student farmer driver singer player painter
""".split()
SYNTH_WORDS_VAL = """
banana guitar blanket chicken pillow tomato elephant violin umbrella
holiday printer journey cabinet diamond festival harbor library mirror
""".split()
VOICES_TRAIN = ["en", "en-us", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-gb-x-gbclan"]
VOICES_VAL = ["en-us-nyc", "en-gb-x-gbcwmd"]
VARIANTS = ["", "+m1", "+m2", "+m3", "+m4", "+m5", "+f1", "+f2", "+f3", "+f4"]

NOISE_VAL_FRACTION = 0.2  # the last 20% of every noise file is held out


def decode(path):
    audio, sr = sf.read(path, dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    if sr != SAMPLE_RATE:
        audio = resample_poly(audio, SAMPLE_RATE, sr).astype(np.float32)
    return audio


def fit_one_second(audio):
    if len(audio) >= CLIP_SAMPLES:
        return audio[:CLIP_SAMPLES]
    return np.pad(audio, (0, CLIP_SAMPLES - len(audio)))


def synth(word, voice, rng):
    args = ["espeak-ng", "--stdout", "-v", voice, "-s", str(rng.randint(120, 200)),
            "-p", str(rng.randint(25, 75)), word]
    wav = subprocess.run(args, check=True, capture_output=True).stdout
    audio, sr = sf.read(io.BytesIO(wav), dtype="float32")
    audio = resample_poly(audio, SAMPLE_RATE, sr).astype(np.float32)
    # trim espeak's leading/trailing silence, then place at a random offset
    loud = np.nonzero(np.abs(audio) > 0.02)[0]
    if len(loud):
        audio = audio[max(0, loud[0] - 800): loud[-1] + 800]
    audio = audio[:CLIP_SAMPLES] * rng.uniform(0.3, 1.0) / max(1e-3, np.abs(audio).max())
    out = np.zeros(CLIP_SAMPLES, dtype=np.float32)
    start = rng.randint(0, CLIP_SAMPLES - len(audio))
    out[start:start + len(audio)] = audio
    return out


def synth_set(words, voices, rng):
    clips = []
    for word in words:
        for voice in voices:
            for variant in rng.sample(VARIANTS, 2):
                clips.append(synth(word, voice + variant, rng))
    return np.stack(clips)


def build(shared_dir, cache_path):
    if os.path.exists(cache_path):
        return dict(np.load(cache_path))
    root = os.path.join(shared_dir, "data", "speech-commands")
    rng = random.Random(1234)
    out = {"train_x": [], "train_y": [], "val_x": [], "val_y": [],
           "unk_train": [], "unk_val": []}
    with open(os.path.join(root, "manifest.csv")) as f:
        for row in csv.DictReader(f):
            audio = fit_one_second(decode(os.path.join(root, row["path"])))
            split = "train" if row["split"] == "training" else "val"
            if row["label"] in COMMANDS:
                out[f"{split}_x"].append(audio)
                out[f"{split}_y"].append(COMMANDS.index(row["label"]))
            else:
                out[f"unk_{split}"].append(audio)
    noise_train, noise_val = [], []
    noise_dir = os.path.join(root, "background_noise")
    for name in sorted(os.listdir(noise_dir)):
        audio = decode(os.path.join(noise_dir, name))
        cut = int(len(audio) * (1 - NOISE_VAL_FRACTION))
        noise_train.append(audio[:cut])
        noise_val.append(audio[cut:])
    data = {k: np.stack(v) if k.endswith("_x") or k.startswith("unk") else np.array(v, dtype=np.int64)
            for k, v in out.items()}
    data["synth_train"] = synth_set(SYNTH_WORDS_TRAIN, VOICES_TRAIN, rng)
    data["synth_val"] = synth_set(SYNTH_WORDS_VAL, VOICES_VAL, rng)
    data["noise_train"] = np.concatenate(noise_train)
    data["noise_train_bounds"] = np.cumsum([0] + [len(n) for n in noise_train])
    data["noise_val"] = np.concatenate(noise_val)
    data["noise_val_bounds"] = np.cumsum([0] + [len(n) for n in noise_val])
    os.makedirs(os.path.dirname(cache_path), exist_ok=True)
    np.savez(cache_path, **data)
    return data


def noise_crop(noise, bounds, rng, length=CLIP_SAMPLES):
    """A crop of one noise recording (never spanning two files)."""
    i = rng.randrange(len(bounds) - 1)
    start = rng.randint(int(bounds[i]), int(bounds[i + 1]) - length)
    return noise[start:start + length]
