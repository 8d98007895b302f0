"""What a wider or deeper DS-CNN, or a temporal-convolution ResNet (model.TCResNet), costs per
training step on this machine, against the shipped width (96 channels, 5 blocks) measured in the same run: one optimiser step (forward, backward,
AdamW) on a batch of 64 log-mel inputs (40 x 101), as train.py takes them.

    /usr/bin/python3 scripts/kws/bench_width.py [--threads 2] [--steps 8]

Prints the median ms per step and the ratio to the shipped width in train.py's default memory
layout, for both layouts (default and channels_last). Run it on an idle machine.
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import DSCNN, TCResNet  # noqa: E402


def ms_per_step(ch, blocks, steps, channels_last, tc_mult=None):
    """tc_mult: a TCResNet of that width with `blocks` blocks per stage instead of a DS-CNN."""
    torch.manual_seed(0)
    model = DSCNN(ch=ch, blocks=blocks) if tc_mult is None else TCResNet(mult=tc_mult, per_stage=blocks)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(64, 1, 40, 101)
    y = torch.randint(0, 10, (64,))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2] * 1000, sum(p.numel() for p in model.parameters())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2, help="as train.py --threads")
    ap.add_argument("--steps", type=int, default=8)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    shapes = [(96, 5), (112, 5), (128, 5), (96, 7), (96, 9)]
    base = None  # the shipped width in train.py's memory layout, measured first
    print(f"torch {torch.__version__}, {args.threads} thread(s); median of {args.steps} steps; "
          "ratio to 96 ch x 5 blocks in the default layout (train.py's today)")
    for channels_last in (False, True):
        for ch, blocks in shapes:
            ms, params = ms_per_step(ch, blocks, args.steps, channels_last)
            base = base or ms
            print(f"  {'channels_last' if channels_last else 'default      '} {ch:4d} ch x {blocks} blocks: "
                  f"{params:7d} params, {ms:6.0f} ms/step, {ms / base:5.2f}x", flush=True)
    for mult, per_stage in ((1.0, 2), (1.5, 2), (2.0, 2), (1.5, 3)):
        ms, params = ms_per_step(0, per_stage, args.steps, False, mult)
        print(f"  TC-ResNet x{mult:g}, {per_stage} blocks per stage: {params:7d} params, {ms:6.0f} ms/step, "
              f"{ms / base:5.2f}x", flush=True)


if __name__ == "__main__":
    main()
