#!/usr/bin/python3
"""Print the model card's accuracy and confusion tables from metrics.json."""
import json
import os
import sys

from model import LABELS

path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "models",
                                                          "speech-commands-dscnn", "metrics.json")
m = json.load(open(path))
v = m["validation"]
print(f"| set | items | accuracy |\n|---|---|---|")
conf = v["confusion"]
groups = {"command": "eight command words (speaker-disjoint validation split)",
          "silence": "`_silence_`: held-out noise crops",
          "unknown_words": "`_unknown_`: Speech Commands other words, held-out speakers",
          "other_wake_words": "`_unknown_`: wake words never trained on (jarvis, view glass)",
          "other_sentences": "`_unknown_`: one-second windows of sentences, held-out LibriSpeech speakers"}
counts = v["items_by_group"]
for g, name in groups.items():
    n = counts.get(g, "")
    print(f"| {name} | {n} | {v['accuracy_by_group'][g] * 100:.1f}% |")
print(f"| **all 10 classes** | {v['items']} | **{v['accuracy'] * 100:.2f}%** |")
print()
print("| true \\ predicted | " + " | ".join(LABELS) + " |")
print("|---" * (len(LABELS) + 1) + "|")
for i, row in enumerate(conf):
    print(f"| {LABELS[i]} | " + " | ".join(f"**{c}**" if i == j else (str(c) if c else ".") for j, c in enumerate(row)) + " |")
ln = m["long_noise"]
noise = ", ".join(f"{level}: {x['false_triggers']} of {x['windows']}" for level, x in ln.items())
print(f"\nother speech -> command: {v['other_speech_false_trigger'] * 100:.1f}%; temperature {m['temperature']:.3f}; "
      f"one-second windows of held-out noise (hop 0.5 s) taken for a command, per level (RMS): {noise}")
