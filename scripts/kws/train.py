#!/usr/bin/python3
"""Train, evaluate and export the bundled keyword-spotting model.

    /usr/bin/python3 scripts/kws/train.py            # == npm run train:kws

Reads ../shared/data/speech-commands, writes models/speech-commands-dscnn/
(onnx/model.onnx, config.json, preprocessor_config.json, metrics.json).
Deterministic for a given machine: fixed seeds, single-process data pipeline.
"""
import argparse
import csv
import ctypes
import json
import math
import os
import random
import subprocess
import time

import numpy as np
import torch
import torch.nn.functional as F

import codec as C
import data as D
import synth as S
from frontend import CLIP_SAMPLES, SAMPLE_RATE
from model import LABELS, ExportModel, TrainModel

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SILENCE, UNKNOWN = 0, 1
# The recipe: "v13.1" (the shipped model, reproduced by default: v13 exported with the level step,
# session 25), "v13" (v7 with 9 blocks in channels_last for 28 epochs; passed its two-seed rule in
# session 22, shipped in session 23), "v7" (shipped
# before it: v6 trained longer, session 14), "v3.1" (shipped before v7), "v4" (synthetic words in
# every class, loud/clipped noise, room and clipping augmentation; session 8, not adopted: see the
# model card), "v5" (v4 with v3.1's real
# other speech kept whole and the near-command words weighted up; session 9) or "v6" (paired
# synthesis; session 13). Set by main() from --recipe.
RECIPE = "v3.1"
# The DS-CNN's depth and memory layout (--blocks, --channels-last; session 18). Defaults: v7's
# (5 blocks, PyTorch's default layout). channels_last gives the same model and a faster optimiser
# step on this machine's PyTorch (scripts/kws/bench_width.py; in a whole epoch, with the data
# pipeline, 9 blocks in channels_last took about what 5 blocks take in the default layout), but
# not bit-identical floats, so it is opt-in and `--recipe v7` alone still reproduces v7's run;
# recipe v13 (the default) turns both on.
BLOCKS = 5
CHANNELS_LAST = False
# --arch: "dscnn" (the shipped classifier) or "tc" (model.TCResNet: 1-D convolutions over time with
# the mel bands as channels, --tc-mult wide, --blocks blocks per stage; session 21). Set by main().
ARCH = "dscnn"
TC_MULT = 1.0
V13_BLOCKS, V13_EPOCHS = 9, 28  # recipe v13: v7 with these, in channels_last
# Recipe v13.1 (shipped, session 25; the rule is in the model card): v13's training and calibration,
# exported with the level step in front of the classifier (frontend.set_level: the loudest second
# scaled to the training level). The shipped file is v13's through scripts/kws/level.py. Set by main().
LEVEL = False
# Recipe v16 (experiment, session 25; the rule is in the model card): v13.1 with the level step in
# training too (every clip the net trains, mines and calibrates on is set to the training level
# first), so the net never sees a level the graph will not give it. Set by main().
TRAIN_LEVEL = False
# --micro-batch (session 24): each batch of 64 goes through the net in chunks of this many clips,
# their gradients summed before one optimiser step (0: the whole batch at once, as up to v14).
# BatchNorm then normalises over each chunk ("ghost" batch norm), so the run is not the same as
# the whole batch's; what it buys is time: a chunk's activations are a quarter of the batch's
# (96 channels x 21 x 50 floats x 16 clips = 6.5 MB against 26 MB), and much of the step is memory
# bound here (batch norm, ReLU, the depthwise convolutions). Measured with the data pipeline
# (scripts/kws/bench_pipeline.py --channels-last --micro-batch 16 --compare 96x0 96x16 96x0,
# session 24): 0.87-0.92x a whole batch's time; 128 channels in chunks of 16 cost 1.26x v13's.
MICRO_BATCH = 0
# Recipe v15 (experiment, session 24; the rule is in the model card): v13 with a second, training-only
# head that spells each word it hears as phonemes (CTC over the 50 frames the blocks leave, one
# frame every 20 ms), for every clip whose word is known: the commands, the synthetic words, Speech
# Commands' other words, and silence (no phonemes). "gnaw" and "no" differ in one vowel (n-O: and
# n-oU); the ten-way label alone never asks the net to hear that vowel, the phoneme head does. The
# head is not in the exported graph: the file, its size and its speed are v13's. PHONE_AUX is the
# CTC loss's weight beside the label's cross-entropy (0: no head). Set by parse_args().
PHONE_AUX = 0.0
V15_PHONE_AUX = 0.3
PHONE_VOICE = "en-us"  # espeak-ng's pronunciation of each word, the head's targets
PHONES = []  # the phoneme inventory (index + 1 in the head; 0 is CTC's blank)
PHONE_TARGETS = {}  # source -> per-item phoneme ids (None: word unknown, no CTC loss)
# Recipe v14 (experiment, session 23; the rule is in the model card): v13 with one training-only
# class per command for the synthetic words that share its sounds ("near-stop": stock, shop, top,
# ...), folded into `_unknown_` in the graph (model.fold_near): the ten labels users see are
# unchanged. Instead of one `_unknown_` that must hold sentence crops, wake words and "stock" alike,
# the net gets a class right beside each command to put its near words in. Set by parse_args().
NEAR_CLASSES = 0
HARD_LABELS = []  # v14: the label of each mined hard negative (a near class for a near word)
DEFAULT_BLOCKS = {"dscnn": 5, "tc": 2}  # --blocks when not given: the DS-CNN's depth, or TC blocks per stage
CMD_OFFSET = 2  # label index of COMMANDS[0]
DATA_CACHE = os.path.expanduser("~/.cache/n8n-nodes-audio-classification/kws-data-v3.npz")
CHANNELS = 96  # --channels: DS-CNN width
SNR_MIN = 3.0  # --snr-min
NARROWBAND = 0.15  # --narrowband
# --codec: share of speech items drawn as their real codec round trip (codec.py; recipe v11).
CODEC = 0.0
CODEC_DEFAULTS = {"v11": 0.2}


def narrowband(x):
    """Telephone bandwidth: nothing above 3.8 kHz, as an 8 kHz AMR voice note
    resampled to 16 kHz sounds."""
    spec = torch.fft.rfft(x)
    spec[int(3800 / SAMPLE_RATE * len(x)):] = 0
    return torch.fft.irfft(spec, n=len(x))


def augment_speech(wav, rng, noise, bounds, snr_min=0.0, narrowband_p=0.0, synthetic=False, coded=False):
    """Speed/volume perturbation, time shift, background noise at random SNR,
    and (with probability `narrowband_p`) telephone bandwidth. v6 resamples every
    synthetic clip over a wider range (0.8-1.25: pitch, formants and tempo together, a
    shorter or longer vocal tract), to make more voices of the few synthesisers. A `coded`
    clip (a codec round trip, codec.py) has its noise already, mixed in before the encoder."""
    x = torch.from_numpy(wav)
    wide = synthetic and RECIPE in PAIRED
    if wide or rng.random() < 0.6:
        factor = rng.uniform(0.8, 1.25) if wide else rng.uniform(0.85, 1.15)
        n = int(round(CLIP_SAMPLES / factor))
        x = F.interpolate(x[None, None], size=n, mode="linear", align_corners=False)[0, 0]
        x = F.pad(x, (0, max(0, CLIP_SAMPLES - n)))[:CLIP_SAMPLES]
    shift = rng.randint(-1600, 1600)
    x = torch.roll(x, shift)
    if shift > 0:
        x[:shift] = 0
    elif shift < 0:
        x[shift:] = 0
    x = x * 10 ** (rng.uniform(-12, 6) / 20)
    if not coded and rng.random() < 0.8:
        n = torch.from_numpy(D.noise_crop(noise, bounds, rng).copy())
        snr = rng.uniform(snr_min, snr_min + 25)
        p_sig = x.pow(2).mean().clamp_min(1e-8)
        p_noise = n.pow(2).mean().clamp_min(1e-8)
        x = x + n * torch.sqrt(p_sig / (p_noise * 10 ** (snr / 10)))
    if narrowband_p and rng.random() < narrowband_p:
        x = narrowband(x)
    if RECIPE != "v3.1" and rng.random() < 0.2:
        x = room(x, rng)
    if RECIPE != "v3.1" and rng.random() < 0.1:
        # A phone's gain or a hot microphone: the mix driven into clipping.
        x = (x / x.abs().max().clamp_min(1e-6) * rng.uniform(1.2, 4.0)).clamp(-1, 1)
    return x


