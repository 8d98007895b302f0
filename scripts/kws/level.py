"""Insert the level step (recipe v13.1) into an exported command model, without training.

The exported graph picks the loudest second of its input (frontend.loudest_window, one
GatherElements node) before the log-mel front end. This inserts, right after that node, the step
frontend.set_level defines: the window scaled so that its peak is LEVEL_PEAK (0.275), by at most
LEVEL_MAX_GAIN_DB (+30 dB). Everything else in the file (weights, calibration, input, output,
labels) is kept. The shipped v13.1 is v13's file through this script:

    /usr/bin/python3 scripts/kws/level.py --model <v13 folder> --out <folder>

`train.py --recipe v13.1` exports the same step from PyTorch (model.ExportModel(level=True));
scripts/kws/test_recipes.py checks that the two give the same scores.
"""
import argparse
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from frontend import LEVEL_EPS, LEVEL_MAX_GAIN_DB, LEVEL_PEAK  # noqa: E402

PREFIX = "/level/"


def insert_level(model, peak=LEVEL_PEAK, max_gain_db=LEVEL_MAX_GAIN_DB):
    g = model.graph
    if any(n.name.startswith(PREFIX) for n in g.node):
        raise ValueError("the graph already has the level step")
    windows = [i for i, n in enumerate(g.node) if n.op_type == "GatherElements"]
    if len(windows) != 1:
        raise ValueError(f"expected the loudest-window GatherElements node once, found {len(windows)}")
    at = windows[0]
    window = g.node[at].output[0]
    out = f"{PREFIX}window"
    for n in g.node[at + 1:]:
        for k, name in enumerate(n.input):
            if name == window:
                n.input[k] = out

    def const(name, value):
        g.initializer.append(numpy_helper.from_array(np.array(value, dtype=np.float32), PREFIX + name))
        return PREFIX + name

    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if opset >= 18:
        axes = helper.make_tensor(f"{PREFIX}axes", onnx.TensorProto.INT64, [1], [1])
        g.initializer.append(axes)
        reduce_max = helper.make_node("ReduceMax", [f"{PREFIX}abs", axes.name], [f"{PREFIX}top"], keepdims=1, name=f"{PREFIX}ReduceMax")
    else:
        reduce_max = helper.make_node("ReduceMax", [f"{PREFIX}abs"], [f"{PREFIX}top"], axes=[1], keepdims=1, name=f"{PREFIX}ReduceMax")
    nodes = [
        helper.make_node("Abs", [window], [f"{PREFIX}abs"], name=f"{PREFIX}Abs"),
        reduce_max,
        helper.make_node("Max", [f"{PREFIX}top", const("eps", LEVEL_EPS)], [f"{PREFIX}top1"], name=f"{PREFIX}Max"),
        helper.make_node("Div", [const("peak", peak), f"{PREFIX}top1"], [f"{PREFIX}gain0"], name=f"{PREFIX}Div"),
        helper.make_node("Min", [f"{PREFIX}gain0", const("max_gain", 10 ** (max_gain_db / 20))], [f"{PREFIX}gain"], name=f"{PREFIX}Min"),
        helper.make_node("Mul", [window, f"{PREFIX}gain"], [out], name=f"{PREFIX}Mul"),
    ]
    for k, n in enumerate(nodes):
        g.node.insert(at + 1 + k, n)
    onnx.checker.check_model(model)
    return model


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="an exported model folder (onnx/model.onnx, config.json)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    model = insert_level(onnx.load(os.path.join(a.model, "onnx", "model.onnx")))
    os.makedirs(os.path.join(a.out, "onnx"), exist_ok=True)
    path = os.path.join(a.out, "onnx", "model.onnx")
    onnx.save(model, path)
    if os.path.abspath(a.model) != os.path.abspath(a.out):
        for f in os.listdir(a.model):
            if os.path.isfile(os.path.join(a.model, f)):
                shutil.copy(os.path.join(a.model, f), os.path.join(a.out, f))
    print(f"{path}: {os.path.getsize(path):,} B, peak {LEVEL_PEAK}, at most +{LEVEL_MAX_GAIN_DB:g} dB", file=sys.stderr)


if __name__ == "__main__":
    main()
