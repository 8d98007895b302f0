#!/usr/bin/python3
"""Copy a few real validation clips from ../shared into test/fixtures
(16 kHz mono 16-bit WAV, so the demo and tests need no ffmpeg).

Selection rule, fixed in advance (before the v3 model's results were seen):
- test/fixtures/speech-commands: for every command word, the first two clips
  of the `validation` split in manifest order; the first two validation clips
  of real `_unknown_` words; one-second crops of held-out background noise (the
  last 20% of each noise file, never used in training) for `_silence_`: two at
  gain 0.5 (since v2) and one at full level from each of the six files (v3).
- test/fixtures/other-speech: held-out other speech (never trained on): the
  first three clips in manifest order of each held-out wake word (their
  loudest second, as the model sees them) and the first speech window of the
  first clip of each of the first six held-out LibriSpeech speakers.
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
OTHER = os.path.join(REPO, "..", "shared", "data", "other-speech")
OUT_OTHER = os.path.join(REPO, "test", "fixtures", "other-speech")


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
    for noise in sorted(os.listdir(os.path.join(SHARED, "background_noise"))):
        audio = D.decode(os.path.join(SHARED, "background_noise", noise))
        tail = audio[int(len(audio) * (1 - D.NOISE_VAL_FRACTION)):]
        crop = np.clip(tail[48000:64000], -1, 1)
        sf.write(os.path.join(OUT, f"_silence___{noise.split('.')[0]}_full.wav"), crop.astype(np.float32), 16000,
                 subtype="PCM_16")
    print(f"wrote {len(os.listdir(OUT))} files to {OUT}")
    copy_other_speech()


def copy_other_speech():
    os.makedirs(OUT_OTHER, exist_ok=True)
    for f in os.listdir(OUT_OTHER):
        if f.endswith(".wav"):
            os.remove(os.path.join(OUT_OTHER, f))
    taken = {}
    with open(os.path.join(OTHER, "manifest.csv")) as f:
        for row in csv.DictReader(f):
            if D.other_speech_split(row) != "val":
                continue
            if row["corpus"] == "picovoice_wwb":
                key, limit = D.wake_word(row["path"]), 3
            elif row["corpus"] == "librispeech":
                if taken.get("librispeech", 0) >= 6 or row["speaker"] in taken:
                    continue
                taken[row["speaker"]] = 0  # one clip per speaker
                key, limit = "librispeech", 6
            else:
                continue
            if taken.get(key, 0) >= limit:
                continue
            audio = D.decode(os.path.join(OTHER, row["path"]))
            clip = D.loudest_second(audio) if key != "librispeech" else D.speech_windows(audio, 1)[0]
            taken[key] = taken.get(key, 0) + 1
            stem = os.path.splitext(os.path.basename(row["path"]))[0]
            sf.write(os.path.join(OUT_OTHER, f"{row['corpus']}__{stem}.wav"), np.clip(clip, -1, 1), 16000,
                     subtype="PCM_16")
    print(f"wrote {sum(taken.values())} files to {OUT_OTHER}")


if __name__ == "__main__":
    main()
