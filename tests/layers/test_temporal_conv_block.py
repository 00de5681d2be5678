"""Tests for avtfuse.layers.temporal_conv_block: Conv1D + BN + activation + max-pool over time."""

import keras
import numpy as np
import pytest

from avtfuse.layers import TemporalConvBlock


def numpy_reference(layer, inputs):
    """Conv1D (valid or same), inference-mode batch norm, ReLU and max-pool with NumPy, from the layer's weights."""
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in layer.convolution.weights)
    width = kernel.shape[0]
    if layer.padding == "same":
        inputs = np.pad(inputs, ((0, 0), ((width - 1) // 2, width // 2), (0, 0)))
    steps = inputs.shape[1] - width + 1
    out = np.stack([np.einsum("bkc,kcf->bf", inputs[:, t:t + width], kernel) for t in range(steps)], axis=1) + bias
    if layer.normalization is not None:
        bn = layer.normalization
        gamma, beta, mean, variance = (keras.ops.convert_to_numpy(v) for v in
                                       (bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance))
        out = (out - mean) / np.sqrt(variance + bn.epsilon) * gamma + beta
    out = np.maximum(out, 0.0)
    if layer.pool_size:
        size, stride = layer.pool_size, layer.pool_strides or layer.pool_size
        out = np.stack([out[:, t:t + size].max(axis=1) for t in range(0, out.shape[1] - size + 1, stride)], axis=1)
    return out


def move_statistics(layer, rng):
    bn = layer.normalization
    bn.moving_mean.assign(rng.normal(size=bn.moving_mean.shape).astype("float32"))
    bn.moving_variance.assign(rng.uniform(0.5, 2.0, size=bn.moving_variance.shape).astype("float32"))
    bn.gamma.assign(rng.uniform(0.5, 1.5, size=bn.gamma.shape).astype("float32"))


@pytest.mark.parametrize("padding, pool, steps_out", [("valid", 2, 16), ("same", None, 19), ("valid", None, 17),
                                                      ("same", 2, 18)])
def test_against_numpy(padding, pool, steps_out, rng):
    inputs = rng.normal(size=(2, 19, 5)).astype("float32")
    layer = TemporalConvBlock(6, 3, padding, pool_size=pool, pool_strides=1 if pool else None)
    outputs = keras.ops.convert_to_numpy(layer(inputs))
    move_statistics(layer, rng)
    outputs = keras.ops.convert_to_numpy(layer(inputs, training=False))
    assert outputs.shape == (2, steps_out, 6) == layer.compute_output_shape(inputs.shape)
    np.testing.assert_allclose(outputs, numpy_reference(layer, inputs), rtol=1e-5, atol=1e-5)


def test_audio_block_shortens_by_three_and_pool_stride_defaults_to_size(rng):
    inputs = rng.normal(size=(2, 156, 10)).astype("float32")
    assert TemporalConvBlock(64, pool_size=2, pool_strides=1)(inputs).shape == (2, 153, 64)
    assert TemporalConvBlock(8, pool_size=2)(inputs).shape == (2, 77, 8)


def test_without_batch_norm(rng):
    layer = TemporalConvBlock(4, 3, "same", batch_norm=False)
    inputs = rng.normal(size=(2, 7, 3)).astype("float32")
    outputs = keras.ops.convert_to_numpy(layer(inputs, training=True))
    assert layer.normalization is None and len(layer.weights) == 2
    np.testing.assert_allclose(outputs, numpy_reference(layer, inputs), rtol=1e-5, atol=1e-5)


def test_batch_norm_uses_batch_statistics_in_training(rng):
    layer = TemporalConvBlock(4, 3, "same", activation="linear")
    inputs = rng.normal(2.0, 3.0, size=(4, 9, 3)).astype("float32")
    outputs = keras.ops.convert_to_numpy(layer(inputs, training=True))
    np.testing.assert_allclose(outputs.mean(axis=(0, 1)), 0.0, atol=1e-4)


def test_config_round_trip_and_save_load(layer_checks, rng):
    inputs = rng.normal(size=(2, 12, 5)).astype("float32")
    layer = TemporalConvBlock(6, 3, "valid", pool_size=2, pool_strides=1, name="block")
    layer_checks.config_round_trip(layer, inputs)
    layer_checks.save_load(TemporalConvBlock(6, 3, "same"), inputs)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy, rng):
    inputs = rng.normal(size=(2, 12, 5)).astype("float32")
    reference = TemporalConvBlock(6, pool_size=2, pool_strides=1)
    expected = keras.ops.convert_to_numpy(reference(inputs))
    layer = TemporalConvBlock(6, pool_size=2, pool_strides=1, dtype=policy)
    layer(inputs)
    layer.set_weights(reference.get_weights())
    outputs = layer(inputs)
    compute_dtype = keras.DTypePolicy(policy).compute_dtype
    assert keras.backend.standardize_dtype(outputs.dtype) == compute_dtype
    assert {sub.compute_dtype for sub in layer._flatten_layers()} == {compute_dtype}
    assert {w.dtype for w in layer.weights} == {"float32"}
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.cast(outputs, "float32")), expected,
                               rtol=0.05, atol=0.05)


@pytest.mark.parametrize("kwargs, message", [
    ({"filters": 0}, "filters"),
    ({"filters": 4, "padding": "causal"}, "padding"),
    ({"filters": 4, "batch_norm": 1}, "batch_norm"),
    ({"filters": 4, "pool_strides": 1}, "pool_strides"),
])
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TemporalConvBlock(**kwargs)


def test_too_short_or_wrong_rank_input():
    with pytest.raises(ValueError, match="time steps"):
        TemporalConvBlock(4, 3, "valid", pool_size=2)(np.zeros((1, 3, 2), "float32"))
    with pytest.raises(ValueError, match="batch, time, channels"):
        TemporalConvBlock(4)(np.zeros((1, 3, 2, 2), "float32"))