def room(x, rng):
    """A small room: convolution with exponentially decaying noise (RT60
    0.15-0.7 s), the direct sound kept."""
    rt60 = rng.uniform(0.15, 0.7)
    n = int(rt60 * SAMPLE_RATE)
    g = torch.Generator().manual_seed(rng.randrange(1 << 30))
    t = torch.arange(n) / SAMPLE_RATE
    ir = torch.randn(n, generator=g) * torch.exp(-6.9 * t / rt60) * rng.uniform(0.05, 0.3)
    ir[0] = 1.0
    size = len(x) + n
    y = torch.fft.irfft(torch.fft.rfft(x, size) * torch.fft.rfft(ir, size), size)[: len(x)]
    return y * (x.abs().max() / y.abs().max().clamp_min(1e-6))


def make_silence(rng, noise, bounds):
    if RECIPE == "v3.1":
        if rng.random() < 0.1:
            return torch.randn(CLIP_SAMPLES) * 10 ** rng.uniform(-5, -3)  # near digital silence
        n = torch.from_numpy(D.noise_crop(noise, bounds, rng).copy())
        return n * rng.uniform(0.0, 1.0) ** 2
    return make_loud_silence(rng, noise, bounds)


def make_loud_silence(rng, noise, bounds):
    """v4's `_silence_`: no speech, at any level a room or a phone's gain gives: near
    digital silence, the recordings as they are or quieter, and loud (RMS up to
    0.5), mixed two at a time, and clipped."""
    if rng.random() < 0.08:
        return torch.randn(CLIP_SAMPLES) * 10 ** rng.uniform(-5, -3)  # near digital silence
    n = torch.from_numpy(D.noise_crop(noise, bounds, rng).copy())
    if rng.random() < 0.25:
        other = torch.from_numpy(D.noise_crop(noise, bounds, rng).copy())
        n = n + other * rng.uniform(0.3, 3.0)
    if rng.random() < 0.3:
        return n * rng.uniform(0.0, 1.0) ** 2  # as recorded (RMS 0.002-0.006) or quieter
    level = 10 ** rng.uniform(-2.3, math.log10(0.5))  # RMS 0.005-0.5
    x = n * (level / n.pow(2).mean().sqrt().clamp_min(1e-6))
    if rng.random() < 0.3:
        x = x * rng.uniform(1.5, 6.0)  # amplified past full scale
    return x.clamp(-1, 1)


def spec_augment(feats, rng):
    b, _, n_mels, frames = feats.shape
    fill = feats.mean()
    for i in range(b):
        for _ in range(2):
            w = rng.randint(0, 12)
            t0 = rng.randint(0, frames - w)
            feats[i, :, :, t0:t0 + w] = fill
            w = rng.randint(0, 5)
            f0 = rng.randint(0, n_mels - w)
            feats[i, :, f0:f0 + w, :] = fill
    return feats


# `_unknown_` material per epoch, as shares of the draw: crops of read
# sentences (whole words, partial words, several words), crowd-sourced wake
# words, the real other-word clips of Speech Commands, reversed commands.
# v4 adds isolated other words synthesised in the training voices ("syn"; the
# ones sharing sounds with a command drawn three times as often), the same
# voices saying the commands being part of every command class.
UNKNOWN_SHARES_V31 = (("sent", 0.45), ("wake", 0.30), ("unk", 0.15), ("rev", 0.10))
MINED_SHARES_V31 = (("sent", 0.33), ("wake", 0.22), ("unk", 0.12), ("rev", 0.08), ("hard", 0.25))
UNKNOWN_SHARES = (("sent", 0.30), ("wake", 0.18), ("unk", 0.14), ("rev", 0.08), ("syn", 0.30))
# Once hard-negative mining starts, a quarter of the `_unknown_` draw comes from
# the mined pool: the training crops, wake words and other words the current
# model most wants to call a command.
MINED_SHARES = (("sent", 0.22), ("wake", 0.13), ("unk", 0.11), ("rev", 0.06), ("syn", 0.23), ("hard", 0.25))
# v5: v4 diluted the real other speech (other speech at the top label rose from v3.1's 4.0%
# to 6.3%). v5 keeps v3.1's amount of every real source and adds the synthetic words on top:
# at --unknown-factor 4.2 these shares give the same sent/wake/unk/rev/hard items per epoch as
# v3.1 at 3.0, plus 1.2 class-units of synthetic other words.
UNKNOWN_SHARES_V5 = (("sent", 1.35 / 4.2), ("wake", 0.90 / 4.2), ("unk", 0.45 / 4.2), ("rev", 0.30 / 4.2),
                     ("syn", 1.2 / 4.2))
MINED_SHARES_V5 = (("sent", 0.99 / 4.2), ("wake", 0.66 / 4.2), ("unk", 0.36 / 4.2), ("rev", 0.24 / 4.2),
                   ("syn", 1.2 / 4.2), ("hard", 0.75 / 4.2))
# `_unknown_` shares per recipe, before and after mining starts (v6 keeps v5's).
SHARES = {"v3.1": UNKNOWN_SHARES_V31, "v4": UNKNOWN_SHARES, "v5": UNKNOWN_SHARES_V5, "v6": UNKNOWN_SHARES_V5}
MINED = {"v3.1": MINED_SHARES_V31, "v4": MINED_SHARES, "v5": MINED_SHARES_V5, "v6": MINED_SHARES_V5}
# Synthetic command clips per epoch, as a share of the real ones (v6: 0.3, since v5 recognised
# the commands in held-out synthetic voices only 49% of the time).
SYNTH_COMMAND_SHARES = {"v3.1": 0.15, "v4": 0.15, "v5": 0.15, "v6": 0.3}
# How much more often a synthetic word sharing sounds with a command is drawn (v4: 3; v5: 6,
# since v4's worst words were all near-command words: "stock" as stop, "gown", "guess").
# v6: 2, as its paired groups (synth.paired_jobs) already make most synthetic other words near ones.
NEAR_WEIGHTS = {"v3.1": 3.0, "v4": 3.0, "v5": 6.0, "v6": 2.0}
# v7 is v6 trained longer (32 epochs) and calibrated two-sided: the same data tables.
for _table in (SHARES, MINED, SYNTH_COMMAND_SHARES, NEAR_WEIGHTS):
    _table["v7"] = _table["v6"]
