"""Tests for avtfuse.layers.sequence_pooling: masked attention pooling and the code's C_GATE pooling."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from avtfuse.layers.sequence_pooling import CGatePooling, MaskedAttentionPooling

# Sample 0: 4 real steps of 6; sample 1: complete; sample 2: all padding.
MASK = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0]], "float32")


@pytest.fixture
def sequence(rng):
    return rng.normal(size=(3, 6, 8)).astype("float32")


def with_loud_padding(sequence):
    """`sequence` with large values on the padded steps of MASK."""
    return np.where(MASK[..., None] > 0, sequence, 50.0).astype("float32")


def pooled(layer, sequence, mask, **kwargs):
    return keras.ops.convert_to_numpy(keras.ops.cast(layer(sequence, mask=mask, **kwargs), "float32"))


def test_attention_pooling_against_numpy(sequence, rng):
    layer = MaskedAttentionPooling()
    layer.build(sequence.shape)
    u = rng.normal(size=(8, 1)).astype("float32")
    layer.set_weights([u])
    outputs = pooled(layer, with_loud_padding(sequence), MASK)
    expected = []
    for x, mask in zip(sequence, MASK):
        real = x[mask > 0]
        if not len(real):
            expected.append(np.zeros(8))
            continue
        scores = (real @ u)[:, 0]
        alpha = np.exp(scores - scores.max())
        expected.append((alpha / alpha.sum()) @ real)
    assert outputs.shape == (3, 8)
    np.testing.assert_allclose(outputs, np.array(expected), rtol=1e-5, atol=1e-6)
    assert not outputs[2].any()
    np.testing.assert_array_equal(pooled(layer, sequence, None), pooled(layer, sequence, np.ones((3, 6), "float32")))


def test_attention_pooling_all_masked_gradient(sequence):
    layer = MaskedAttentionPooling()
    variable = tf.constant(sequence)
    with tf.GradientTape() as tape:
        tape.watch(variable)
        total = tf.reduce_sum(layer(variable, mask=MASK))
    gradients = tape.gradient(total, [variable] + layer.trainable_weights)
    assert all(np.all(np.isfinite(g.numpy())) for g in gradients)
    assert not gradients[0].numpy()[2].any() and not gradients[0].numpy()[0, 4:].any()


def test_cgate_pools_the_real_steps_only(sequence):
    """Padded steps change nothing (GRU over the real steps, zeros for the gate, max over the real steps): a
    padded sequence gives what its unpadded prefix gives; an all-padded one gives zeros."""
    layer = CGatePooling(hidden=3, num_layers=2)
    outputs = pooled(layer, with_loud_padding(sequence), MASK)
    assert outputs.shape == (3, 3)
    np.testing.assert_allclose(outputs[:1], pooled(layer, sequence[:1, :4], None), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outputs[1:2], pooled(layer, sequence[1:2], None), rtol=1e-5, atol=1e-6)
    assert not outputs[2].any()
    # GRU kernels (3 gates of 3 units): the first layer reads the 8 channels, the second both directions (2 · 3).
    for recurrent, width in zip(layer.recurrent_layers, (8, 6)):
        for direction in (recurrent.forward_layer, recurrent.backward_layer):
            assert tuple(direction.cell.kernel.shape) == (width, 9)
    assert tuple(layer.gate.kernel.shape) == (3, 6, 1) and tuple(layer.projection.kernel.shape) == (14, 3)


def test_cgate_max_ignores_padding(sequence):
    """Large inputs on padded steps would saturate tanh near 1 and win an unmasked max."""
    layer = CGatePooling(hidden=4, num_layers=1)
    loud = with_loud_padding(sequence)
    outputs = pooled(layer, loud, MASK)
    unmasked_max = pooled(layer, loud, np.ones_like(MASK))  # every step real: the padded ones take part
    assert np.all(outputs[0] < unmasked_max[0])


def test_cgate_dropout_only_in_training(sequence):
    layer = CGatePooling(hidden=4, num_layers=1, dropout=0.5)
    training = pooled(layer, sequence, MASK, training=True)
    inference = pooled(layer, sequence, MASK)
    assert np.all((training == 0) | np.isclose(training, 2 * inference, rtol=1e-5, atol=1e-6))
    assert (training == 0).sum() > (inference == 0).sum()


@pytest.mark.parametrize("make", [MaskedAttentionPooling, lambda dtype: CGatePooling(4, 1, dtype=dtype)])
def test_mixed_float16(make, sequence):
    layer = make(dtype="mixed_float16")
    outputs = layer(sequence * 30.0, mask=MASK)
    assert keras.backend.standardize_dtype(outputs.dtype) == "float16"
    assert {w.dtype for w in layer.weights} == {"float32"}
    outputs = keras.ops.convert_to_numpy(keras.ops.cast(outputs, "float32"))
    assert np.all(np.isfinite(outputs)) and not outputs[2].any()


@pytest.mark.parametrize("make", [lambda: MaskedAttentionPooling(name="pooling"),
                                  lambda: CGatePooling(4, 1, dropout=0.1, name="pooling")])
def test_config_and_save_load(make, sequence, layer_checks, tmp_path):
    layer_checks.config_round_trip(make(), sequence)
    # save/load with the mask as a second model input (LayerChecks.save_load has no mask).
    inputs = [keras.Input((6, 8)), keras.Input((6,))]
    model = keras.Model(inputs, make()(inputs[0], mask=inputs[1]))
    model.save(tmp_path / "pooling.keras")
    loaded = keras.models.load_model(tmp_path / "pooling.keras")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded([sequence, MASK])),
                               keras.ops.convert_to_numpy(model([sequence, MASK])), atol=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda: CGatePooling(0), "hidden"),
    (lambda: CGatePooling(4, num_layers=0), "num_layers"),
    (lambda: CGatePooling(4, dropout=1.0), "dropout"),
])
def test_invalid_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("make", [MaskedAttentionPooling, CGatePooling])
def test_invalid_inputs(make):
    with pytest.raises(ValueError, match="batch, time, channels"):
        make()(keras.Input((8,)))
