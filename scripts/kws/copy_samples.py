#!/usr/bin/python3
"""Copy a few real validation clips from ../shared into test/fixtures/speech-commands
(16 kHz mono 16-bit WAV, so the demo and tests need no ffmpeg).

Selection rule, fixed in advance: for every command word, the first two clips
of the `validation` split in manifest order; the first two validation clips of
real `_unknown_` words; and two one-second crops of held-out background noise
(the last 20% of a noise file, never used in training) for `_silence_`.
"""
import csv
import os
import sys

import numpy as np
import soundfile as sf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data as D  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SHARED = os.path.join(REPO, "..", "shared", "data", "speech-commands")
OUT = os.path.join(REPO, "test", "fixtures", "speech-commands")


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".wav"):
            os.remove(os.path.join(OUT, f))
    taken = {}
    with open(os.path.join(SHARED, "manifest.csv")) as f:
        for row in csv.DictReader(f):
            if row["split"] != "validation":
                continue
            label = row["label"] if row["label"] in D.COMMANDS else "_unknown_"
            if taken.get(label, 0) >= 2:
                continue
            taken[label] = taken.get(label, 0) + 1
            audio = D.decode(os.path.join(SHARED, row["path"]))
            name = f"{label}__{row['label']}_{row['speaker']}_{row['take']}.wav"
            sf.write(os.path.join(OUT, name), audio, 16000, subtype="PCM_16")
    for noise in ["running_tap.flac", "exercise_bike.flac"]:
        audio = D.decode(os.path.join(SHARED, "background_noise", noise))
        tail = audio[int(len(audio) * (1 - D.NOISE_VAL_FRACTION)):]
        crop = tail[16000:32000] * 0.5
        sf.write(os.path.join(OUT, f"_silence___{noise.split('.')[0]}.wav"), crop.astype(np.float32), 16000,
                 subtype="PCM_16")
    print(f"wrote {len(os.listdir(OUT))} files to {OUT}")


if __name__ == "__main__":
    main()