# v7ft (experiment, session 15): v7's weights trained on for a few more epochs (--finetune-from)
# with twice the synthetic other words on top of v6's real ones (same absolute amount of real
# other speech at --unknown-factor 5.4), the near-command ones drawn 6x, and half as many
# synthetic commands again: does weight on the paired near words ("stock" beside "stop" in the
# same voice) teach the model the difference without costing real commands?
# `_unknown_` items per epoch of the fine-tuning recipes, in units of an average command class.
UNKNOWN_FACTORS = {"v7ft": 5.4, "v7bal": 6.6}
FINETUNE_LR = 3e-4  # a tenth of training's


def _finetune_shares(syn, factor):
    """v6's mined real shares (same absolute amount of real other speech) plus `syn` class-units of synthetic words."""
    return (("sent", 0.99 / factor), ("wake", 0.66 / factor), ("unk", 0.36 / factor), ("rev", 0.24 / factor),
            ("syn", syn / factor), ("hard", 0.75 / factor))


SHARES["v7ft"] = MINED["v7ft"] = _finetune_shares(2.4, UNKNOWN_FACTORS["v7ft"])
SYNTH_COMMAND_SHARES["v7ft"] = 0.45
NEAR_WEIGHTS["v7ft"] = 6.0
# v7bal (experiment, session 15): as v7ft, but each synthetic other word is drawn in proportion
# to how often v7 itself takes that word for a command in the training voices (1 + 40 x that
# rate): the budget goes to "stock", "guess", "app", not spread over 100 words; and more of it.
SHARES["v7bal"] = MINED["v7bal"] = _finetune_shares(3.6, UNKNOWN_FACTORS["v7bal"])
SYNTH_COMMAND_SHARES["v7bal"] = 0.45
NEAR_WEIGHTS["v7bal"] = 1.0
# v8 (selection rule in the model card, committed before its training): in one run, v7's recipe
# for 24 epochs, then v7bal's 6 epochs from those weights (confusion weights measured on them).
V8_FINETUNE_EPOCHS = 6
# v9 (selection rule in the model card, committed before its training, session 16): v7's
# recipe and epoch (same items, same 32 epochs, so the same training time), but once mining
# starts the synthetic other words are drawn by v7bal's confusion weights, measured on the
# model being trained every CONFUSION_EVERY epochs: the same 1.2 class-units of synthetic
# words as v7 (v7bal's 3.6 cost the held-out voices' commands), moved to the words it errs on.
# v10 (session 16, after v9): v9, but the mining candidates' synthetic words drawn by v7's
# weights, not by the confusions. The hypothesis: in v9 the confused synthetic words, which the
# model scores highest, took the mined quarter (the 1,000 highest-scored of 3,000 candidates)
# from the real wake words and sentence crops, and v9's other speech rose to 4.7%; here they
# get only the epoch's synthetic share.
CONFUSION_DRAWN = ("v9", "v10")  # recipes drawing synthetic words by the training model's confusions
for _table in (SHARES, MINED, SYNTH_COMMAND_SHARES, NEAR_WEIGHTS):
    for _recipe in CONFUSION_DRAWN:
        _table[_recipe] = _table["v7"]
CONFUSION_EVERY = 2
CONFUSION_CLIPS_PER_WORD = 24  # clips per word scored for its rate (all of them when fewer)
# v11 (session 20, selection rule in the model card, committed before its training): v7 with a
# fifth of the speech items drawn as a real codec round trip (AMR-NB at 4.75-12.2 kbit/s, Opus
# voip at 8-16 kbit/s; codec.py), the rest as v7's.
for _table in (SHARES, MINED, SYNTH_COMMAND_SHARES, NEAR_WEIGHTS):
    _table["v11"] = _table["v7"]
# Recipes trained on the paired synthetic set (synth.build_training_v6).
PAIRED = ("v6", "v7", "v7ft", "v7bal", "v8", "v9", "v10", "v11")


def epoch_items(d, rng, unknown_factor=2.0, shares=None, n_hard=0):
    """(source, index, label) for one epoch: every command clip once (minus the
    near-silent ones listed in near_silent.csv: label noise), `_unknown_` at
    `unknown_factor` times an average command class, `_silence_` at one."""
    if shares is None:
        shares = SHARES[RECIPE]
    items = [("cmd", i, int(y) + CMD_OFFSET) for i, y in enumerate(d["train_y"]) if not d["train_near_silent"][i]]
    per_class = len(items) // 8
    n_unknown = int(per_class * unknown_factor)
    if "synth_cmd_x" in d:
        n_syn = int(len(items) * SYNTH_COMMAND_SHARES[RECIPE])
        items += [("scmd", i, int(d["synth_cmd_y"][i]) + CMD_OFFSET)
                  for i in (rng.randrange(len(d["synth_cmd_y"])) for _ in range(n_syn))]
    sizes = {"sent": 1, "wake": len(d["other_words_train"]), "unk": len(d["unk_train"]), "rev": len(d["train_x"]),
             "hard": max(1, n_hard), "syn": len(d.get("synth_unk_x", ()))}
    for src, share in shares:
        if src == "syn":
            if not sizes["syn"]:
                continue
            items += [(src, i, UNKNOWN) for i in synth_draw(d, rng, int(n_unknown * share))]
            continue
        items += [(src, rng.randrange(sizes[src]), UNKNOWN) for _ in range(int(n_unknown * share))]
    items += [("sil", 0, SILENCE)] * per_class
    if NEAR_CLASSES:
        # v14: a near word is labelled with its command's near class (the draws above are v13's).
        items = [(src, i, int(d["synth_unk_label"][i]) if src == "syn"
                  else HARD_LABELS[i] if src == "hard" and HARD_LABELS else label) for src, i, label in items]
    rng.shuffle(items)
    return items


def near_labels(d):
    """v14: the training label of each cached synthetic other word: the near class of the command
    it shares sounds with (synth.NEAR; len(LABELS) + the command's index), else `_unknown_`."""
    group = {w: k for k, c in enumerate(S.COMMANDS) for w in S.NEAR[c]}
    assert len(group) == sum(len(v) for v in S.NEAR.values()), "a word is near two commands"
    return np.array([len(LABELS) + group[w] if w in group else UNKNOWN for w in synth_words(d)], dtype=np.int64)


def placed(word, rng):
    """A synthetic word (stored from the clip's start) at a random place in its second."""
    n = int(np.max(np.nonzero(word)[0], initial=0)) + 1
    return np.roll(word, rng.randint(0, max(0, CLIP_SAMPLES - n)))


def synth_draw(d, rng, n, by_confusion=True):
    """Indices of synthetic other words, the near-command ones NEAR_WEIGHTS[RECIPE] times as likely
    (and, with `by_confusion`, as the confusion weights in d["synth_unk_w"] say, if any)."""
    weights = np.where(d["synth_unk_near"], NEAR_WEIGHTS[RECIPE], 1.0) * (d.get("synth_unk_w", 1.0) if by_confusion else 1.0)
    cum = np.cumsum(weights)
    return [int(np.searchsorted(cum, rng.random() * cum[-1], side="right")) for _ in range(n)]


def synth_word_list():
    """The word of each synthetic other word (training voices) synth.py caches, from its jobs, in order."""
    words = [j[0][0] for j in S.jobs_for(S.OTHER_WORDS, False, 24, 2, 12)]
    return words + [j[0][0] for j in S.paired_jobs(36, 3, 31) if j[0][0] not in S.COMMANDS]


