"""Tests for avtfuse.layers.mfcc_encoder: CFN-SR's MFCCNet (SYSTEMS.md 4.2 and 6)."""

import keras
import numpy as np
import pytest

from avtfuse.layers.mfcc_encoder import MFCCEncoder


def conv1d_reference(inputs, kernel, bias, padding):
    """PyTorch Conv1d(padding=`padding`) + ReLU in NumPy: [B, T, C] -> [B, T + 2 p - k + 1, F]."""
    padded = np.pad(inputs, ((0, 0), (padding, padding), (0, 0)))
    width = kernel.shape[0]
    steps = padded.shape[1] - width + 1
    windows = np.stack([padded[:, t:t + width] for t in range(steps)], axis=1)  # [B, T', k, C]
    return np.maximum(np.einsum("btkc,kcf->btf", windows, kernel) + bias, 0.0)


def batch_norm_reference(values, layer):
    gamma, beta, mean, variance = (keras.ops.convert_to_numpy(w) for w in layer.weights)
    return (values - mean) / np.sqrt(variance + layer.epsilon) * gamma + beta


def encoder_reference(inputs, encoder):
    """MFCCNet in inference mode from the encoder's own weights."""
    features = inputs.astype("float64")
    for index, (convolution, normalization) in enumerate(zip(encoder.convolutions, encoder.normalizations)):
        kernel, bias = (keras.ops.convert_to_numpy(w) for w in convolution.weights)
        features = conv1d_reference(features, kernel, bias, 2)
        if index == 1:
            steps = features.shape[1] // 8
            features = features[:, :steps * 8].reshape(len(features), steps, 8, -1).max(axis=2)
        features = batch_norm_reference(features, normalization)
    return features


def randomize_batch_norm(encoder, rng):
    for normalization in encoder.normalizations:
        width = normalization.gamma.shape[0]
        normalization.set_weights([rng.normal(1.0, 0.2, width), rng.normal(0.0, 0.2, width),
                                   rng.normal(0.0, 0.5, width), rng.uniform(0.5, 2.0, width)])


def test_paper_shape(rng):
    """[2, 212, 13] -> [2, 26, 64]: 212 -> 210 -> 208 -> 26 -> 26 (SYSTEMS.md 6)."""
    encoder = MFCCEncoder()
    outputs = encoder(rng.normal(size=(2, 212, 13)).astype("float32"))
    assert outputs.shape == (2, 26, 64)
    assert encoder.compute_output_shape((None, 212, 13)) == (None, 26, 64)
    assert [c.kernel.shape for c in encoder.convolutions] == [(7, 13, 32), (7, 32, 32), (5, 32, 64)]
    # Trainable parameters as PyTorch counts them (MFCCNet without its head): 20,704.
    assert sum(int(np.prod(w.shape)) for w in encoder.trainable_weights) == 20_704


def test_matches_numpy_reference(rng):
    inputs = rng.normal(size=(2, 30, 5)).astype("float32")
    encoder = MFCCEncoder(filters=(3, 4, 6))
    encoder(inputs)
    randomize_batch_norm(encoder, rng)
    outputs = keras.ops.convert_to_numpy(encoder(inputs, training=False))
    assert outputs.shape == (2, 3, 6) == encoder.compute_output_shape(inputs.shape)  # (30 - 4) // 8 = 3
    np.testing.assert_allclose(outputs, encoder_reference(inputs, encoder), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("steps, expected", [(12, 1), (19, 1), (20, 2), (None, None)])
def test_other_lengths(steps, expected, rng):
    encoder = MFCCEncoder(filters=(2, 3, 4))
    assert encoder.compute_output_shape((1, steps, 13)) == (1, expected, 4)
    if steps is not None:
        assert encoder(rng.normal(size=(1, steps, 13)).astype("float32")).shape == (1, expected, 4)


def test_too_short_fails_with_one_line_error(rng):
    with pytest.raises(ValueError, match="MFCCEncoder") as error:
        MFCCEncoder()(rng.normal(size=(1, 11, 13)).astype("float32"))
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="MFCCEncoder"):
        MFCCEncoder()(keras.Input((11, 13)))


def test_dropout_only_in_training(rng):
    inputs = rng.normal(size=(2, 40, 5)).astype("float32")
    encoder = MFCCEncoder(filters=(3, 4, 6), dropout=0.5)
    inference = keras.ops.convert_to_numpy(encoder(inputs))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(encoder(inputs, training=False)), inference)
    first, second = (keras.ops.convert_to_numpy(encoder(inputs, training=True)) for _ in range(2))
    assert not np.allclose(first, second)  # dropout draws differ; batch statistics are the same


@pytest.mark.parametrize("kwargs, message", [
    ({"filters": (32, 64)}, "filters"),
    ({"filters": (32, 0, 64)}, "filters"),
    ({"dropout": 1.0}, "dropout"),
    ({"dropout": True}, "dropout"),
])
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MFCCEncoder(**kwargs)


def test_invalid_input_rank():
    with pytest.raises(ValueError, match="MFCCEncoder input"):
        MFCCEncoder()(keras.Input((212,)))


def test_serialisation(layer_checks, rng):
    inputs = rng.normal(size=(2, 24, 13)).astype("float32")
    layer_checks.config_round_trip(MFCCEncoder(filters=(3, 4, 5), dropout=0.3, name="mfcc"), inputs)
    layer_checks.save_load(MFCCEncoder(filters=(3, 4, 5)), inputs)
    layer_checks.save_load(MFCCEncoder(), rng.normal(size=(2, 212, 13)).astype("float32"))
