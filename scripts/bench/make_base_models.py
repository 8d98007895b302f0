#!/usr/bin/env python3
"""A base-size wav2vec2-shaped audio classifier with random weights, in Hub layout,
for benchmarks only (its labels mean nothing): the real dimensions of
facebook/wav2vec2-base (7 conv layers of 512 channels, 768 hidden, 12 layers,
12 heads, FFN 3072, positional conv 128/16), about 94 M parameters.

    /usr/bin/python3 scripts/bench/make_base_models.py <output-folder>

Built with onnx.helper and numpy only (no torch), opset 17, fixed seed.
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HIDDEN, LAYERS, HEADS, FFN, CONV = 768, 12, 12, 3072, 512
CONV_LAYERS = [(10, 5)] + [(3, 2)] * 4 + [(2, 2)] * 2
LABELS = ['yes', 'no', 'up', 'down', 'left', 'right', 'stop', 'go']

rng = np.random.default_rng(0)
inits = []
nodes = []
counter = [0]


def name(prefix):
    counter[0] += 1
    return f'{prefix}_{counter[0]}'


def weight(shape, scale=0.02):
    n = name('w')
    inits.append(numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), n))
    return n


def const(values, dtype=np.int64):
    n = name('c')
    inits.append(numpy_helper.from_array(np.array(values, dtype=dtype), n))
    return n


def op(kind, inputs, **attrs):
    out = name(kind.lower())
    nodes.append(helper.make_node(kind, inputs, [out], **attrs))
    return out


def gelu(x):
    # x * sigmoid(1.702 x): the usual fast GELU
    return op('Mul', [x, op('Sigmoid', [op('Mul', [x, const([1.702], np.float32)])])])


def layer_norm(x, size):
    return op('LayerNormalization', [x, ones(size), zeros(size)], axis=-1, epsilon=1e-5)


def ones(size):
    n = name('ones')
    inits.append(numpy_helper.from_array(np.ones(size, np.float32), n))
    return n


def zeros(size):
    n = name('zeros')
    inits.append(numpy_helper.from_array(np.zeros(size, np.float32), n))
    return n


def linear(x, fan_in, fan_out):
    return op('Add', [op('MatMul', [x, weight([fan_in, fan_out])]), zeros(fan_out)])


def build():
    x = op('Unsqueeze', ['input_values', const([1])])  # [1, 1, T]
    channels = 1
    for k, s in CONV_LAYERS:
        x = gelu(op('Conv', [x, weight([CONV, channels, k], 0.05)], kernel_shape=[k], strides=[s]))
        channels = CONV
    x = op('Transpose', [x], perm=[0, 2, 1])  # [1, F, 512]
    x = linear(layer_norm(x, CONV), CONV, HIDDEN)  # feature projection
    # positional convolution (kernel 128, 16 groups), as wav2vec2's encoder adds
    pos = op('Transpose', [x], perm=[0, 2, 1])
    pos = op('Conv', [pos, weight([HIDDEN, HIDDEN // 16, 128], 0.01)], kernel_shape=[128], pads=[64, 64], group=16)
    pos = op('Slice', [pos, const([0]), const([-1]), const([2])])
    x = op('Add', [x, op('Transpose', [gelu(pos)], perm=[0, 2, 1])])
    x = layer_norm(x, HIDDEN)
    head = HIDDEN // HEADS
    for _ in range(LAYERS):
        split = lambda t: op('Transpose', [op('Reshape', [t, const([1, -1, HEADS, head])])], perm=[0, 2, 1, 3])
        q = split(linear(x, HIDDEN, HIDDEN))
        k = op('Transpose', [split(linear(x, HIDDEN, HIDDEN))], perm=[0, 1, 3, 2])
        v = split(linear(x, HIDDEN, HIDDEN))
        scores = op('Softmax', [op('Mul', [op('MatMul', [q, k]), const([head ** -0.5], np.float32)])], axis=-1)
        ctx = op('Reshape', [op('Transpose', [op('MatMul', [scores, v])], perm=[0, 2, 1, 3]), const([1, -1, HIDDEN])])
        x = layer_norm(op('Add', [x, linear(ctx, HIDDEN, HIDDEN)]), HIDDEN)
        ff = linear(gelu(linear(x, HIDDEN, FFN)), FFN, HIDDEN)
        x = layer_norm(op('Add', [x, ff]), HIDDEN)
    pooled = op('ReduceMean', [x], axes=[1], keepdims=0)  # [1, 768]
    logits = linear(linear(pooled, HIDDEN, 256), 256, len(LABELS))
    nodes.append(helper.make_node('Identity', [logits], ['logits']))
    graph = helper.make_graph(
        nodes,
        'wav2vec2-base-random',
        [helper.make_tensor_value_info('input_values', TensorProto.FLOAT, [1, 'samples'])],
        [helper.make_tensor_value_info('logits', TensorProto.FLOAT, [1, len(LABELS)])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)], ir_version=8)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else 'wav2vec2-base-random'
    os.makedirs(os.path.join(out, 'onnx'), exist_ok=True)
    model = build()
    onnx.save(model, os.path.join(out, 'onnx', 'model.onnx'))
    params = sum(int(np.prod(i.dims)) for i in model.graph.initializer)
    config = {
        'model_type': 'wav2vec2',
        'architectures': ['Wav2Vec2ForSequenceClassification'],
        'hidden_size': HIDDEN, 'num_hidden_layers': LAYERS, 'num_attention_heads': HEADS,
        'intermediate_size': FFN, 'conv_dim': [CONV] * 7,
        'conv_stride': [s for _, s in CONV_LAYERS], 'conv_kernel': [k for k, _ in CONV_LAYERS],
        'id2label': {str(i): l for i, l in enumerate(LABELS)},
        'label2id': {l: i for i, l in enumerate(LABELS)},
        'note': 'random weights, for benchmarks only',
    }
    with open(os.path.join(out, 'config.json'), 'w') as f:
        json.dump(config, f, indent=1)
    with open(os.path.join(out, 'preprocessor_config.json'), 'w') as f:
        json.dump({'feature_extractor_type': 'Wav2Vec2FeatureExtractor', 'feature_size': 1, 'sampling_rate': 16000,
                   'padding_value': 0.0, 'do_normalize': True, 'return_attention_mask': False}, f, indent=1)
    print(f'{out}: {params / 1e6:.1f} M parameters')


if __name__ == '__main__':
    main()
