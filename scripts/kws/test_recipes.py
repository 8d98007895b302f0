"""Checks train.py's recipe aliases resolve to the runs they name, without training:
`--recipe v13` (and no --recipe: the shipped v13) must give exactly the arguments and module
settings of `--recipe v7 --blocks 9 --channels-last --epochs 28` (the run the card's rule judged),
and `--recipe v7` alone must still give v7's (5 blocks, default layout, 32 epochs); `--recipe v14`
must be v13 with the eight near-word classes and nothing else, whose fold into `_unknown_` is
checked on random logits and through an ONNX export; `--micro-batch`'s chunked step must give the whole batch's gradient; `--recipe v15` must be v13
with the phoneme head and nothing else, and the head must train and stay out of the exported graph;
`--recipe v13.1` (and no --recipe: the shipped v13.1) must be v13's run with the level step, whose
scores do not depend on the input's level, and level.py must insert the same step into a file
exported without it (the same scores through ONNX Runtime, when the repo's node_modules are there);
ensemble.py's graph must give the members' weighted mean probabilities; `--recipe v16` must be v13.1
with the level step in training too, and nothing else.

    /usr/bin/python3 scripts/kws/test_recipes.py
"""
import io
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train as T  # noqa: E402
import ensemble as E  # noqa: E402
import level as L  # noqa: E402
from frontend import LEVEL_PEAK, set_level  # noqa: E402
from model import DSCNN, LABELS, UNKNOWN_INDEX, ExportModel, TrainModel, fold_near  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def resolved(argv):
    args, name = T.parse_args(argv)
    return name, dict(vars(args)), (T.RECIPE, T.BLOCKS, T.CHANNELS_LAST, T.CODEC, T.ARCH, T.TC_MULT, T.NEAR_CLASSES, T.LEVEL, T.TRAIN_LEVEL)


def main():
    name13, args13, set13 = resolved(["--recipe", "v13"])
    _, args_long, set_long = resolved(["--recipe", "v7", "--blocks", "9", "--channels-last", "--epochs", "28"])
    name_default, args_default, set_default = resolved([])
    name131, args131, set131 = resolved(["--recipe", "v13.1"])
    assert name13 == "v13" and name131 == "v13.1" and name_default == "v13.1", (name13, name131, name_default)
    assert args13 == args_long and set13 == set_long and set13[-2:] == (False, False), (args13, args_long, set13, set_long)
    # v13.1 (the default) is v13's run with the level step, and nothing else.
    assert args_default == args131 and set_default == set131, (args_default, set_default)
    assert args131 == args13 and set131 == set13[:-2] + (True, False), (args131, args13, set131, set13)
    # v16 is v13.1 with the level step in training too, and nothing else.
    name16, args16, set16 = resolved(["--recipe", "v16"])
    assert name16 == "v16" and args16 == args13 and set16 == set13[:-2] + (True, True), (name16, args16, set16)
    assert T.make_model(8).frontend.level and not TrainModel(8, 1).frontend.level
    _, args7, set7 = resolved(["--recipe", "v7"])
    assert set7 == ("v7", 5, False, 0.0, "dscnn", 1.0, 0, False, False) and args7["epochs"] == 32, (set7, args7["epochs"])
    # An explicit option still wins over v13's defaults.
    _, args13e, set13e = resolved(["--recipe", "v13", "--epochs", "3", "--blocks", "5"])
    assert args13e["epochs"] == 3 and set13e[1] == 5 and set13e[2] is True, (args13e["epochs"], set13e)
    # v14 is v13 with the near-word classes, and nothing else.
    name14, args14, set14 = resolved(["--recipe", "v14"])
    assert name14 == "v14" and set14 == set13[:-3] + (8, False, False) and set13[-3] == 0, (name14, set14, set13)
    assert {k: v for k, v in args14.items() if k != "recipe"} == {k: v for k, v in args13.items() if k != "recipe"}, (args14, args13)
    # v15 is v13 with the phoneme head's CTC loss at 0.3, and nothing else; v13 has none.
    name15, args15, set15 = resolved(["--recipe", "v15"])
    assert name15 == "v15" and set15 == set13 and T.PHONE_AUX == 0.3, (name15, set15, set13, T.PHONE_AUX)
    assert {k: v for k, v in args15.items() if k not in ("recipe", "phone_aux")} == \
        {k: v for k, v in args13.items() if k not in ("recipe", "phone_aux")}, (args15, args13)
    resolved(["--recipe", "v13"])
    assert T.PHONE_AUX == 0 and T.MICRO_BATCH == 0 and args13["channels"] == 96, (T.PHONE_AUX, T.MICRO_BATCH, args13)
    check_near()
    check_micro_batch()
    check_phones()
    check_level()
    print("recipes ok: v13.1 (default) = v13 + the level step (same scores at any level; level.py inserts the same step); "
          "v16 = v13.1 + the level step in training; "
          "ensemble.py = the members' mean probabilities; v13 = v7 --blocks 9 --channels-last --epochs 28; v7 unchanged; "
          "v14 = v13 + 8 near-word classes, folded into _unknown_ (softmax and ONNX checked); "
          "--micro-batch: chunked gradients = whole batch's with frozen BatchNorm; "
          "v15 = v13 + a phoneme head (CTC) that is not in the exported graph")


