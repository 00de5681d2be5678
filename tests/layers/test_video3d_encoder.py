"""Tests for avtfuse.layers.video3d_encoder: the stand-in for CFN-SR's 3-D ResNeXt-50 (SYSTEMS.md 4.1)."""

import keras
import numpy as np
import pytest

from avtfuse.layers.video3d_encoder import Video3DEncoder


def test_paper_shape(rng):
    """16 x 112 x 112 x 3 frames -> [2, 7, 7, 256], the grid of the 3-D ResNeXt's layer4."""
    encoder = Video3DEncoder()
    outputs = encoder(rng.uniform(size=(1, 16, 112, 112, 3)).astype("float32"))
    assert outputs.shape == (1, 2, 7, 7, 256)
    assert encoder.compute_output_shape((None, 16, 112, 112, 3)) == (None, 2, 7, 7, 256)
    assert np.all(keras.ops.convert_to_numpy(outputs) >= 0.0)  # ReLU last
    # Four bias-free 3x3x3 convolutions (1,163,808) + four batch norms (4 x 480).
    assert encoder.count_params() == 27 * (3 * 32 + 32 * 64 + 64 * 128 + 128 * 256) + 4 * 480


def test_matches_keras_composition(rng):
    """Each stage is Conv3D("same", no bias) -> BatchNormalization (inference) -> ReLU."""
    inputs = rng.uniform(size=(2, 4, 8, 8, 3)).astype("float32")
    encoder = Video3DEncoder(widths=(4, 5), strides=((1, 2, 2), (2, 2, 2)))
    encoder(inputs)
    for normalization in encoder.normalizations:
        width = normalization.gamma.shape[0]
        normalization.set_weights([rng.normal(1.0, 0.2, width), rng.normal(0.0, 0.2, width),
                                   rng.normal(0.0, 0.5, width), rng.uniform(0.5, 2.0, width)])
    expected = inputs
    for convolution, normalization in zip(encoder.convolutions, encoder.normalizations):
        kernel = keras.ops.convert_to_numpy(convolution.kernel)
        stride = convolution.strides
        gamma, beta, mean, variance = (keras.ops.convert_to_numpy(w) for w in normalization.weights)
        features = keras.ops.conv(expected, kernel, strides=stride, padding="same")
        expected = np.maximum((keras.ops.convert_to_numpy(features) - mean) / np.sqrt(variance + 1e-5) * gamma
                              + beta, 0.0)
    outputs = keras.ops.convert_to_numpy(encoder(inputs, training=False))
    assert outputs.shape == (2, 2, 2, 2, 5)
    np.testing.assert_allclose(outputs, expected, rtol=1e-5, atol=1e-5)


def test_odd_sizes_round_up(rng):
    encoder = Video3DEncoder(widths=(2, 3), strides=((1, 2, 2), (2, 2, 2)))
    assert encoder.compute_output_shape((None, 5, 9, 7, 3)) == (None, 3, 3, 2, 3)
    assert encoder(rng.uniform(size=(1, 5, 9, 7, 3)).astype("float32")).shape == (1, 3, 3, 2, 3)


@pytest.mark.parametrize("kwargs, message", [
    ({"widths": ()}, "widths"),
    ({"widths": (4, 0)}, "widths"),
    ({"widths": (4, 5), "strides": ((1, 2, 2),)}, "strides"),
    ({"widths": (4,), "strides": ((1, 2),)}, "strides"),
    ({"widths": (4,), "strides": ((1, 0, 2),)}, "strides"),
    ({"kernel_size": 0}, "kernel_size"),
])
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Video3DEncoder(**kwargs)


def test_invalid_input_rank():
    with pytest.raises(ValueError, match="Video3DEncoder input"):
        Video3DEncoder()(keras.Input((16, 112, 3)))


def test_serialisation(layer_checks, rng):
    inputs = rng.uniform(size=(2, 4, 8, 8, 3)).astype("float32")
    strides = ((1, 2, 2), (2, 1, 1))
    layer_checks.config_round_trip(Video3DEncoder(widths=(2, 3), strides=strides, name="video"), inputs)
    layer_checks.save_load(Video3DEncoder(widths=(2, 3), strides=strides, kernel_size=1), inputs)
