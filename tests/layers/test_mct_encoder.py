"""Tests for avtfuse.layers.mct_encoder: one MRAU layer with per-modality post-norm blocks, and the stack."""

import keras
import numpy as np
import pytest

from avtfuse.layers.mct_encoder import MCTEncoder, MCTEncoderLayer

LENGTHS = (4, 3, 2)
MASKS = [np.array([[1, 1, 1, 0], [1, 1, 1, 1]], "float32"),
         np.array([[1, 1, 0], [1, 1, 1]], "float32"),
         np.array([[0, 0], [1, 1]], "float32")]


def numpy_weights(layer):
    return [keras.ops.convert_to_numpy(w) for w in layer.weights]


def layer_norm(x, layer):
    gamma, beta = numpy_weights(layer)
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + layer.epsilon) * gamma + beta


def dense(x, layer):
    kernel, bias = numpy_weights(layer)
    return x @ kernel + bias


def randomize(layer, rng):
    layer.set_weights([rng.normal(0.0, 0.3, size=w.shape).astype("float32") + (1.0 if "gamma" in w.path else 0.0)
                       for w in layer.weights])


def numpy_layer(layer, inputs, masks):
    """Eq. 9–10 with NumPy around the layer's own MRAU (tested in test_rescaled_attention.py), at inference."""
    attended = [keras.ops.convert_to_numpy(a) for a in layer.attention(inputs, masks=masks)]
    outputs = []
    for m, (x, a) in enumerate(zip(inputs, attended)):
        tokens = layer_norm(x + a, layer.attention_norms[m])
        hidden = np.maximum(dense(tokens, layer.feed_forward_hidden[m]), 0.0)
        outputs.append(layer_norm(tokens + dense(hidden, layer.feed_forward_output[m]), layer.feed_forward_norms[m]))
    return outputs


@pytest.fixture
def inputs(rng):
    return [rng.normal(size=(2, length, 8)).astype("float32") for length in LENGTHS]


def as_numpy(tensors):
    return [keras.ops.convert_to_numpy(keras.ops.cast(t, "float32")) for t in tensors]


def test_parameter_count_at_paper_size():
    """d = 128, M = 3: 594,816 per layer; without the three in-projections, Table 4's 0.45 M (446,208)."""
    layer = MCTEncoderLayer(3, 128)
    layer.build([(None, 400, 128), (None, 40, 128), (None, 50, 128)])
    assert layer.count_params() == 594_816
    assert layer.count_params() - sum(p.count_params() for p in layer.attention.input_projections) == 446_208


def test_layer_against_numpy(inputs, rng):
    layer = MCTEncoderLayer(3, 8, 2)
    layer.build([x.shape for x in inputs])
    randomize(layer, rng)
    outputs = as_numpy(layer(inputs, masks=MASKS))
    for got, want, length in zip(outputs, numpy_layer(layer, inputs, MASKS), LENGTHS):
        assert got.shape == (2, length, 8)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("outer_residual", [True, False])
def test_encoder_stack(outer_residual, inputs, rng):
    encoder = MCTEncoder(2, 3, 8, 2, outer_residual=outer_residual)
    encoder.build([x.shape for x in inputs])
    randomize(encoder, rng)
    expected = inputs
    for layer in encoder.encoder_layers:
        updates = as_numpy(layer(expected, masks=MASKS))
        expected = [x + u for x, u in zip(expected, updates)] if outer_residual else updates
    if outer_residual:
        expected = [layer_norm(x, norm) for x, norm in zip(expected, encoder.output_norms)]
    for got, want in zip(as_numpy(encoder(inputs, masks=MASKS)), expected):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    per_layer = encoder.encoder_layers[0].count_params()
    assert encoder.count_params() == 2 * per_layer + (3 * 2 * 8 if outer_residual else 0)


def test_dropout_only_in_training(inputs):
    encoder = MCTEncoder(1, 3, 8, 2, attention_dropout=0.1, dropout=0.3)
    first, second = (as_numpy(encoder(inputs, masks=MASKS, training=True)) for _ in range(2))
    assert not np.allclose(first[0], second[0])
    inference = as_numpy(encoder(inputs, masks=MASKS))
    for got, want in zip(as_numpy(encoder(inputs, masks=MASKS)), inference):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
def test_all_masked_sample_and_precision(policy, inputs):
    """A sample with no real step anywhere stays finite; mixed_float16 gives finite float16 outputs."""
    masks = [mask.copy() for mask in MASKS]
    for mask in masks:
        mask[0] = 0.0
    encoder = MCTEncoder(2, 3, 8, 2, dtype=policy)
    outputs = encoder([x * 20.0 for x in inputs], masks=masks)
    assert {keras.backend.standardize_dtype(o.dtype) for o in outputs} == {keras.DTypePolicy(policy).compute_dtype}
    assert {w.dtype for w in encoder.weights} == {"float32"}
    assert all(np.all(np.isfinite(o)) for o in as_numpy(outputs))


def test_config_and_save_load(rng, layer_checks, tmp_path):
    same_length = [rng.normal(size=(2, 4, 8)).astype("float32") for _ in range(3)]
    layer_checks.config_round_trip(
        MCTEncoderLayer(3, 8, 2, attention_dropout=(0.1, 0.0, 0.0), use_gamma_e=False, name="layer"), same_length)
    layer_checks.config_round_trip(
        MCTEncoder(2, 3, 8, 2, max_lengths=(6, 6, 6), outer_residual=False, name="encoder"), same_length)
    # save/load of the encoder (and the layers in it) with masks and different lengths, which enter through the
    # `masks` keyword (LayerChecks.save_load has no masks).
    inputs = [rng.normal(size=(2, length, 8)).astype("float32") for length in LENGTHS]
    sequences = [keras.Input((length, 8)) for length in LENGTHS]
    masks = [keras.Input((length,)) for length in LENGTHS]
    model = keras.Model(sequences + masks, MCTEncoder(1, 3, 8, 2)(sequences, masks=masks))
    model.save(tmp_path / "mct.keras")
    loaded = keras.models.load_model(tmp_path / "mct.keras")
    for got, want in zip(loaded(inputs + MASKS), model(inputs + MASKS)):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got), keras.ops.convert_to_numpy(want), atol=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda: MCTEncoderLayer(3, 8, 3), "num_heads"),
    (lambda: MCTEncoderLayer(3, 8, dropout=-0.1), "dropout"),
    (lambda: MCTEncoder(0), "num_layers"),
    (lambda: MCTEncoder(2, outer_residual="yes"), "outer_residual"),
    (lambda: MCTEncoder(2, 3, 8, max_lengths=(1, 2)), "max_lengths"),
])
def test_invalid_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_inputs_must_have_units_channels():
    with pytest.raises(ValueError, match="8 channels"):
        MCTEncoder(1, 2, 8, 2)([keras.Input((4, 8)), keras.Input((3, 6))])
