"""Synthetic isolated words for the command model: every word, commands
included, in the same voices (a class synthesised alone would teach the model
the voice instead of the word, as v2 showed).

Voices are split by speaker before anything is made:
  - training voices: espeak-ng in six English accents x the training variants,
    flite rms / slt / kal16, festival kal_diphone and cmu_us_slt_arctic_hts;
  - held-out voices (evaluation only, never trained on): espeak-ng in two
    other accents (Caribbean, West Midlands) x other variants, flite awb
    (Scottish male), festival ked_diphone.
Each clip gets its own speaking rate and pitch; training augments further
(speed, noise, room, narrowband) in train.py.

    /usr/bin/python3 scripts/kws/synth.py [--out DIR]   # training npz + held-out WAVs

Needs Debian's espeak-ng, flite, festival, festvox-kallpc16k, festvox-kdlpc16k,
festvox-us-slt-hts and sox. Deterministic (seeded).
"""
import argparse
import csv
import hashlib
import os
import random
import subprocess
import tempfile
from multiprocessing import Pool

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

SAMPLE_RATE = 16000
CACHE_DIR = os.path.expanduser("~/.cache/n8n-nodes-audio-classification")
COMMANDS = ["yes", "no", "up", "down", "left", "right", "stop", "go"]

# Other words. NEAR: the ones that share sounds with a command (the hard
# negatives; weighted up in training, each reported on its own in the
# evaluation). Homophones of a command (know, write, rite) are left out: no
# model can tell them apart from one word.
NEAR = {
    "up": ["off", "of", "cup", "pup", "hop", "sup", "us", "app", "uh"],
    "no": ["on", "now", "snow", "note", "nose", "nine", "gnaw"],
    "go": ["wow", "low", "toe", "goal", "ghost", "glow", "show", "grow", "dough"],
    "down": ["town", "dawn", "done", "gown", "brown", "round", "loud", "doubt"],
    "left": ["lift", "loft", "laughed", "theft", "let", "leaf", "learn"],
    "right": ["light", "ride", "bright", "white", "night", "bite", "rice", "fight"],
    "stop": ["shop", "top", "stock", "step", "spot", "drop", "stab"],
    "yes": ["yet", "yeah", "guess", "mess", "less", "chess", "yak"],
}
OTHER = ["bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "zero", "one", "two",
         "three", "four", "five", "six", "seven", "eight", "follow", "forward", "backward", "visual",
         "lights", "open", "close", "play", "pause", "next", "hello", "okay", "cancel", "help", "music",
         "water", "coffee", "kitchen", "window", "table", "maybe", "thanks"]
NEAR_WORDS = sorted({w for ws in NEAR.values() for w in ws})
OTHER_WORDS = NEAR_WORDS + [w for w in OTHER if w not in NEAR_WORDS]