def small_net():
    """train.py's module settings for a 2-block DS-CNN in channels_last, no near classes, whole batches."""
    T.RECIPE, T.BLOCKS, T.CHANNELS_LAST, T.ARCH, T.NEAR_CLASSES, T.MICRO_BATCH = "v7", 2, True, "dscnn", 0, 0


def check_phones():
    """The phoneme head's targets tell the near words from their commands; a step with them trains the
    head and the net (the loss falls over a few steps on fixed inputs; items without a word add nothing);
    and the head is not in the exported graph (the same ONNX initialisers as the net without it)."""
    spelled = T.word_phones(["no", "gnaw", "stop", "stock", "yes", "guess"])
    assert spelled["no"] != spelled["gnaw"] and spelled["stop"] != spelled["stock"], spelled
    assert all(spelled.values()) and T.ipa_tokens("nˈɔː") == ["n", "ɔː"]
    small_net()
    T.PHONE_AUX = 0.3
    T.PHONES, ids = T.phone_ids(spelled)
    torch.manual_seed(0)
    model = T.new_model(16)
    model.train()
    feats = torch.randn(8, 1, 40, 101).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, len(LABELS), (8,))
    phones = [ids["no"], ids["gnaw"], None, [], ids["stop"], ids["stock"], None, ids["yes"]]
    _, frames = model.net.train_outputs(feats)
    assert frames.shape == (8, 50, len(T.PHONES) + 1), frames.shape
    first = float(T.phone_loss(frames, phones))
    assert first > 0 and float(T.phone_loss(frames, [None] * 8)) == 0.0
    # Items without a word do not change the phoneme loss.
    assert abs(float(T.phone_loss(frames[[0, 1, 3]], [phones[0], phones[1], phones[3]])) -
               float(T.phone_loss(frames, [phones[0], phones[1], None, phones[3]] + [None] * 4))) < 1e-5
    opt = torch.optim.AdamW(model.net.parameters(), lr=3e-3)
    before = model.net.phone_head.weight.detach().clone()
    for _ in range(30):
        T.optimiser_step(model, opt, feats, y, phones)
    model.eval()
    with torch.no_grad():
        last = float(T.phone_loss(model.net.train_outputs(feats)[1], phones))
    assert not torch.equal(before, model.net.phone_head.weight) and last < first * 0.7, (first, last)
    net = model.net.to(memory_format=torch.contiguous_format)
    bare = DSCNN(ch=16, blocks=2)
    bare.load_state_dict({k: v for k, v in net.state_dict().items() if not k.startswith("phone_head.")})
    bare.eval()
    x = torch.randn(2, 1, 40, 101)
    assert torch.equal(net(x), bare(x))
    sizes = []
    for net in (net, bare):
        buf = io.BytesIO()
        torch.onnx.export(net, torch.randn(1, 1, 40, 101), buf, input_names=["x"], output_names=["y"], opset_version=17)
        graph = onnx.load_from_string(buf.getvalue()).graph
        sizes.append(sorted(tuple(t.dims) for t in graph.initializer))
    assert sizes[0] == sizes[1] and not any(len(T.PHONES) + 1 in dims for dims in sizes[0]), sizes
    T.PHONE_AUX, T.PHONES = 0.0, []


def check_micro_batch():
    """optimiser_step in chunks sums to the whole batch's gradient: with BatchNorm frozen (eval mode,
    no dropout) the step moves every weight as one whole-batch step does. In training mode the chunks
    normalise over themselves, which is the recipe's one intended difference."""
    small_net()
    torch.manual_seed(0)
    feats = torch.randn(64, 1, 40, 101).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, len(LABELS), (64,))
    stepped = []
    for micro in (0, 16):
        T.MICRO_BATCH = micro
        torch.manual_seed(1)
        model = T.new_model(16)
        model.eval()
        opt = torch.optim.SGD(model.net.parameters(), lr=1.0)
        logits, loss = T.optimiser_step(model, opt, feats, y)
        assert logits.shape == (64, len(LABELS))
        stepped.append((loss, [p.detach().clone() for p in model.net.parameters()]))
    T.MICRO_BATCH = 0
    (loss0, w0), (loss16, w16) = stepped
    assert abs(loss0 - loss16) < 1e-5, (loss0, loss16)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(w0, w16))


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


