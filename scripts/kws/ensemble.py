"""One ONNX graph that averages several command models' probabilities (an ensemble).

Each member is an exported model folder (onnx/model.onnx + config.json) with the same input
(`input_values`, raw 16 kHz waveform), output (`logits`) and labels. The merged graph runs every
member on the same input, turns each member's logits into probabilities (softmax), takes their
weighted mean and returns its log as `logits`, so the node's softmax gives back the mean
probabilities: the folder is a drop-in model for the node (same input, output and labels).

The members' identical parts are kept once: identical initialisers (the log-mel front end's DFT
kernels and filterbank) are stored once, then any node with the same operator, attributes and
inputs as an earlier one (the front end, computed from the same waveform) is dropped and its
outputs read from the earlier node. So two members cost one front end and two classifiers, in
file size and in time.

    /usr/bin/python3 scripts/kws/ensemble.py --model A --model B [--weight 0.5 --weight 0.5] --out DIR
"""
import argparse
import hashlib
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper


def _prefixed(model, prefix, keep):
    """The graph's nodes and initialisers with every name but `keep` (the input) prefixed."""
    g = model.graph

    def rename(name):
        return name if (not name or name in keep) else f"{prefix}{name}"

    nodes = []
    for n in g.node:
        m = onnx.NodeProto()
        m.CopyFrom(n)
        m.name = rename(n.name) if n.name else ""
        del m.input[:]
        m.input.extend(rename(i) for i in n.input)
        del m.output[:]
        m.output.extend(rename(o) for o in n.output)
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in n.attribute):
            raise ValueError(f"node {n.name} ({n.op_type}) has a subgraph: not supported")
        nodes.append(m)
    inits = []
    for t in g.initializer:
        u = onnx.TensorProto()
        u.CopyFrom(t)
        u.name = rename(t.name)
        inits.append(u)
    return nodes, inits, rename(g.output[0].name)


def _tensor_key(t):
    arr = numpy_helper.to_array(t)
    return (arr.dtype.str, arr.shape, hashlib.sha256(arr.tobytes()).hexdigest())


def _node_key(n):
    attrs = tuple(sorted((a.name, a.SerializeToString()) for a in n.attribute))
    return (n.domain, n.op_type, tuple(n.input), attrs, len(n.output))


def merge(paths, weights):
    models = [onnx.load(p) for p in paths]
    first = models[0].graph
    in_name, out_name = first.input[0].name, first.output[0].name
    for p, m in zip(paths, models):
        if m.graph.input[0].name != in_name or m.graph.output[0].name != out_name or len(m.graph.input) != 1:
            raise ValueError(f"{p}: not the same input and output as {paths[0]}")

    # Every member's nodes and initialisers, prefixed; identical initialisers kept once.
    nodes, inits, outs, alias, by_key = [], {}, [], {}, {}
    for i, m in enumerate(models):
        n, ts, out = _prefixed(m, f"m{i}/", {in_name})
        for t in ts:
            key = _tensor_key(t)
            if key in by_key:
                alias[t.name] = by_key[key]
            else:
                by_key[key] = t.name
                inits[t.name] = t
        nodes.extend(n)
        outs.append(out)

    # Common subexpressions: a node whose operator, attributes and (resolved) inputs match an
    # earlier node's is dropped; its outputs are read from that node. Members' nodes are each in
    # topological order, so resolving inputs in sequence is enough.
    kept, seen = [], {}
    for n in nodes:
        resolved = [alias.get(x, x) for x in n.input]
        del n.input[:]
        n.input.extend(resolved)
        key = _node_key(n)
        if key in seen:
            for mine, theirs in zip(n.output, seen[key].output):
                alias[mine] = theirs
            continue
        seen[key] = n
        kept.append(n)
    outs = [alias.get(o, o) for o in outs]

    # Weighted mean of the members' probabilities, returned as log-probabilities.
    tail, probs = [], []
    for i, o in enumerate(outs):
        p = f"ens/p{i}"
        tail.append(helper.make_node("Softmax", [o], [p], axis=-1, name=f"ens/softmax{i}"))
        w = f"ens/w{i}"
        inits[w] = numpy_helper.from_array(np.array(weights[i], dtype=np.float32), w)
        tail.append(helper.make_node("Mul", [p, w], [f"{p}w"], name=f"ens/weight{i}"))
        probs.append(f"{p}w")
    total = probs[0]
    for i, p in enumerate(probs[1:], 1):
        tail.append(helper.make_node("Add", [total, p], [f"ens/sum{i}"], name=f"ens/add{i}"))
        total = f"ens/sum{i}"
    eps = "ens/eps"
    inits[eps] = numpy_helper.from_array(np.array(1e-12, dtype=np.float32), eps)
    tail.append(helper.make_node("Max", [total, eps], ["ens/floored"], name="ens/floor"))
    tail.append(helper.make_node("Log", ["ens/floored"], [out_name], name="ens/log"))

    used = {x for n in kept + tail for x in n.input}
    graph = helper.make_graph(kept + tail, "ensemble", [first.input[0]], [first.output[0]],
                              [t for name, t in inits.items() if name in used])
    opset = max(op.version for m in models for op in m.opset_import if op.domain in ("", "ai.onnx"))
    merged = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                               producer_name="n8n-nodes-audio-classification ensemble.py")
    merged.ir_version = models[0].ir_version
    onnx.checker.check_model(merged)
    return merged, len(nodes) - len(kept)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True, help="an exported model folder (repeat)")
    ap.add_argument("--weight", action="append", type=float, help="one per --model (default: equal)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    if len(a.model) < 2:
        ap.error("an ensemble needs at least two --model")
    weights = a.weight or [1.0 / len(a.model)] * len(a.model)
    if len(weights) != len(a.model) or any(w <= 0 for w in weights):
        ap.error("give one positive --weight per --model")
    total = sum(weights)
    weights = [w / total for w in weights]
    merged, dropped = merge([os.path.join(m, "onnx", "model.onnx") for m in a.model], weights)
    os.makedirs(os.path.join(a.out, "onnx"), exist_ok=True)
    out = os.path.join(a.out, "onnx", "model.onnx")
    onnx.save(merged, out)
    for f in ("config.json", "preprocessor_config.json"):
        src = os.path.join(a.model[0], f)
        if os.path.exists(src):
            shutil.copy(src, os.path.join(a.out, f))
    print(f"{out}: {os.path.getsize(out):,} B, {len(a.model)} members (weights {', '.join(f'{w:.3f}' for w in weights)}), "
          f"{dropped} shared nodes computed once", file=sys.stderr)


if __name__ == "__main__":
    main()
