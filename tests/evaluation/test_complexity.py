"""Tests for avtfuse.evaluation.complexity against hand counts of multiply-accumulates."""

import keras
import pytest
import tensorflow as tf

from avtfuse.evaluation.complexity import complexity_markdown, complexity_rows, count_macs, flops_by_op_type


def built(layer, shape):
    layer.build(shape)
    return layer


def test_dense_profiler_counts_bias_but_macs_do_not():
    dense = built(keras.layers.Dense(4), (1, 8))
    # The profiler: 2 FLOPs per multiply-add, 1 per bias element.
    assert flops_by_op_type(dense, tf.TensorSpec([1, 8])) == {"MatMul": 64, "BiasAdd": 4}
    assert count_macs(dense, tf.TensorSpec([1, 8])) == 8 * 4
    assert count_macs(dense, [tf.TensorSpec([1, 8])]) == 32


def test_dense_on_a_sequence_counts_every_step():
    dense = built(keras.layers.Dense(4, activation="relu"), (1, 5, 8))
    assert count_macs(dense, tf.TensorSpec([1, 5, 8])) == 5 * 8 * 4


def test_conv1d_same_padding():
    conv = built(keras.layers.Conv1D(6, 3, padding="same"), (1, 10, 5))
    # Every output step: kernel 3 x 5 input channels x 6 filters (padded taps included).
    assert count_macs(conv, tf.TensorSpec([1, 10, 5])) == 10 * 3 * 5 * 6


def test_attention_matmul_and_einsum():
    t, d = 7, 16

    def scores(q, k):
        return keras.ops.matmul(q, k)

    def einsum(q, k):
        return keras.ops.einsum("btd,bsd->bts", q, k)

    assert count_macs(scores, [tf.TensorSpec([1, t, d]), tf.TensorSpec([1, d, t])]) == t * t * d
    assert flops_by_op_type(einsum, [tf.TensorSpec([1, t, d]), tf.TensorSpec([1, 9, d])]) == {}
    assert count_macs(einsum, [tf.TensorSpec([1, t, d]), tf.TensorSpec([1, 9, d])]) == t * 9 * d


def test_keras_multi_head_attention():
    attention = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    steps, width, inner = 5, 8, 2 * 4
    projections = 3 * steps * width * inner + steps * inner * width
    products = 2 * 2 * steps * steps * 4  # scores and weighted values, per head
    assert count_macs(lambda x: attention(x, x), tf.TensorSpec([1, steps, width])) == projections + products


def test_dict_inputs():
    inputs = {"a": keras.Input((3,), name="a"), "b": keras.Input((5,), name="b")}
    outputs = keras.layers.Dense(2)(keras.layers.Concatenate()([inputs["a"], inputs["b"]]))
    model = keras.Model(inputs, outputs)
    specs = {"a": tf.TensorSpec([1, 3]), "b": tf.TensorSpec([1, 5])}
    assert count_macs(model, specs) == 8 * 2


def test_rows_and_markdown():
    model = keras.Sequential([keras.Input((10, 5)), keras.layers.Conv1D(6, 3, padding="same", use_bias=False),
                              keras.layers.Dropout(0.5), keras.layers.Dense(4)])
    layer = built(keras.layers.Dense(3), (1, 4))
    rows = complexity_rows([
        ("one layer", layer, tf.TensorSpec([1, 4])),
        ("whole model (training)", model, (lambda x: model(x, training=True), [tf.TensorSpec([1, 10, 5])])),
        ("whole model (inference)", model, [tf.TensorSpec([1, 10, 5])]),
    ])
    model_macs = 10 * 3 * 5 * 6 + 10 * 6 * 4
    assert rows == [
        {"name": "one layer", "parameters": 4 * 3 + 3, "macs": 12},
        {"name": "whole model (training)", "parameters": 3 * 5 * 6 + 6 * 4 + 4, "macs": model_macs},
        {"name": "whole model (inference)", "parameters": 3 * 5 * 6 + 6 * 4 + 4, "macs": model_macs},
    ]
    lines = complexity_markdown(rows).splitlines()
    assert lines[0] == "|  | parameters (M) | MACs (G) | parameters | MACs |"
    assert lines[2] == "| one layer | 0.00 | 0.00 | 15 | 12 |"
    assert len(lines) == 5


def test_refuses_what_the_profiler_miscounts():
    gru = keras.layers.GRU(4)
    with pytest.raises(ValueError, match="function"):
        count_macs(gru, tf.TensorSpec([1, 5, 8]))
    inner = tf.function(lambda x: tf.matmul(x, x, transpose_b=True))
    with pytest.raises(ValueError, match="function"):
        count_macs(lambda x: inner(x), tf.TensorSpec([1, 5, 8]))


def test_input_spec_errors():
    dense = built(keras.layers.Dense(4), (None, 8))
    with pytest.raises(ValueError, match="input_specs"):
        count_macs(dense, tf.TensorSpec([None, 8]))
    with pytest.raises(ValueError, match="input_specs"):
        count_macs(dense, [1, 8])
    with pytest.raises(ValueError, match="entries"):
        complexity_rows([("dense", dense)])


def test_training_step_counts_the_gradients_that_run():
    """A conv's kernel gradient and input gradient each cost its forward MACs; a first layer's input gradient
    is not needed (not computed), nor is anything the results do not use."""
    first = built(keras.layers.Conv2D(4, 3, strides=2), (1, 9, 9, 3))
    second = built(keras.layers.Conv2D(5, 3, padding="same"), (1, 4, 4, 4))
    dense = built(keras.layers.Dense(2), (1, 80))
    unused = built(keras.layers.Dense(7), (1, 80))
    forward = {"first": 4 * 4 * 9 * 3 * 4, "second": 4 * 4 * 9 * 4 * 5, "dense": 80 * 2}

    def step(images):
        with tf.GradientTape() as tape:
            features = keras.ops.reshape(second(first(images)), (1, 80))
            unused(features)
            loss = keras.ops.sum(dense(features))
        return loss, tape.gradient(loss, first.trainable_weights + second.trainable_weights + dense.trainable_weights)

    expected = 2 * forward["first"] + 3 * forward["second"] + 3 * forward["dense"]
    assert count_macs(step, tf.TensorSpec([1, 9, 9, 3])) == expected


def test_transposed_convolution_counts_its_scatter():
    transposed = built(keras.layers.Conv2DTranspose(3, 3, strides=2), (1, 4, 4, 6))
    # Every input element meets the 3 x 3 x 3 filter taps of its output channels.
    assert count_macs(transposed, tf.TensorSpec([1, 4, 4, 6])) == 4 * 4 * 6 * 3 * 3 * 3
