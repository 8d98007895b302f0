"""Checks train.py's recipe aliases resolve to the runs they name, without training:
`--recipe v13` (and no --recipe: the shipped v13) must give exactly the arguments and module
settings of `--recipe v7 --blocks 9 --channels-last --epochs 28` (the run the card's rule judged),
and `--recipe v7` alone must still give v7's (5 blocks, default layout, 32 epochs); `--recipe v14`
must be v13 with the eight near-word classes and nothing else, whose fold into `_unknown_` is
checked on random logits and through an ONNX export.

    /usr/bin/python3 scripts/kws/test_recipes.py
"""
import io
import os
import sys

import numpy as np
import onnx
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train as T  # noqa: E402
from model import DSCNN, LABELS, UNKNOWN_INDEX, fold_near  # noqa: E402


def resolved(argv):
    args, name = T.parse_args(argv)
    return name, dict(vars(args)), (T.RECIPE, T.BLOCKS, T.CHANNELS_LAST, T.CODEC, T.ARCH, T.TC_MULT, T.NEAR_CLASSES)


def main():
    name13, args13, set13 = resolved(["--recipe", "v13"])
    _, args_long, set_long = resolved(["--recipe", "v7", "--blocks", "9", "--channels-last", "--epochs", "28"])
    name_default, args_default, set_default = resolved([])
    assert name13 == "v13" and name_default == "v13", (name13, name_default)
    assert args13 == args_long and set13 == set_long, (args13, args_long, set13, set_long)
    assert args_default == args13 and set_default == set13, (args_default, set_default)
    _, args7, set7 = resolved(["--recipe", "v7"])
    assert set7 == ("v7", 5, False, 0.0, "dscnn", 1.0, 0) and args7["epochs"] == 32, (set7, args7["epochs"])
    # An explicit option still wins over v13's defaults.
    _, args13e, set13e = resolved(["--recipe", "v13", "--epochs", "3", "--blocks", "5"])
    assert args13e["epochs"] == 3 and set13e[1] == 5 and set13e[2] is True, (args13e["epochs"], set13e)
    # v14 is v13 with the near-word classes, and nothing else.
    name14, args14, set14 = resolved(["--recipe", "v14"])
    assert name14 == "v14" and set14 == set13[:-1] + (8,) and set13[-1] == 0, (name14, set14, set13)
    assert {k: v for k, v in args14.items() if k != "recipe"} == {k: v for k, v in args13.items() if k != "recipe"}, (args14, args13)
    check_near()
    print("recipes ok: v13 (default) = v7 --blocks 9 --channels-last --epochs 28; v7 unchanged; "
          "v14 = v13 + 8 near-word classes, folded into _unknown_ (softmax and ONNX checked)")


def check_near():
    """The fold gives `_unknown_` the near classes' summed probability and leaves the rest alone; it
    exports to a valid ONNX graph; every near word of synth.NEAR gets its command's class."""
    torch.manual_seed(0)
    logits = torch.randn(4, len(LABELS) + 8)
    p18, p10 = torch.softmax(logits, 1), torch.softmax(fold_near(logits), 1)
    u = UNKNOWN_INDEX
    assert torch.allclose(p10[:, u], p18[:, u] + p18[:, len(LABELS):].sum(1), atol=1e-6)
    keep = [k for k in range(len(LABELS)) if k != u]
    assert torch.allclose(p10[:, keep], p18[:, keep], atol=1e-6)
    net = DSCNN(ch=8, blocks=1, near=8).eval()
    x = torch.randn(2, 1, 40, 101)
    assert net(x).shape == (2, len(LABELS)) and net.train_logits(x).shape == (2, len(LABELS) + 8)
    buf = io.BytesIO()
    torch.onnx.export(net, x, buf, input_names=["x"], output_names=["y"], opset_version=17)
    graph = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(graph)
    assert any(n.op_type == "ReduceLogSumExp" for n in graph.graph.node)
    words = T.synth_word_list()
    labels = T.near_labels({"synth_unk_x": np.zeros((len(words), 1), dtype=np.float32)})
    stop = len(LABELS) + T.S.COMMANDS.index("stop")
    assert all(labels[i] == stop for i, w in enumerate(words) if w == "stock")
    assert all(labels[i] == T.UNKNOWN for i, w in enumerate(words) if w in ("bed", "coffee"))
    assert int((labels >= len(LABELS)).sum()) == sum(1 for w in words if w in T.S.NEAR_WORDS)


if __name__ == "__main__":
    main()