def synth_words(d):
    """synth_word_list(), checked against the cache in `d`."""
    words = synth_word_list()
    assert len(words) == len(d["synth_unk_x"]), "the synthetic cache does not match synth.py's jobs"
    return words


def confusion_weights(state, d, channels):
    """v7bal, v8: confusion_weights_of a model given by its state dict."""
    model = make_model(channels)
    model.load_state_dict(state)
    return confusion_weights_of(model, d)


_SCORED = {}


def _scored_clips(d, per_word):
    """(word names, word index of each clip, clips scored), worked out once per cache and sample size."""
    key = (len(d["synth_unk_x"]), per_word)
    if key not in _SCORED:
        words = synth_words(d)
        names, index = np.unique(words, return_inverse=True)
        scored = np.arange(len(words))
        if per_word is not None:
            perm = np.random.RandomState(0).permutation(len(words))  # a fixed sample across voices, not synth.py's order
            scored = np.concatenate([perm[index[perm] == k][:per_word] for k in range(len(names))])
        _SCORED[key] = (names, index, scored)
    return _SCORED[key]


@torch.no_grad()
def confusion_weights_of(model, d, per_word=None):
    """Per synthetic other word (training voices), 1 + 40 x the share of its clips that `model`
    takes for a command, unaugmented; scored on `per_word` clips of each word (None: all)."""
    names, index, scored = _scored_clips(d, per_word)
    was_training = model.training
    model.eval()
    x = torch.from_numpy(d["synth_unk_x"][scored].astype(np.float32))
    fired = torch.cat([model.net(model.frontend(x[i:i + 256])).argmax(1) >= CMD_OFFSET for i in range(0, len(x), 256)]).numpy()
    model.train(was_training)
    rate = np.bincount(index[scored], weights=fired, minlength=len(names)) / np.bincount(index[scored], minlength=len(names))
    top = np.argsort(-rate)[:12]
    print("fired in the training voices:", {names[k]: round(float(rate[k]), 2) for k in top}, flush=True)
    return 1 + 40 * rate[index]


def sentence_crop(d, rng, key="other_sent"):
    """0.25-1 s of a training sentence (from d[key]: as recorded, or its codec twin), at a random place in a one-second clip."""
    bounds = d["other_sent_bounds"]
    i = rng.randrange(len(bounds) - 1)
    n = int(rng.uniform(0.25, 1.0) * CLIP_SAMPLES)
    start = rng.randint(int(bounds[i]), int(bounds[i + 1]) - n)
    out = np.zeros(CLIP_SAMPLES, dtype=np.float32)
    at = rng.randint(0, CLIP_SAMPLES - n)
    out[at:at + n] = d[key][start:start + n]
    return out


