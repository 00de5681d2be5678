"""Tests for avtfuse.layers.causal_transformer_encoder: the MulT / fairseq encoder of CFN-SR's audio steps
(SYSTEMS.md 4.2 item 1)."""

import math

import keras
import numpy as np
import pytest

from avtfuse.layers.causal_transformer_encoder import CausalTransformerEncoder
from avtfuse.layers.transformer_block import TransformerBlock


def to_numpy(value):
    return keras.ops.convert_to_numpy(keras.ops.cast(value, "float32"))


def small(**kwargs):
    return CausalTransformerEncoder(**{"num_layers": 2, "num_heads": 2, "ff_dim": 12, **kwargs})


def fairseq_positions(steps, units):
    """fairseq's sinusoidal table at positions 1 … steps: [sin(p f), cos(p f)], f_i = 10000^(-i / (half - 1))."""
    half = units // 2
    frequencies = np.exp(np.arange(half) * -(math.log(10000.0) / (half - 1)))
    angles = np.arange(1, steps + 1)[:, None] * frequencies[None, :]
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)


def test_parameter_count_at_paper_size(rng):
    """d = 64, 8 heads, FFN 256, 5 layers: 5 x 49,984 + 128 = 250,048."""
    encoder = CausalTransformerEncoder()
    outputs = encoder(rng.normal(size=(2, 26, 64)).astype("float32"))
    assert outputs.shape == (2, 26, 64)
    assert [block.count_params() for block in encoder.blocks] == [49_984] * 5
    assert encoder.count_params() == 250_048
    block = encoder.blocks[0]
    assert (block.num_heads, block.ff_dim, block.dropout, block.hidden_dropout) == (8, 256, 0.1, 0.1)
    assert block.norm_first and block.causal
    assert encoder.embed_dropout == 0.3


def test_matches_composition(rng):
    """Inference: LN(blocks(x · sqrt(d) + PE)), PE the fairseq table at positions 1 … T."""
    inputs = rng.normal(size=(2, 5, 8)).astype("float32")
    encoder = small()
    outputs = to_numpy(encoder(inputs))
    tokens = inputs * math.sqrt(8) + fairseq_positions(5, 8)[None].astype("float32")
    for block in encoder.blocks:
        tokens = block(tokens)
    np.testing.assert_allclose(outputs, to_numpy(encoder.output_norm(tokens)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("step", [0, 3])
def test_causal(step, rng):
    """Changing steps after t leaves the outputs up to t unchanged; the non-causal encoder changes them."""
    inputs = rng.normal(size=(2, 6, 8)).astype("float32")
    changed = inputs.copy()
    changed[:, step + 1:] = rng.normal(size=changed[:, step + 1:].shape)
    encoder = small()
    before, after = (to_numpy(encoder(x)) for x in (inputs, changed))
    np.testing.assert_allclose(after[:, :step + 1], before[:, :step + 1], rtol=1e-5, atol=1e-5)
    assert not np.allclose(after[:, step + 1:], before[:, step + 1:])
    full = small(causal=False)
    full(inputs)
    full.set_weights(encoder.get_weights())
    before, after = (to_numpy(full(x)) for x in (inputs, changed))
    assert not np.allclose(after[:, :step + 1], before[:, :step + 1], atol=1e-4)


def test_dropout_only_in_training(rng):
    inputs = rng.normal(size=(2, 5, 8)).astype("float32")
    encoder = small(dropout=0.1, embed_dropout=0.3)
    inference = to_numpy(encoder(inputs))
    np.testing.assert_array_equal(to_numpy(encoder(inputs, training=False)), inference)
    np.testing.assert_array_equal(to_numpy(encoder(inputs)), inference)
    assert not np.allclose(to_numpy(encoder(inputs, training=True)), inference)


def test_mixed_float16_finite(rng):
    inputs = (rng.normal(size=(2, 6, 8)) * 10.0).astype("float32")
    reference = small()
    expected = to_numpy(reference(inputs))
    encoder = small(dtype="mixed_float16")
    encoder(inputs)
    encoder.set_weights(reference.get_weights())
    outputs = encoder(inputs)
    assert keras.backend.standardize_dtype(outputs.dtype) == "float16"
    assert {w.dtype for w in encoder.weights} == {"float32"}
    outputs = to_numpy(outputs)
    assert np.all(np.isfinite(outputs))
    np.testing.assert_allclose(outputs, expected, atol=0.05)


def test_variable_length_and_symbolic(rng):
    encoder = small()
    assert tuple(encoder(keras.Input((None, 8))).shape) == (None, None, 8)
    for steps in (2, 7):
        assert encoder(rng.normal(size=(1, steps, 8)).astype("float32")).shape == (1, steps, 8)


@pytest.mark.parametrize("kwargs, message", [
    ({"num_layers": 0}, "num_layers"),
    ({"dropout": 1.0}, "dropout"),
    ({"embed_dropout": -0.1}, "embed_dropout"),
    ({"causal": 1}, "causal"),
])
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CausalTransformerEncoder(**kwargs)


def test_invalid_inputs():
    with pytest.raises(ValueError, match="divisible"):
        small(num_heads=3)(keras.Input((4, 8)))
    with pytest.raises(ValueError, match="CausalTransformerEncoder input"):
        small()(keras.Input((8,)))


def test_serialisation(layer_checks, rng):
    inputs = rng.normal(size=(2, 5, 8)).astype("float32")
    layer_checks.config_round_trip(small(dropout=0.2, embed_dropout=0.1, causal=False, name="audio"), inputs)
    encoder = small()
    layer_checks.save_load(encoder, inputs)
    assert all(isinstance(block, TransformerBlock) for block in encoder.blocks)
