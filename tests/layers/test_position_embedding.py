"""Tests for avtfuse.layers.position_embedding: the fairseq sinusoid on the real steps of a padded sequence."""

import math

import keras
import numpy as np
import pytest

from avtfuse.layers.position_embedding import SinusoidalPositionEmbedding

# Sample 0: 4 real steps then padding; sample 1: a padded step inside; sample 2: all padding.
MASK = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 0, 1, 1, 0], [0, 0, 0, 0, 0, 0]], "float32")


def numpy_embedding(mask, units):
    """fairseq's `get_embedding` rows at positions cumsum(mask) (1, 2, … on real steps), zero on padding."""
    half = units // 2
    frequencies = np.exp(np.arange(half) * -(math.log(10000.0) / (half - 1)))
    positions = np.cumsum(mask, axis=1)[..., None]
    table = np.concatenate([np.sin(positions * frequencies), np.cos(positions * frequencies)], axis=-1)
    if units % 2:
        table = np.concatenate([table, np.zeros_like(table[..., :1])], axis=-1)
    return table * mask[..., None]


@pytest.mark.parametrize("units", [8, 7])
def test_against_numpy(units):
    embedding = keras.ops.convert_to_numpy(SinusoidalPositionEmbedding(units)(MASK))
    assert embedding.shape == (3, 6, units)
    np.testing.assert_allclose(embedding, numpy_embedding(MASK, units), rtol=1e-5, atol=1e-6)
    half = units // 2
    # Layout: first half sin, second half cos; the step after the inner padding is position 3.
    np.testing.assert_allclose(embedding[0, 0, [0, half]], [math.sin(1.0), math.cos(1.0)], rtol=1e-6)
    np.testing.assert_allclose(embedding[1, 3, [0, half]], [math.sin(3.0), math.cos(3.0)], rtol=1e-6)
    assert not embedding[MASK == 0].any()
    if units % 2:
        assert not embedding[..., -1].any()


def test_no_weights_and_symbolic_shape():
    layer = SinusoidalPositionEmbedding(8)
    assert layer(keras.Input((6,))).shape == (None, 6, 8)
    assert layer.weights == []


def test_config_and_save_load(layer_checks):
    layer_checks.config_round_trip(SinusoidalPositionEmbedding(6, name="position"), MASK)
    layer_checks.save_load(SinusoidalPositionEmbedding(6), MASK)


def test_mixed_float16():
    """Positions up to 400 (the paper's audio length) stay accurate; the output is in the compute dtype."""
    mask = np.ones((1, 400), "float32")
    embedding = SinusoidalPositionEmbedding(16, dtype="mixed_float16")(mask)
    assert keras.backend.standardize_dtype(embedding.dtype) == "float16"
    embedding = keras.ops.convert_to_numpy(keras.ops.cast(embedding, "float32"))
    assert np.all(np.isfinite(embedding))
    np.testing.assert_allclose(embedding, numpy_embedding(mask, 16), atol=2e-3)


@pytest.mark.parametrize("units", [0, 3, 2.5])
def test_invalid_units(units):
    with pytest.raises(ValueError, match="units"):
        SinusoidalPositionEmbedding(units)