def check_level():
    """The level step: scores do not change with the input's level while the gain is under its cap
    (and do without the step); quiet input is raised by at most the cap; level.py's ONNX step gives
    the same scores as the PyTorch export of ExportModel(level=True)."""
    small_net()
    torch.manual_seed(0)
    trained = TrainModel(channels=8, blocks=1).eval()
    t = torch.arange(16000) / 16000
    clip = (torch.sin(2 * 3.14159 * 440 * t) * torch.exp(-((t - 0.5) ** 2) / 0.02))[None] * 0.3
    clip = clip + 0.01 * torch.randn(1, 16000)
    with_level, without = ExportModel(trained, level=True).eval(), ExportModel(trained).eval()
    with torch.no_grad():
        levels = [with_level(clip * k) for k in (0.05, 0.3, 1.0 / 0.35)]
        plain = [without(clip * k) for k in (0.05, 1.0)]
        assert all(torch.allclose(levels[0], y, atol=1e-4) for y in levels[1:]), levels
        assert not torch.allclose(plain[0], plain[1], atol=1e-3), plain
        top = float(set_level(clip).abs().max())
        assert abs(top - LEVEL_PEAK) < 1e-6, top
        assert float(set_level(torch.full((1, 16000), 1e-5)).abs().max()) < 1e-5 * 31.7
        # v16 trains on the same step: its front end gives the same features at any level.
        front = TrainModel(channels=8, blocks=1, level=True).frontend
        assert torch.allclose(front(clip * 0.05), front(clip * 3.0), atol=1e-4)
        assert not torch.allclose(trained.frontend(clip * 0.05), trained.frontend(clip * 3.0), atol=1e-2)
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for name, model in (("torch", with_level), ("plain", without)):
            paths[name] = os.path.join(tmp, f"{name}.onnx")
            T.export_onnx(model, paths[name])
        inserted = L.insert_level(onnx.load(paths["plain"]))
        assert sum(n.name.startswith(L.PREFIX) for n in inserted.graph.node) == 6
        paths["level.py"] = os.path.join(tmp, "level.onnx")
        onnx.save(inserted, paths["level.py"])
        out = ort_logits(paths, [(clip * k)[0].tolist() for k in (0.001, 0.05, 1.0, 3.0)], "level.py")
        if out is None:
            return
        a, b, c = (out[k] for k in ("torch", "level.py", "plain"))
        assert np.allclose(a, b, atol=1e-4), (a, b)
        assert np.allclose(a[1], a[2], atol=1e-4) and not np.allclose(c[1], c[2], atol=1e-3), (a, c)

        # ensemble.py: one graph whose logits are the log of the members' mean probabilities, the
        # shared front end kept once.
        for name, seed in (("m0", 1), ("m1", 2)):
            torch.manual_seed(seed)
            member = os.path.join(tmp, name)
            os.makedirs(os.path.join(member, "onnx"))
            T.export_onnx(ExportModel(TrainModel(channels=8, blocks=1).eval()).eval(), os.path.join(member, "onnx", "model.onnx"))
        merged, shared = E.merge([os.path.join(tmp, m, "onnx", "model.onnx") for m in ("m0", "m1")], [0.25, 0.75])
        assert shared > 20, shared  # the loudest window and the log-mel front end, computed once
        onnx.save(merged, os.path.join(tmp, "ens.onnx"))
        paths = {m: os.path.join(tmp, m, "onnx", "model.onnx") for m in ("m0", "m1")}
        paths["ens"] = os.path.join(tmp, "ens.onnx")
        out = ort_logits(paths, [(clip * k)[0].tolist() for k in (0.05, 1.0)], "ensemble.py")
        p0, p1, pe = (np.exp(out[k] - out[k].max(1, keepdims=True)) for k in ("m0", "m1", "ens"))
        p0, p1, pe = (p / p.sum(1, keepdims=True) for p in (p0, p1, pe))
        assert np.allclose(pe, 0.25 * p0 + 0.75 * p1, atol=1e-5) and not np.allclose(p0, p1, atol=1e-3), (pe, p0, p1)


def ort_logits(paths, inputs, what):
    """{name: [len(inputs), labels] logits} of each ONNX file through the repo's onnxruntime-node (the
    runtime the node uses), or None, printed, when it is not installed."""
    ort = os.path.join(REPO, "node_modules", "onnxruntime-node")
    if not os.path.isdir(ort):
        print(f"SKIPPED {what} through ONNX Runtime: {ort} not installed (npm ci)")
        return None
    script = (
        "const ort = require(process.argv[1]); const [paths, inputs] = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "(async () => { const out = {}; for (const [k, p] of Object.entries(paths)) { const s = await ort.InferenceSession.create(p);"
        " out[k] = []; for (const x of inputs) { const r = await s.run({ input_values: new ort.Tensor('float32', Float32Array.from(x), [1, x.length]) });"
        " out[k].push(Array.from(r.logits.data)); } } console.log(JSON.stringify(out)); })();")
    res = subprocess.run(["node", "-e", script, ort], input=json.dumps([paths, inputs]), capture_output=True, text=True, check=True, timeout=120)
    return {k: np.array(v) for k, v in json.loads(res.stdout).items()}


if __name__ == "__main__":
    main()
