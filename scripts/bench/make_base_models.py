#!/usr/bin/env python3
"""Base-size audio classifiers with random weights, in Hub layout, for
benchmarks only (their labels mean nothing):

- wav2vec2: the real dimensions of facebook/wav2vec2-base (7 conv layers of
  512 channels, 768 hidden, 12 layers, 12 heads, FFN 3072, positional conv
  128/16), about 94 M parameters;
- ast: the real dimensions of MIT/ast-finetuned-audioset-10-10-0.4593 (input
  [batch, 1024, 128], 16x16 patches at stride 10 -> 1212 patches + 2 tokens,
  768 hidden, 12 pre-norm layers, 12 heads, FFN 3072, exact GELU, 527 classes),
  about 87 M parameters.

    /usr/bin/python3 scripts/bench/make_base_models.py <output-folder> [wav2vec2|ast]

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


AST_LABELS = [f'class_{i}' for i in range(527)]
AST_FREQ, AST_TIME = (128 - 16) // 10 + 1, (1024 - 16) // 10 + 1  # 12 x 101 patches


def gelu_exact(x):
    # 0.5 x (1 + erf(x / sqrt 2)), as the Hub's AST export has it
    half = op('Mul', [x, const([0.5], np.float32)])
    return op('Mul', [half, op('Add', [op('Erf', [op('Mul', [x, const([2 ** -0.5], np.float32)])]), const([1.0], np.float32)])])


def build_ast():
    x = op('Transpose', [op('Unsqueeze', ['input_values', const([1])])], perm=[0, 1, 3, 2])  # [B, 1, 128, 1024]
    x = op('Conv', [x, weight([HIDDEN, 1, 16, 16]), zeros(HIDDEN)], kernel_shape=[16, 16], strides=[10, 10])
    x = op('Transpose', [op('Reshape', [x, const([0, HIDDEN, -1])])], perm=[0, 2, 1])  # [B, 1212, 768]
    batch = op('Slice', [op('Shape', ['input_values']), const([0]), const([1])])
    tokens = op('Concat', [batch, const([2, HIDDEN])], axis=0)
    x = op('Concat', [op('Expand', [weight([1, 2, HIDDEN]), tokens]), x], axis=1)  # cls + distillation
    x = op('Add', [x, weight([1, AST_FREQ * AST_TIME + 2, HIDDEN])])
    head = HIDDEN // HEADS
    norm = lambda t, size=HIDDEN: op('LayerNormalization', [t, ones(size), zeros(size)], axis=-1, epsilon=1e-12)
    for _ in range(LAYERS):
        h = norm(x)
        split = lambda t: op('Transpose', [op('Reshape', [t, const([0, -1, HEADS, head])])], perm=[0, 2, 1, 3])
        q = split(linear(h, HIDDEN, HIDDEN))
        k = op('Transpose', [split(linear(h, HIDDEN, HIDDEN))], perm=[0, 1, 3, 2])
        v = split(linear(h, HIDDEN, HIDDEN))
        scores = op('Softmax', [op('Div', [op('MatMul', [q, k]), const([head ** 0.5], np.float32)])], axis=-1)
        ctx = op('Reshape', [op('Transpose', [op('MatMul', [scores, v])], perm=[0, 2, 1, 3]), const([0, -1, HIDDEN])])
        x = op('Add', [x, linear(ctx, HIDDEN, HIDDEN)])
        x = op('Add', [x, linear(gelu_exact(linear(norm(x), HIDDEN, FFN)), FFN, HIDDEN)])
    x = norm(x)
    pooled = op('Div', [op('ReduceSum', [op('Slice', [x, const([0]), const([2]), const([1])]), const([1])], keepdims=0),
                        const([2.0], np.float32)])  # (cls + distillation) / 2
    logits = linear(norm(pooled), HIDDEN, len(AST_LABELS))
    nodes.append(helper.make_node('Identity', [logits], ['logits']))
    graph = helper.make_graph(
        nodes,
        'ast-base-random',
        [helper.make_tensor_value_info('input_values', TensorProto.FLOAT, ['batch_size', 1024, 128])],
        [helper.make_tensor_value_info('logits', TensorProto.FLOAT, ['batch_size', len(AST_LABELS)])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)], ir_version=8)


def write_json(path, value):
    with open(path, 'w') as f:
        json.dump(value, f, indent=1)


def save(out, model, config, preprocessor):
    os.makedirs(os.path.join(out, 'onnx'), exist_ok=True)
    onnx.save(model, os.path.join(out, 'onnx', 'model.onnx'))
    labels = config.pop('labels')
    config['id2label'] = {str(i): l for i, l in enumerate(labels)}
    config['label2id'] = {l: i for i, l in enumerate(labels)}
    config['note'] = 'random weights, for benchmarks only'
    write_json(os.path.join(out, 'config.json'), config)
    write_json(os.path.join(out, 'preprocessor_config.json'), preprocessor)
    params = sum(int(np.prod(i.dims)) for i in model.graph.initializer)
    print(f'{out}: {params / 1e6:.1f} M parameters')


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else 'wav2vec2-base-random'
    kind = sys.argv[2] if len(sys.argv) > 2 else 'wav2vec2'
    if kind == 'ast':
        save(out, build_ast(), {
            'model_type': 'audio-spectrogram-transformer', 'architectures': ['ASTForAudioClassification'],
            'hidden_size': HIDDEN, 'num_hidden_layers': LAYERS, 'num_attention_heads': HEADS,
            'intermediate_size': FFN, 'patch_size': 16, 'frequency_stride': 10, 'time_stride': 10,
            'max_length': 1024, 'num_mel_bins': 128, 'labels': AST_LABELS,
        }, {'feature_extractor_type': 'ASTFeatureExtractor', 'feature_size': 1, 'sampling_rate': 16000,
            'num_mel_bins': 128, 'max_length': 1024, 'do_normalize': True, 'mean': -4.2677393, 'std': 4.5689974,
            'padding_side': 'right', 'padding_value': 0.0, 'return_attention_mask': False})
        return
    save(out, build(), {
        'model_type': 'wav2vec2',
        'architectures': ['Wav2Vec2ForSequenceClassification'],
        'hidden_size': HIDDEN, 'num_hidden_layers': LAYERS, 'num_attention_heads': HEADS,
        'intermediate_size': FFN, 'conv_dim': [CONV] * 7,
        'conv_stride': [s for _, s in CONV_LAYERS], 'conv_kernel': [k for k, _ in CONV_LAYERS],
        'labels': LABELS,
    }, {'feature_extractor_type': 'Wav2Vec2FeatureExtractor', 'feature_size': 1, 'sampling_rate': 16000,
        'padding_value': 0.0, 'do_normalize': True, 'return_attention_mask': False})


if __name__ == '__main__':
    main()
