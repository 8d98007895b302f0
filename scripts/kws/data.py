"""Loads ../shared (the Speech Commands excerpt and the other-speech corpus)
and builds the `_unknown_` and `_silence_` material, cached as one .npz so
training restarts quickly. No synthetic speech: it would be in one class only,
and a model learns the voice instead of the word (v2 did)."""
import csv
import hashlib
import os

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from frontend import CLIP_SAMPLES, SAMPLE_RATE

COMMANDS = ["yes", "no", "up", "down", "left", "right", "stop", "go"]

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


def build(shared_dir, cache_path):
    if os.path.exists(cache_path):
        return dict(np.load(cache_path))
    root = os.path.join(shared_dir, "data", "speech-commands")
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
    near_silent = set()
    with open(os.path.join(root, "near_silent.csv")) as f:
        for row in csv.DictReader(f):
            near_silent.add((row["label"], row["speaker"], row["take"]))
    data["train_near_silent"] = np.array(train_keys_near_silent(root, near_silent), dtype=bool)
    data.update(build_other_speech(shared_dir))
    data["noise_train"] = np.concatenate(noise_train)
    data["noise_train_bounds"] = np.cumsum([0] + [len(n) for n in noise_train])
    data["noise_val"] = np.concatenate(noise_val)
    data["noise_val_bounds"] = np.cumsum([0] + [len(n) for n in noise_val])
    os.makedirs(os.path.dirname(cache_path), exist_ok=True)
    np.savez(cache_path, **data)
    return data


def train_keys_near_silent(root, near_silent):
    """Per training command clip (manifest order): whether near_silent.csv lists it."""
    flags = []
    with open(os.path.join(root, "manifest.csv")) as f:
        for row in csv.DictReader(f):
            if row["split"] == "training" and row["label"] in COMMANDS:
                flags.append((row["label"], row["speaker"], row["take"]) in near_silent)
    return flags


# Other speech: speakers held out for validation by a hash rule; the wake-word
# clips carry no speaker ids, so whole words are held out instead (the model
# never hears them in training: an open-set check).
HELD_OUT_WAKE_WORDS = ("jarvis", "view")


def held_out_speaker(corpus, speaker):
    """20% of the speakers of each corpus with speaker ids, by SHA-1 of corpus/speaker."""
    return int(hashlib.sha1(f"{corpus}/{speaker}".encode()).hexdigest(), 16) % 5 == 0


def wake_word(path):
    return os.path.basename(path).split("_")[0].split("-")[0]


def other_speech_split(row):
    if row["corpus"] == "picovoice_wwb":
        return "val" if wake_word(row["path"]) in HELD_OUT_WAKE_WORDS else "train"
    return "val" if held_out_speaker(row["corpus"], row["speaker"]) else "train"


def loudest_second(audio):
    """The window the exported graph picks (frontend.loudest_window): the
    loudest one second, in 10 ms steps; zero-padded when shorter."""
    x = np.pad(audio, (0, CLIP_SAMPLES))
    frames = (x[: len(x) // 160 * 160].reshape(-1, 160) ** 2).mean(axis=1)
    n = CLIP_SAMPLES // 160
    if len(frames) <= n:
        return fit_one_second(audio)
    window = np.convolve(frames, np.ones(n) / n, mode="valid")
    start = int(np.argmax(window[: max(1, len(frames) - n + 1)])) * 160
    return x[start:start + CLIP_SAMPLES].astype(np.float32)


def speech_windows(audio, max_windows=8):
    """Validation crops of a sentence: consecutive one-second windows with
    speech in them (RMS above -40 dBFS), at most `max_windows` per clip."""
    out = []
    for s in range(0, len(audio) - CLIP_SAMPLES + 1, CLIP_SAMPLES):
        w = audio[s:s + CLIP_SAMPLES]
        if np.sqrt(np.mean(w ** 2)) > 0.01:
            out.append(w)
        if len(out) == max_windows:
            break
    return out


def build_other_speech(shared_dir):
    root = os.path.join(shared_dir, "data", "other-speech")
    sentences, words_train, val_sentences, val_words = [], [], [], []
    with open(os.path.join(root, "manifest.csv")) as f:
        for row in csv.DictReader(f):
            audio = decode(os.path.join(root, row["path"]))
            split = other_speech_split(row)
            short = len(audio) <= 3.5 * SAMPLE_RATE  # a word or two (wake words, digits)
            if split == "train":
                (words_train if short else sentences).append(loudest_second(audio) if short else audio)
            elif short:
                val_words.append(loudest_second(audio))
            else:
                val_sentences.extend(speech_windows(audio))
    return {
        "other_sent": np.concatenate(sentences),
        "other_sent_bounds": np.cumsum([0] + [len(a) for a in sentences]),
        "other_words_train": np.stack(words_train),
        "other_val_words": np.stack(val_words),
        "other_val_sentences": np.stack(val_sentences),
    }


def noise_crop(noise, bounds, rng, length=CLIP_SAMPLES):
    """A crop of one noise recording (never spanning two files)."""
    i = rng.randrange(len(bounds) - 1)
    start = rng.randint(int(bounds[i]), int(bounds[i + 1]) - length)
    return noise[start:start + length]
