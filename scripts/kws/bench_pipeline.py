"""Where a training step's time goes: train.py's data pipeline (each item's augmentation, in
Python) against the model's part (log-mel frontend with SpecAugment, then forward, backward and
AdamW), on real batches of the v7 recipe's first epoch, in the same run.

    /usr/bin/python3 scripts/kws/bench_pipeline.py [--blocks 9] [--channels-last] [--arch tc --tc-mult 1.25] [--threads 2] [--batches 60] [--batch 64]
        [--channels 96] [--micro-batch 0] [--phone-aux 0] [--compare 128x16 96x16 96x0x0.3]

Needs the training caches train.py builds (kws-data-v3.npz and the synthetic sets). Prints the
mean ms per batch and per clip, and each part's share (--batch: other than train.py's 64, e.g. to
see whether smaller batches cost less per clip; --compare: more widths and chunk sizes in the same run,
as ratios to the first). Run it on an idle machine.
"""
import argparse
import os
import random
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train as T  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(T.REPO, "..", "shared"))
    ap.add_argument("--cache", default=T.DATA_CACHE)
    ap.add_argument("--blocks", type=int, help="default: 9 (the deeper DS-CNN), or train.py's default for --arch tc")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--arch", choices=["dscnn", "tc"], default="dscnn", help="as train.py --arch")
    ap.add_argument("--tc-mult", type=float, default=1.0, help="as train.py --tc-mult")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--batches", type=int, default=60)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--channels", type=int, default=T.CHANNELS, help="DS-CNN width, as train.py --channels")
    ap.add_argument("--micro-batch", type=int, default=0, help="as train.py --micro-batch (0: the whole batch at once)")
    ap.add_argument("--phone-aux", type=float, default=0.0, help="as train.py --phone-aux (0: no phoneme head)")
    ap.add_argument("--compare", nargs="*", default=[], metavar="CHxMICRO[xAUX]",
                    help="more DS-CNN shapes measured after the first in the same run, each as channels x micro-batch "
                         "[x phoneme-head weight] (128x16: 128 channels in chunks of 16; 96x0x0.3: v15's shape), "
                         "printed as ratios to the first")
    args = ap.parse_args()
    if args.blocks is None:
        args.blocks = T.V13_BLOCKS if args.arch == "dscnn" else T.DEFAULT_BLOCKS["tc"]
    T.keep_freed_memory()  # as train.py runs: without it each batch's tensors are faulted in again
    T.RECIPE, T.BLOCKS, T.CHANNELS_LAST, T.ARCH, T.TC_MULT = "v7", args.blocks, args.channels_last, args.arch, args.tc_mult
    torch.set_num_threads(args.threads)
    d = T.load_training_data(args.shared, args.cache, synth=1)
    shapes = [(args.channels, args.micro_batch, args.phone_aux)]
    for c in args.compare:
        parts = c.split("x")
        shapes.append((int(parts[0]), int(parts[1]), float(parts[2]) if len(parts) > 2 else 0.0))
    if any(aux for _, _, aux in shapes):
        T.PHONE_AUX = 1.0  # so that the phoneme targets are built
        T.build_phone_targets(d, args.shared)
    base = None
    names = ("augmentation (Python, per item)", "frontend + SpecAugment", "forward + backward + AdamW")
    for channels, micro, aux in shapes:
        total, parts, epoch_batches = measure(d, args, channels, micro, aux)
        base = base or total
        shape = (f"{channels} ch x {args.blocks} blocks" + (f" in chunks of {micro}" if micro else "") +
                 (f" with the phoneme head (CTC x {aux:g})" if aux else "")
                 if args.arch == "dscnn" else f"TC-ResNet x{args.tc_mult:g}, {args.blocks} blocks per stage")
        print(f"{shape}, {'channels_last' if args.channels_last else 'default layout'}, {torch.get_num_threads()} threads: "
              f"{total / args.batches * 1000:.0f} ms per batch of {args.batch}, {total / args.batches / args.batch * 1000:.2f} ms per clip, "
              f"{total / base:.2f}x the first ({epoch_batches} batches in an epoch before mining)", flush=True)
        for name, t in zip(names, parts):
            print(f"  {name}: {t / args.batches * 1000:.0f} ms ({t / total:.0%})")


def measure(d, args, channels, micro, aux):
    """Seconds for args.batches batches (after 5 warm-up ones) of a net `channels` wide trained in chunks
    of `micro` (0: whole batches), with the phoneme head's CTC loss at weight `aux` (0: no head): the
    total, the three parts and the batches in an epoch. The same batches for every shape."""
    T.MICRO_BATCH, T.PHONE_AUX = micro, aux
    rng = random.Random(7)
    torch.manual_seed(7)
    items = T.epoch_items(d, rng, T.default_unknown_factor("v7"))
    model = T.new_model(channels)
    model.train()
    opt = torch.optim.AdamW(model.net.parameters(), lr=1e-3)
    warmup, parts = 5, [0.0, 0.0, 0.0]
    for b in range(args.batches + warmup):
        batch = items[b * args.batch:(b + 1) * args.batch]
        t0 = time.perf_counter()
        waves = T.batch_waves(d, batch, rng, None, T.SNR_MIN, T.NARROWBAND)
        y = torch.tensor([label for _, _, label in batch])
        t1 = time.perf_counter()
        with torch.no_grad():
            feats = T.batch_features(model, waves, rng)
        t2 = time.perf_counter()
        T.optimiser_step(model, opt, feats, y, T.item_phones(batch) if aux else None)
        t3 = time.perf_counter()
        if b >= warmup:
            for k, dt in enumerate((t1 - t0, t2 - t1, t3 - t2)):
                parts[k] += dt
    return sum(parts), parts, len(items) // args.batch

if __name__ == "__main__":
    main()