@torch.no_grad()
def mine_hard_negatives(model, d, rng, pool=3000, keep=1000):
    """Hard-negative mining: score `pool` fresh `_unknown_` candidates (two
    thirds sentence crops, one third wake-word clips, all from training
    speakers) with the current model, keep the `keep` with the highest
    probability of some command word."""
    if RECIPE == "v3.1":
        cands = [sentence_crop(d, rng) for _ in range(pool * 2 // 3)]
        words = d["other_words_train"]
        cands += [words[rng.randrange(len(words))] for _ in range(pool - len(cands))]
        return score_candidates(model, cands, keep)[:2]
    cands = [sentence_crop(d, rng) for _ in range(pool // 2)]
    words = d["other_words_train"]
    cands += [words[rng.randrange(len(words))] for _ in range(pool // 5)]
    labels = [UNKNOWN] * len(cands)
    if "synth_unk_x" in d:
        drawn = synth_draw(d, rng, pool // 5, by_confusion=RECIPE != "v10")
        cands += [placed(d["synth_unk_x"][i], rng) for i in drawn]
        labels += [int(d["synth_unk_label"][i]) if NEAR_CLASSES else UNKNOWN for i in drawn]
    cands += [d["unk_train"][rng.randrange(len(d["unk_train"]))] for _ in range(pool - len(cands))]
    labels += [UNKNOWN] * (len(cands) - len(labels))
    kept, p_cmd, order = score_candidates(model, cands, keep)
    HARD_LABELS[:] = [labels[i] for i in order]
    return kept, p_cmd


@torch.no_grad()
def score_candidates(model, cands, keep):
    """The `keep` candidates the model most takes for a command, their mean p(command), and their indices."""
    model.eval()
    x = torch.from_numpy(np.stack(cands).astype(np.float32))
    p_cmd = torch.cat([torch.softmax(model.net(model.frontend(x[i:i + 256])), 1)[:, CMD_OFFSET:].sum(1)
                       for i in range(0, len(x), 256)])
    model.train()
    order = torch.argsort(p_cmd, descending=True)[:keep].tolist()
    return [cands[i] for i in order], float(p_cmd[order].mean()), order


def source_wave(d, src, i, rng, hard=None, coded=False):
    """Item `i` of source `src`; `coded`: its real codec round trip (codec.py's cache)."""
    tail = "_codec" if coded else ""
    if src == "hard":
        return hard[i]
    if src == "cmd":
        return d["train_x" + tail][i]
    if src in ("scmd", "syn"):
        return placed(d[("synth_cmd_x" if src == "scmd" else "synth_unk_x") + tail][i], rng)
    if src == "unk":
        return d["unk_train" + tail][i]
    if src == "wake":
        return d["other_words_train" + tail][i]
    if src == "sent":
        return sentence_crop(d, rng, "other_sent" + tail)
    return np.ascontiguousarray(d["train_x" + tail][i][::-1])  # reversed speech


def validation_set(d):
    """Fixed validation items: (waveform, label, group). Commands from the
    speaker-disjoint split; `_unknown_` only from real speech never trained on:
    the held-out Speech Commands other words, the held-out wake words, and
    one-second windows of sentences by held-out speakers; `_silence_` from the
    held-out tail of every noise file."""
    rng = random.Random(99)
    items = [(x, int(y) + CMD_OFFSET, "command") for x, y in zip(d["val_x"], d["val_y"])]
    items += [(x, UNKNOWN, "unknown_words") for x in d["unk_val"]]
    items += [(x, UNKNOWN, "other_wake_words") for x in d["other_val_words"]]
    items += [(x, UNKNOWN, "other_sentences") for x in d["other_val_sentences"]]
    if RECIPE == "v3.1":
        for _ in range(110):
            crop = D.noise_crop(d["noise_val"], d["noise_val_bounds"], rng)
            items.append((crop * rng.uniform(0.0, 1.0) ** 2, SILENCE, "silence"))
        return items
    for k in range(165):
        crop = D.noise_crop(d["noise_val"], d["noise_val_bounds"], rng)
        if k % 3 == 0:
            items.append((crop * rng.uniform(0.0, 1.0) ** 2, SILENCE, "silence"))
        else:  # loud: RMS 0.01-0.5, clipped at full scale
            level = 10 ** rng.uniform(-2, math.log10(0.5))
            items.append((np.clip(crop * level / max(1e-6, float(np.sqrt(np.mean(crop ** 2)))), -1, 1).astype(np.float32),
                          SILENCE, "silence"))
    return items


THRESHOLDS = [round(0.5 + 0.05 * i, 2) for i in range(10)]


@torch.no_grad()
def logits_of(model_fn, waves):
    out = []
    for i in range(0, len(waves), 128):
        out.append(model_fn(torch.from_numpy(np.stack(waves[i:i + 128]).astype(np.float32))))
    return torch.cat(out)


@torch.no_grad()
def evaluate(model_fn, items):
    logits = logits_of(model_fn, [x for x, _, _ in items])
    probs = torch.softmax(logits, 1).numpy()
    preds = probs.argmax(1)
    top = probs.max(1)
    labels = np.array([y for _, y, _ in items])
    groups = np.array([g for _, _, g in items])
    conf = np.zeros((len(LABELS), len(LABELS)), dtype=int)
    for y, p in zip(labels, preds):
        conf[y, p] += 1
    by_group = {g: float((preds[groups == g] == labels[groups == g]).mean()) for g in sorted(set(groups))}
    non_command = labels < CMD_OFFSET
    command = ~non_command
    other = np.isin(groups, ["unknown_words", "other_wake_words", "other_sentences"])
    silence = groups == "silence"
    fires = preds >= CMD_OFFSET
    curve = [{
        "threshold": t,
        "command_recall": float(((preds == labels) & (top >= t))[command].mean()),
        "other_speech_false_trigger": float((fires & (top >= t))[other].mean()),
        "silence_false_trigger": float((fires & (top >= t))[silence].mean()),
    } for t in THRESHOLDS]
    return {
        "accuracy": float((preds == labels).mean()),
        "items": int(len(labels)),
        "accuracy_by_group": by_group,
        "items_by_group": {g: int((groups == g).sum()) for g in sorted(set(groups))},
        "false_trigger_rate": float(fires[non_command].mean()),
        "other_speech_false_trigger": float(fires[other].mean()),
        "threshold_curve": curve,
        "confusion": conf.tolist(),
    }


def fit_temperature(logits, labels):
    """Temperature scaling (Guo et al., 2017): one scalar T minimising the
    validation NLL of softmax(logits / T)."""
    log_t = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200)
    y = torch.tensor(labels)

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.exp())


UNKNOWN_BIASES = [round(0.25 * i, 2) for i in range(13)]
# Two-sided (v7): shifts away from `_unknown_` too, for a model whose missed commands
# mostly go to `_unknown_` (v6: 38 of its 62 misses).
UNKNOWN_BIASES_TWO_SIDED = [round(0.25 * i, 2) for i in range(-4, 13)]


def choose_unknown_bias(logits, labels, groups, min_recall=0.93, max_false_trigger=0.05, two_sided=False):
    """A prior shift toward `_unknown_` (added to its calibrated logit), chosen on
    validation by a rule fixed in advance: the smallest bias at which other speech
    comes out as a command at most `max_false_trigger` of the time while command
    recall stays at least `min_recall`; if none reaches that, the bias with the
    fewest false triggers among those keeping the recall (0 if none keeps it).
    `two_sided` also tries negative shifts (down to -1) and, among the biases
    meeting both bounds, takes the one closest to 0 (the larger on a tie)."""
    y = np.array(labels)
    g = np.array(groups)
    command = y >= CMD_OFFSET
    other = np.isin(g, ["unknown_words", "other_wake_words", "other_sentences"])
    rows = []
    for b in (UNKNOWN_BIASES_TWO_SIDED if two_sided else UNKNOWN_BIASES):
        shifted = logits.clone()
        shifted[:, UNKNOWN] += b
        pred = shifted.argmax(1).numpy()
        rows.append({"bias": b, "command_recall": float((pred == y)[command].mean()),
                     "other_speech_false_trigger": float((pred >= CMD_OFFSET)[other].mean())})
    keeping = [r for r in rows if r["command_recall"] >= min_recall]
    meeting = [r for r in keeping if r["other_speech_false_trigger"] <= max_false_trigger]
    if meeting:
        chosen = min(meeting, key=lambda r: (abs(r["bias"]), -r["bias"]))["bias"]
    elif keeping:
        chosen = min(keeping, key=lambda r: (r["other_speech_false_trigger"], abs(r["bias"])))["bias"]
    else:
        chosen = 0.0
    return chosen, rows


@torch.no_grad()
def long_noise_false_triggers(model_fn, d):
    """Slide a one-second window (hop 0.5 s) over the held-out noise tails as
    recorded and at RMS 0.05, 0.2 and 0.5 (clipped); count windows classified
    as a command word, per level."""
    noise, bounds = d["noise_val"], d["noise_val_bounds"]
    out = {}
    for level in ("recorded", 0.05, 0.2, 0.5):
        windows = []
        for k in range(len(bounds) - 1):
            seg = noise[bounds[k]:bounds[k + 1]]
            g = 1.0 if level == "recorded" else level / float(np.sqrt(np.mean(seg ** 2)))
            for s in range(0, len(seg) - CLIP_SAMPLES, SAMPLE_RATE // 2):
                windows.append(np.clip(seg[s:s + CLIP_SAMPLES] * g, -1, 1))
        x = torch.from_numpy(np.stack(windows).astype(np.float32))
        preds = torch.cat([model_fn(x[i:i + 256]).argmax(1) for i in range(0, len(x), 256)])
        out[str(level)] = {"windows": len(windows), "false_triggers": int((preds >= CMD_OFFSET).sum())}
    return out


def batch_waves(d, batch, rng, hard, snr_min, narrowband_p):
    """One batch's augmented waves, in the order the items come (the data pipeline's part of a step).
    With CODEC > 0, that share of speech items (not mined ones) is drawn as its codec round trip."""
    waves = []
    for src, i, _ in batch:
        if src == "sil":
            waves.append(make_silence(rng, d["noise_train"], d["noise_train_bounds"]))
            continue
        coded = bool(CODEC) and src != "hard" and rng.random() < CODEC
        waves.append(augment_speech(source_wave(d, src, i, rng, hard, coded), rng, d["noise_train"],
                                    d["noise_train_bounds"], snr_min, narrowband_p, src in ("scmd", "syn"), coded))
    return waves


def batch_features(model, waves, rng):
    """Log-mel features of a batch with SpecAugment, in the layout the net trains in."""
    feats = spec_augment(model.frontend(torch.stack(waves)), rng)
    return feats.contiguous(memory_format=torch.channels_last) if CHANNELS_LAST else feats


def make_model(channels):
    """A TrainModel of the architecture ARCH (BLOCKS deep) with random weights."""
    return TrainModel(channels, BLOCKS, ARCH, TC_MULT, NEAR_CLASSES, len(PHONES) if PHONE_AUX else 0, level=TRAIN_LEVEL)


def new_model(channels, init=None):
    """A TrainModel of BLOCKS blocks (from `init`, a state dict, if given), in the layout it trains in."""
    model = make_model(channels)
    if init is not None:
        model.load_state_dict(init)
    if CHANNELS_LAST:
        model.net = model.net.to(memory_format=torch.channels_last)
    return model


def optimiser_step(model, opt, feats, y, phones=None):
    """Forward, loss, backward and the optimiser's step on one batch; returns the logits and loss.
    `phones` (v15): each item's phoneme ids, or None where its word is unknown."""
    opt.zero_grad()
    chunk = MICRO_BATCH or len(y)
    logits, loss = [], 0.0
    for start in range(0, len(y), chunk):
        f, t = feats[start:start + chunk], y[start:start + chunk]
        if PHONE_AUX and phones is not None:
            part, frames = model.net.train_outputs(f)
            part_loss = F.cross_entropy(part, t, label_smoothing=0.05) + PHONE_AUX * phone_loss(frames, phones[start:start + chunk])
        else:
            part = model.net.train_logits(f) if NEAR_CLASSES else model.net(f)
            part_loss = F.cross_entropy(part, t, label_smoothing=0.05)
        # Weighted by the chunk's share, so the summed gradient is the whole batch's mean loss's.
        part_loss = part_loss * (len(t) / len(y))
        part_loss.backward()
        logits.append(part.detach())
        loss += float(part_loss)
    opt.step()
    return torch.cat(logits), loss


def phone_loss(frames, phones):
    """CTC of the phoneme head's frames [B, T, len(PHONES) + 1] against the items' phoneme ids, over
    the items whose word is known (silence: an empty sequence, all blank); 0 if none is."""
    known = [k for k, p in enumerate(phones) if p is not None]
    if not known:
        return frames.sum() * 0.0
    logp = F.log_softmax(frames[known].float(), 2).transpose(0, 1)  # [T, B', C]
    targets = [phones[k] for k in known]
    flat = torch.tensor([t for seq in targets for t in seq], dtype=torch.long)
    return F.ctc_loss(logp, flat, [logp.shape[0]] * len(known), [len(seq) for seq in targets],
                      blank=0, reduction="mean", zero_infinity=True)


def ipa_tokens(ipa):
    """espeak-ng's IPA for a word -> phoneme symbols: stress marks and ties dropped, a length mark
    kept with its vowel ("nˈɔː" -> ["n", "ɔː"]); diphthongs come out as their two symbols."""
    out = []
    for ch in ipa.strip():
        if ch in "ˈˌ͡‿ -" or ch.isspace():
            continue
        if ch == "ː" and out:
            out[-1] += ch
        else:
            out.append(ch)
    return out


def word_phones(words):
    """{word: espeak-ng's phoneme symbols for it in PHONE_VOICE} (one espeak-ng run per word, no shell)."""
    return {w: ipa_tokens(subprocess.run(["espeak-ng", "-q", "--ipa", "-v", PHONE_VOICE, w], check=True,
                                         capture_output=True, text=True, timeout=30).stdout)
            for w in sorted(set(words))}


def phone_ids(spelled):
    """{word: symbols} -> (the sorted inventory, {word: ids}); id = inventory index + 1, 0 is CTC's blank."""
    inventory = sorted({p for seq in spelled.values() for p in seq})
    index = {p: k + 1 for k, p in enumerate(inventory)}
    return inventory, {w: [index[p] for p in seq] for w, seq in spelled.items()}


def real_other_words(shared):
    """The word of each real training other-word clip (d["unk_train"]), in data.py's manifest order."""
    with open(os.path.join(shared, "data", "speech-commands", "manifest.csv")) as f:
        return [r["label"] for r in csv.DictReader(f) if r["split"] == "training" and r["label"] not in S.COMMANDS]


def build_phone_targets(d, shared):
    """Sets PHONES and PHONE_TARGETS (v15): per source, each item's phoneme ids where its word is known.
    Sentence crops, wake words, reversed commands and mined clips stay None (no CTC loss)."""
    global PHONES, PHONE_TARGETS
    syn = synth_words(d)
    unk = real_other_words(shared)
    assert len(unk) == len(d["unk_train"]), "the data cache does not match the manifest's other words"
    PHONES, ids = phone_ids(word_phones(list(S.COMMANDS) + syn + unk))
    PHONE_TARGETS = {
        "cmd": [ids[S.COMMANDS[int(k)]] for k in d["train_y"]],
        "scmd": [ids[S.COMMANDS[int(k)]] for k in d["synth_cmd_y"]],
        "syn": [ids[w] for w in syn],
        "unk": [ids[w] for w in unk],
        "sil": [[]],
    }


def item_phones(batch):
    """Each (source, index, label) item's phoneme ids, or None (word unknown)."""
    return [PHONE_TARGETS[src][i] if src in PHONE_TARGETS else None for src, i, _ in batch]


def default_unknown_factor(recipe):
    """`_unknown_` items per epoch, in units of an average command class, when --unknown-factor is not given."""
    return UNKNOWN_FACTORS.get(recipe, 4.2 if recipe in ("v5",) + PAIRED else 3.0)


def load_training_data(shared, cache, synth, synth_cache=None):
    """The real material (data.py's cache) and, with `synth`, the synthetic words of RECIPE's set."""
    d = D.build(shared, cache)
    if synth:
        if RECIPE in PAIRED:
            d.update(S.build_training_v6(synth_cache or S.train_cache("v6"), S.train_cache("v4")))
        else:
            d.update(S.build_training(synth_cache or S.train_cache("v4")))
    if CODEC:
        d.update(C.build(d))
    if NEAR_CLASSES:
        d["synth_unk_label"] = near_labels(d)
    if PHONE_AUX:
        build_phone_targets(d, shared)
    return d


def train(d, epochs, seed, snr_min=0.0, unknown_factor=2.0, channels=64, mine_from=0, narrowband_p=0.0,
          init=None, max_lr=3e-3):
    """`init`: a state dict to start from (fine-tuning), else random weights."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = new_model(channels, init)
    opt = torch.optim.AdamW(model.net.parameters(), lr=max_lr, weight_decay=1e-3)
    steps_per_epoch = math.ceil(len(epoch_items(d, random.Random(0), unknown_factor)) / 64)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=epochs * (steps_per_epoch + 1),
                                                pct_start=0.15)
    hard, hard_note = None, ""
    for epoch in range(epochs):
        model.train()
        t0, total, correct, loss_sum = time.time(), 0, 0, 0.0
        if RECIPE in CONFUSION_DRAWN and mine_from and epoch + 1 >= mine_from and (epoch + 1 - mine_from) % CONFUSION_EVERY == 0:
            d["synth_unk_w"] = confusion_weights_of(model, d, CONFUSION_CLIPS_PER_WORD)
        if mine_from and epoch + 1 >= mine_from:
            hard, p_hard = mine_hard_negatives(model, d, rng)
            hard_note = f" mined p(cmd) {p_hard:.3f}"
            items = epoch_items(d, rng, unknown_factor, MINED[RECIPE], len(hard))
        else:
            items = epoch_items(d, rng, unknown_factor)
        for b in range(0, len(items), 64):
            batch = items[b:b + 64]
            waves = batch_waves(d, batch, rng, hard, snr_min, narrowband_p)
            y = torch.tensor([label for _, _, label in batch])
            with torch.no_grad():
                feats = batch_features(model, waves, rng)
            logits, loss = optimiser_step(model, opt, feats, y, item_phones(batch) if PHONE_AUX else None)
            sched.step()
            loss_sum += float(loss) * len(batch)
            correct += int((logits.argmax(1) == y).sum())
            total += len(batch)
        print(f"epoch {epoch + 1}/{epochs} loss {loss_sum / total:.4f} train-acc {correct / total:.4f} "
              f"({time.time() - t0:.0f}s){hard_note}", flush=True)
    model.eval()
    if CHANNELS_LAST:
        model.net = model.net.to(memory_format=torch.contiguous_format)
    return model


def export_onnx(exp, path):
    """An ExportModel to ONNX as the node reads it: raw waveform `input_values` of any length -> `logits`."""
    # ONNX Runtime folds constants and fuses BatchNorm itself at load time.
    torch.onnx.export(exp, torch.zeros(1, CLIP_SAMPLES), path, input_names=["input_values"], output_names=["logits"],
                      dynamic_axes={"input_values": {0: "batch_size", 1: "sequence_length"},
                                    "logits": {0: "batch_size"}},
                      opset_version=17, do_constant_folding=False)


def export(model, out_dir, temperature=1.0, unknown_bias=0.0):
    exp = ExportModel(model, temperature, unknown_bias, level=LEVEL).eval()
    os.makedirs(os.path.join(out_dir, "onnx"), exist_ok=True)
    path = os.path.join(out_dir, "onnx", "model.onnx")
    export_onnx(exp, path)
    id2label = {str(i): l for i, l in enumerate(LABELS)}
    config = {
        "architectures": ["DSCNNForAudioClassification" if ARCH == "dscnn" else "TCResNetForAudioClassification"],
        "model_type": "dscnn-kws" if ARCH == "dscnn" else "tcresnet-kws",
        "id2label": id2label,
        "label2id": {l: i for i, l in enumerate(LABELS)},
        "num_labels": len(LABELS),
        "problem_type": "single_label_classification",
        "sampling_rate": SAMPLE_RATE,
    }
    preproc = {
        "feature_extractor_type": "Wav2Vec2FeatureExtractor",
        "feature_size": 1,
        "sampling_rate": SAMPLE_RATE,
        "padding_value": 0.0,
        "padding_side": "right",
        "do_normalize": False,
        "return_attention_mask": False,
    }
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    with open(os.path.join(out_dir, "preprocessor_config.json"), "w") as f:
        json.dump(preproc, f, indent=2)
        f.write("\n")
    return exp


def keep_freed_memory():
    """glibc hands every large freed block back to the kernel, and each batch's
    tensors are then faulted in again page by page: on this machine's VM that
    was a third of the training time (sys time). Keep up to 1 GB mapped."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        for param in (-1, -2, -3):  # M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD
            libc.mallopt(param, 1 << 30 if param != -3 else 1 << 29)
    except OSError:
        pass


def parse_args(argv=None):
    """The command line, with every per-recipe default resolved; sets the module's RECIPE, BLOCKS,
    CHANNELS_LAST, CODEC, ARCH, TC_MULT and NEAR_CLASSES. Returns (args, the recipe's name as given)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(REPO, "..", "shared"))
    ap.add_argument("--cache", default=DATA_CACHE)
    ap.add_argument("--out", default=os.path.join(REPO, "models", "speech-commands-dscnn"))
    ap.add_argument("--recipe", choices=["v3.1", "v4", "v5", "v6", "v7", "v7ft", "v7bal", "v8", "v9", "v10", "v11", "v13", "v13.1", "v14", "v15", "v16"], default="v13.1",
                    help="v3.1: the model shipped before v7; v4: synthetic words in every class, loud noise (not adopted); "
                         "v5: v4 with v3.1's real other speech kept whole and near-command words weighted 6x; "
                         "v6: v5 with each command and its near words synthesised in the same voices (paired), "
                         "twice the synthetic commands, wider resampling of synthetic clips, 30 epochs; "
                         "v7 (shipped before v13): v6 for 32 epochs, its prior shift chosen on both sides of 0 (--two-sided-bias); "
                         "v7ft, v7bal: experiments on top of v7's weights (--finetune-from; the model card); "
                         "v8: v7 for 24 epochs, then v7bal's epochs on those weights, in one run (not adopted); "
                         "v9: v7 with the synthetic other words drawn by the training model's own confusions once mining starts (not adopted); "
                         "v10: v9 with mining's candidates drawn as v7's (not adopted); "
                         "v11: v7 with a fifth of the speech drawn as a real AMR-NB/Opus round trip (codec.py; --codec); "
                         "v13 (shipped before v13.1): v7 deeper, 9 blocks in channels_last for 28 epochs (the same run as "
                         "--recipe v7 --blocks 9 --channels-last --epochs 28); "
                         "v13.1 (default, shipped): v13's run, exported with the level step (the loudest second set to the "
                         "training level, frontend.set_level); "
                         "v14 (experiment): v13 with a training-only near-word class per command, folded into _unknown_ in the graph; "
                         "v15 (experiment): v13 with a training-only phoneme head (CTC) on the words it knows; the graph is v13's; "
                         "v16 (experiment): v13.1 with the level step in training, mining and calibration too")
    ap.add_argument("--epochs", type=int, help="default: 30 (v3.1, v6), 28 (v4, v5, v13), 32 (v7, v9, v10), 6 (v7ft, v7bal), 24 (v8, before its fine-tuning)")
    ap.add_argument("--finetune-epochs", type=int, default=V8_FINETUNE_EPOCHS, help="v8: the v7bal epochs after the first --epochs")
    ap.add_argument("--channels", type=int, default=CHANNELS, help="DS-CNN width")
    ap.add_argument("--micro-batch", type=int, default=0, help="clips per forward/backward chunk of a batch of 64, "
                                                               "gradients summed (0: the whole batch)")
    ap.add_argument("--phone-aux", type=float, help=f"weight of the training-only phoneme head's CTC loss (default: "
                                                    f"{V15_PHONE_AUX} for v15, else 0: no head)")
    ap.add_argument("--blocks", type=int, help="DS-CNN depth (depthwise-separable blocks; default 5), "
                                               "or --arch tc: blocks per stage (default 2)")
    ap.add_argument("--arch", choices=["dscnn", "tc"], default="dscnn",
                    help="dscnn (shipped): depthwise-separable 2-D convolutions; tc: a temporal-convolution ResNet "
                         "(1-D convolutions over time, the mel bands as channels; --tc-mult, --blocks per stage)")
    ap.add_argument("--tc-mult", type=float, default=1.0, help="--arch tc: width multiplier (stem 16, stages 24/32/48)")
    ap.add_argument("--channels-last", action="store_true",
                    help="train in PyTorch's channels_last layout (faster here; floats not bit-identical to the default)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--snr-min", type=float, default=SNR_MIN, help="noise SNR drawn from [min, min+25] dB")
    ap.add_argument("--from-checkpoint", help="skip training: calibrate and export this state dict")
    ap.add_argument("--finetune-from", help="train on from this state dict (--recipe v7ft: v7's checkpoint), "
                                           "--epochs more epochs at a tenth of the learning rate, mining from the first")
    ap.add_argument("--synth", type=int, help="1: add words synthesised in the training voices (synth.py); default: 1 for v4 only")
    ap.add_argument("--synth-cache", help="default: synth.train_cache('v4'), or 'v6' for --recipe v6/v7 (built on v4's)")
    ap.add_argument("--unknown-factor", type=float,
                    help="`_unknown_` items per epoch, in units of an average command class (default 3; v5: 4.2)")
    ap.add_argument("--mine-from", type=int, default=8,
                    help="epoch from which a quarter of `_unknown_` is mined hard negatives (0: never)")
    ap.add_argument("--two-sided-bias", type=int, help="1: let the prior shift go below 0 as well (default: 1 for v7 only)")
    ap.add_argument("--narrowband", type=float, default=NARROWBAND,
                    help="share of speech items cut to telephone bandwidth (8 kHz AMR)")
    ap.add_argument("--codec", type=float, help="share of speech items drawn as a real codec round trip "
                                                "(codec.py's cache, built on first use; default 0.2 for v11, else 0)")
    args = ap.parse_args(argv)
    global RECIPE, BLOCKS, CHANNELS_LAST, CODEC, ARCH, TC_MULT, NEAR_CLASSES, MICRO_BATCH, PHONE_AUX, LEVEL, TRAIN_LEVEL
    recipe_name = args.recipe
    NEAR_CLASSES = 0
    TRAIN_LEVEL = args.recipe == "v16"
    LEVEL = args.recipe in ("v13.1", "v16")
    if LEVEL:
        args.recipe = "v13"
    if args.phone_aux is None:
        args.phone_aux = V15_PHONE_AUX if args.recipe == "v15" else 0.0
    PHONE_AUX = args.phone_aux
    if args.recipe == "v15":
        args.recipe = "v13"
    MICRO_BATCH = args.micro_batch
    if args.recipe == "v14":
        NEAR_CLASSES = len(S.COMMANDS)
        args.recipe = "v13"
    if args.recipe == "v13":
        # v13 is v7's data, augmentation and calibration with the deeper network: the run is the
        # one `--recipe v7 --blocks 9 --channels-last --epochs 28` gives (the data tables follow v7).
        if args.blocks is None:
            args.blocks = V13_BLOCKS
        if args.epochs is None:
            args.epochs = V13_EPOCHS
        args.channels_last = True
        args.recipe = "v7"
    RECIPE = args.recipe
    if args.codec is None:
        args.codec = CODEC_DEFAULTS.get(RECIPE, 0.0)
    CODEC = args.codec
    if args.blocks is None:
        args.blocks = DEFAULT_BLOCKS[args.arch]
    BLOCKS, CHANNELS_LAST, ARCH, TC_MULT = args.blocks, args.channels_last, args.arch, args.tc_mult
    if args.epochs is None:
        args.epochs = {"v3.1": 30, "v6": 30, "v7": 32, "v7ft": 6, "v7bal": 6, "v8": 24, "v9": 32, "v10": 32, "v11": 32}.get(RECIPE, 28)
    if args.synth is None:
        args.synth = 0 if RECIPE == "v3.1" else 1
    if args.two_sided_bias is None:
        args.two_sided_bias = int(RECIPE in ("v7", "v7ft", "v7bal", "v8", "v9", "v10", "v11"))
    if args.unknown_factor is None:
        args.unknown_factor = default_unknown_factor(RECIPE)
    return args, recipe_name


def main():
    keep_freed_memory()
    global RECIPE
    args, recipe_name = parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    d = load_training_data(args.shared, args.cache, args.synth, args.synth_cache)
    if args.synth:
        print(f"synthetic (training voices): {len(d['synth_cmd_y'])} command clips, {len(d['synth_unk_x'])} other words "
              f"({int(d['synth_unk_near'].sum())} near a command)", flush=True)
    print(f"data: {len(d['train_x'])} train / {len(d['val_x'])} val commands "
          f"({int(d['train_near_silent'].sum())} near-silent dropped from training), "
          f"unknown: {len(d['unk_train'])} words, {len(d['other_words_train'])} wake words, "
          f"{len(d['other_sent']) / 16000 / 60:.0f} min of sentences ({time.time() - t0:.0f}s)", flush=True)
    if args.from_checkpoint:
        # Calibrate and export a model trained earlier by this script (same arguments).
        model = make_model(args.channels)
        model.load_state_dict(torch.load(args.from_checkpoint))
        model.eval()
    else:
        init = torch.load(args.finetune_from) if args.finetune_from else None
        if RECIPE == "v8":
            # v7's recipe, then v7bal's epochs on top (the data tables follow RECIPE).
            RECIPE = "v7"
            base = train(d, args.epochs, args.seed, args.snr_min, args.unknown_factor, args.channels,
                         args.mine_from, args.narrowband)
            init = {k: v.clone() for k, v in base.state_dict().items()}
            RECIPE = "v7bal"
            d["synth_unk_w"] = confusion_weights(init, d, args.channels)
            model = train(d, args.finetune_epochs, args.seed + 1, args.snr_min, UNKNOWN_FACTORS["v7bal"], args.channels, 1,
                          args.narrowband, init, FINETUNE_LR)
            RECIPE = "v8"
        else:
            if RECIPE == "v7bal":
                d["synth_unk_w"] = confusion_weights(init, d, args.channels)
            model = train(d, args.epochs, args.seed, args.snr_min, args.unknown_factor, args.channels,
                          1 if init is not None else args.mine_from, args.narrowband, init, FINETUNE_LR if init is not None else 3e-3)
        checkpoints = os.path.join(os.path.dirname(args.cache), "checkpoints")
        os.makedirs(checkpoints, exist_ok=True)
        torch.save(model.state_dict(), os.path.join(
            checkpoints, f"{RECIPE}-synth{args.synth}-seed{args.seed}-e{args.epochs}-ch{args.channels}{'' if ARCH == 'dscnn' else f'-tc{TC_MULT:g}'}{'' if BLOCKS == 5 else f'-b{BLOCKS}'}{'-cl' if CHANNELS_LAST else ''}-snr{args.snr_min:g}-unk{args.unknown_factor:g}"
            f"-mine{args.mine_from}-nb{args.narrowband:g}{f'-codec{CODEC:g}' if CODEC else ''}{f'-near{NEAR_CLASSES}' if NEAR_CLASSES else ''}{'-level' if TRAIN_LEVEL else ''}.pt"))
    val = validation_set(d)
    # Calibration: temperature scaling on the validation logits, baked into the graph.
    # v13.1 keeps v13's calibration (fitted without the level step); v16, trained with it, fits with it.
    raw = logits_of(ExportModel(model, level=TRAIN_LEVEL).eval(), [x for x, _, _ in val])
    temperature = fit_temperature(raw, [y for _, y, _ in val])
    unknown_bias, bias_curve = choose_unknown_bias(raw / temperature, [y for _, y, _ in val], [g for _, _, g in val],
                                                   two_sided=bool(args.two_sided_bias))
    exp = export(model, args.out, temperature, unknown_bias)
    metrics = {
        "validation": evaluate(exp, val),
        "validation_uncalibrated": evaluate(lambda x: model.net(model.frontend(x)), val)["accuracy"],
        "temperature": temperature,
        "unknown_bias": unknown_bias,
        "unknown_bias_curve": bias_curve,
        "long_noise": long_noise_false_triggers(exp, d),
        "params": sum(p.numel() for p in model.net.parameters()),
        "epochs": args.epochs, **({"finetune_epochs": args.finetune_epochs} if RECIPE == "v8" else {}), "seed": args.seed, "snr_min": args.snr_min,
        "unknown_factor": args.unknown_factor, "channels": args.channels,
        **({"blocks": BLOCKS} if BLOCKS != 5 else {}), **({"arch": ARCH, "tc_mult": TC_MULT} if ARCH != "dscnn" else {}), **({"channels_last": True} if CHANNELS_LAST else {}),
        **({"micro_batch": MICRO_BATCH} if MICRO_BATCH else {}), **({"phone_aux": PHONE_AUX, "phone_voice": PHONE_VOICE} if PHONE_AUX else {}),
        "mine_from": args.mine_from, "narrowband": args.narrowband, **({"codec": CODEC} if CODEC else {}),
        **({"near_classes": NEAR_CLASSES} if NEAR_CLASSES else {}), **({"level": LEVEL, "train_level": TRAIN_LEVEL} if LEVEL else {}),
        "synth": args.synth, "recipe": recipe_name,
        "two_sided_bias": args.two_sided_bias,
        ("calibration_seconds" if args.from_checkpoint else "train_seconds"): round(time.time() - t0),
        "torch": torch.__version__,
    }
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")
    print(json.dumps({k: v for k, v in metrics["validation"].items() if k != "confusion"}, indent=2))
    print("temperature", temperature, "unknown bias", unknown_bias, "long noise", metrics["long_noise"])


if __name__ == "__main__":
    main()