ACCENTS_TRAIN = ["en-gb", "en-us", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-us-nyc"]
ACCENTS_HELD_OUT = ["en-029", "en-gb-x-gbcwmd"]
VARIANTS_HELD_OUT = ["f3", "m4", "klatt2", "Andy", "belinda", "benjamin", "grandma", "linda", "Mike", "steph2"]


def espeak_variants():
    root = "/usr/lib/x86_64-linux-gnu/espeak-ng-data/voices/!v"
    names = sorted(os.listdir(root)) if os.path.isdir(root) else []
    # Novelty voices that do not sound like a person are left out.
    odd = {"Demonic", "UniRobot", "anikaRobot", "whisperf", "whisper", "Tweaky", "kaukovalta", "zac"}
    return [n for n in names if n not in odd]


def variant_pool(held_out):
    """The espeak-ng variants of one side (held-out or training)."""
    held = set(VARIANTS_HELD_OUT)
    return [v for v in espeak_variants() if (v in held) == held_out]


def voices(held_out):
    """(engine, name) pairs: the non-espeak voices of a side."""
    if held_out:
        return [("flite", "awb"), ("festival", "ked_diphone")]
    return [("flite", "rms"), ("flite", "slt"), ("flite", "kal16"), ("festival", "kal_diphone"),
            ("festival", "cmu_us_slt_arctic_hts")]


def read_mono16k(path):
    audio, sr = sf.read(path, dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    if sr != SAMPLE_RATE:
        g = np.gcd(sr, SAMPLE_RATE)
        audio = resample_poly(audio, SAMPLE_RATE // g, sr // g).astype(np.float32)
    return audio


def trim(audio, max_seconds=1.0):
    """The word itself: from the first to the last 10 ms frame above -40 dB of
    the peak, then at most one second (centred on the loudest part)."""
    if len(audio) == 0 or np.max(np.abs(audio)) == 0:
        return None
    frames = len(audio) // 160
    e = np.sqrt((audio[: frames * 160].reshape(frames, 160) ** 2).mean(axis=1) + 1e-12)
    on = np.nonzero(e > e.max() * 0.01)[0]
    if len(on) == 0:
        return None
    word = audio[on[0] * 160:(on[-1] + 1) * 160]
    limit = int(max_seconds * SAMPLE_RATE)
    if len(word) > limit:
        c = int(np.argmax(np.convolve(word ** 2, np.ones(1600), "same")))
        start = min(max(0, c - limit // 2), len(word) - limit)
        word = word[start:start + limit]
    return word / max(1e-3, np.max(np.abs(word))) * 0.5  # level varies later (train.py, eval)


def speak(job):
    """One word in one voice: (key, samples or None)."""
    key, engine, voice, word, rate, pitch = job
    with tempfile.TemporaryDirectory(prefix="kws-synth-") as tmp:
        out = os.path.join(tmp, "w.wav")
        if engine == "espeak":
            cmd = ["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), "-w", out, word]
            subprocess.run(cmd, check=True, capture_output=True, timeout=30)
        elif engine == "flite":
            # flite has no rate flag; the speed varies after (sox tempo keeps the pitch).
            raw = os.path.join(tmp, "r.wav")
            subprocess.run(["flite", "-voice", voice, "-t", word, "-o", raw], check=True, capture_output=True, timeout=30)
            subprocess.run(["sox", raw, out, "tempo", f"{rate / 160:.3f}", "pitch", str((pitch - 50) * 4)],
                           check=True, capture_output=True, timeout=30)
        else:
            raw = os.path.join(tmp, "r.wav")
            text = os.path.join(tmp, "t.txt")
            with open(text, "w") as f:
                f.write(word + "\n")
            stretch = 160 / rate
            subprocess.run(["text2wave", "-eval", f"(voice_{voice})", "-eval", f"(Parameter.set 'Duration_Stretch {stretch:.3f})",
                            "-o", raw, text], check=True, capture_output=True, timeout=60)
            subprocess.run(["sox", raw, out, "pitch", str((pitch - 50) * 4)], check=True, capture_output=True, timeout=30)
        return key, trim(read_mono16k(out))


def jobs_for(words, held_out, per_word_espeak, per_word_other, seed):
    rng = random.Random(seed)
    pool_variants = variant_pool(held_out)
    accents = ACCENTS_HELD_OUT if held_out else ACCENTS_TRAIN
    jobs = []
    for word in words:
        for k in range(per_word_espeak):
            voice = f"{rng.choice(accents)}+{rng.choice(pool_variants)}"
            jobs.append(((word, f"espeak:{voice}", k), "espeak", voice, word, rng.randint(120, 200), rng.randint(25, 75)))
        for engine, voice in voices(held_out):
            for k in range(per_word_other):
                jobs.append(((word, f"{engine}:{voice}", k), engine, voice, word, rng.randint(130, 190), rng.randint(40, 60)))
    return jobs


def festival_batch(jobs):
    """Festival jobs of one voice in one festival process (its start costs ~1.4 s)."""
    out = []
    with tempfile.TemporaryDirectory(prefix="kws-festival-") as tmp:
        lines = [f"(voice_{jobs[0][2]})"]
        for n, (_, _, _, word, rate, _) in enumerate(jobs):
            lines.append(f"(Parameter.set 'Duration_Stretch {160 / rate:.3f})")
            lines.append(f'(utt.save.wave (utt.synth (Utterance Text "{word}")) "{tmp}/{n}.wav" (quote riff))')
        script = os.path.join(tmp, "s.scm")
        with open(script, "w") as f:
            f.write("\n".join(lines) + "\n")
        subprocess.run(["festival", "--batch", script], check=True, capture_output=True, timeout=600)
        for n, (key, _, _, _, _, pitch) in enumerate(jobs):
            shifted = os.path.join(tmp, f"{n}p.wav")
            subprocess.run(["sox", f"{tmp}/{n}.wav", shifted, "pitch", str((pitch - 50) * 4)], check=True, capture_output=True, timeout=30)
            out.append((key, trim(read_mono16k(shifted))))
    return out


def run(jobs, processes=2):
    fest = [j for j in jobs if j[1] == "festival"]
    groups = [[j for j in fest if j[2] == v] for v in sorted({j[2] for j in fest})]
    chunks = [g[i:i + 100] for g in groups for i in range(0, len(g), 100)]
    with Pool(processes) as pool:
        fest_out = pool.map_async(festival_batch, chunks)
        rest = list(pool.imap(speak, [j for j in jobs if j[1] != "festival"], chunksize=8))
        rest += [r for c in fest_out.get() for r in c]
    order = {j[0]: n for n, j in enumerate(jobs)}
    return sorted((r for r in rest if r[1] is not None), key=lambda r: order[r[0]])


def pad_second(word):
    """A word stored from the clip's start, zero-padded to one second."""
    return np.pad(word, (0, SAMPLE_RATE - len(word))).astype(np.float32)


def train_cache(version):
    """Where the training clips of a version are cached."""
    return os.path.join(CACHE_DIR, f"kws-synth-train-{version}.npz")


def build_training(cache_path, seed=11):
    """Training clips (training voices only), cached as one npz."""
    if os.path.exists(cache_path):
        return dict(np.load(cache_path))
    cmd = run(jobs_for(COMMANDS, False, 60, 4, seed))
    other = run(jobs_for(OTHER_WORDS, False, 24, 2, seed + 1))
    data = {
        "synth_cmd_x": np.stack([pad_second(a) for _, a in cmd]),
        "synth_cmd_y": np.array([COMMANDS.index(k[0]) for k, _ in cmd], dtype=np.int64),
        "synth_unk_x": np.stack([pad_second(a) for _, a in other]),
        "synth_unk_near": np.array([k[0] in NEAR_WORDS for k, _ in other], dtype=bool),
    }
    os.makedirs(os.path.dirname(cache_path), exist_ok=True)
    np.savez(cache_path, **data)
    return data


def paired_jobs(settings_espeak, settings_other, seed):
    """v6: each command and the words that share sounds with it, said in the *same* voice,
    rate and pitch (one setting per group), so that nothing but the word itself tells
    "stop" from "stock" in training."""
    rng = random.Random(seed)
    variants = variant_pool(False)
    jobs = []
    for command in COMMANDS:
        group = [command] + NEAR[command]
        settings = [("espeak", f"{rng.choice(ACCENTS_TRAIN)}+{rng.choice(variants)}", rng.randint(120, 200), rng.randint(25, 75))
                    for _ in range(settings_espeak)]
        settings += [(engine, voice, rng.randint(130, 190), rng.randint(35, 65))
                     for engine, voice in voices(False) for _ in range(settings_other)]
        for k, (engine, voice, rate, pitch) in enumerate(settings):
            for word in group:
                jobs.append(((word, f"{engine}:{voice}", f"p{command}{k}"), engine, voice, word, rate, pitch))
    return jobs


def build_training_v6(cache_path, base_cache_path, seed=31):
    """v6's training clips (training voices only): v4's set (every command and other word in
    the training voices, cached at `base_cache_path`) plus the paired groups of paired_jobs().
    Cached as one npz."""
    if os.path.exists(cache_path):
        return dict(np.load(cache_path))
    base = build_training(base_cache_path)
    paired = run(paired_jobs(36, 3, seed))
    cmd = [(k, a) for k, a in paired if k[0] in COMMANDS]
    other = [(k, a) for k, a in paired if k[0] not in COMMANDS]
    data = {
        "synth_cmd_x": np.concatenate([base["synth_cmd_x"], np.stack([pad_second(a) for _, a in cmd])]),
        "synth_cmd_y": np.concatenate([base["synth_cmd_y"], np.array([COMMANDS.index(k[0]) for k, _ in cmd], dtype=np.int64)]),
        "synth_unk_x": np.concatenate([base["synth_unk_x"], np.stack([pad_second(a) for _, a in other])]),
        "synth_unk_near": np.concatenate([base["synth_unk_near"], np.ones(len(other), dtype=bool)]),
    }
    np.savez(cache_path, **data)
    return data


def build_held_out(out_dir, seed=23):
    """Held-out clips (held-out voices only) as 16 kHz WAV files with a manifest:
    what `npm run eval:kws` reads."""
    manifest = os.path.join(out_dir, "manifest.csv")
    if os.path.exists(manifest):
        return manifest
    os.makedirs(out_dir, exist_ok=True)
    rows = []
    for (word, voice, k), audio in run(jobs_for(COMMANDS + OTHER_WORDS, True, 16, 2, seed)):
        name = hashlib.sha1(f"{word}/{voice}/{k}".encode()).hexdigest()[:12]
        rel = os.path.join(word, f"{name}.wav")
        os.makedirs(os.path.join(out_dir, word), exist_ok=True)
        clip = np.zeros(SAMPLE_RATE, dtype=np.float32)
        at = (SAMPLE_RATE - len(audio)) // 2  # centred in one second, as Speech Commands clips are
        clip[at:at + len(audio)] = audio
        sf.write(os.path.join(out_dir, rel), clip, SAMPLE_RATE, subtype="PCM_16")
        near = next((c for c, ws in NEAR.items() if word in ws), "")
        rows.append({"path": rel, "word": word, "command": int(word in COMMANDS), "near": near, "voice": voice})
    with open(manifest + ".tmp", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["path", "word", "command", "near", "voice"])
        w.writeheader()
        w.writerows(rows)
    os.replace(manifest + ".tmp", manifest)
    return manifest


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-cache", default=train_cache("v4"))
    ap.add_argument("--held-out", default=os.path.join(CACHE_DIR, "kws-synth-heldout-v4"))
    ap.add_argument("--only", choices=["train", "train-v6", "held-out"])
    args = ap.parse_args()
    if args.only != "train":
        print("held-out:", build_held_out(args.held_out), flush=True)
    if args.only == "train-v6":
        d = build_training_v6(train_cache("v6"), args.train_cache)
        print("training (v6):", {k: v.shape for k, v in d.items()}, flush=True)
    elif args.only != "held-out":
        d = build_training(args.train_cache)
        print("training:", {k: v.shape for k, v in d.items()}, flush=True)


if __name__ == "__main__":
    main()
