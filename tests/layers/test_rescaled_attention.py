"""Tests for avtfuse.layers.rescaled_attention: the masked softmax and the MRAU (SYSTEMS.md 3.2 item 2, section 6)."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from avtfuse.layers.rescaled_attention import (
    MultimodalRescaledAttention,
    attention_weights,
    masked_softmax,
)

LENGTHS = (4, 3, 2)
# Sample 0 has 3 / 2 / 0 real steps (γ_b guarded for the empty modality); sample 1 is complete.
MASKS = [np.array([[1, 1, 1, 0], [1, 1, 1, 1]], "float32"),
         np.array([[1, 1, 0], [1, 1, 1]], "float32"),
         np.array([[0, 0], [1, 1]], "float32")]


def numpy_softmax(logits, mask):
    mask = np.broadcast_to(mask, logits.shape)
    exponentials = np.where(mask > 0, np.exp(logits - np.where(mask > 0, logits, -np.inf).max(-1, keepdims=True)), 0)
    total = exponentials.sum(-1, keepdims=True)
    return np.divide(exponentials, total, out=np.zeros_like(exponentials), where=total > 0)


def weights_of(layer):
    return [keras.ops.convert_to_numpy(w) for w in layer.weights]


def numpy_mrau(layer, inputs, masks, key_scale):
    """The MRAU with NumPy from the layer's weights and a given per-key logit scale [B, ΣT]: (outputs, weights)."""
    units, heads = layer.units, layer.num_heads
    d = units // heads

    def split(x):
        return x.reshape(len(x), x.shape[1], heads, d).transpose(0, 2, 1, 3)

    projected = [x @ kernel + bias for x, (kernel, bias) in
                 zip(inputs, (weights_of(p) for p in layer.input_projections))]
    keys = np.concatenate([split(p[..., units:2 * units]) for p in projected], axis=2)
    values = np.concatenate([split(p[..., 2 * units:]) for p in projected], axis=2)
    key_mask = np.concatenate(masks, axis=1)[:, None, None, :]
    outputs, scores = [], []
    for p, projection in zip(projected, layer.output_projections):
        logits = split(p[..., :units]) * d**-0.5 @ keys.transpose(0, 1, 3, 2) * key_scale[:, None, None, :]
        weights = numpy_softmax(logits, key_mask)
        attended = (weights @ values).transpose(0, 2, 1, 3).reshape(len(p), p.shape[1], units)
        kernel, bias = weights_of(projection)
        outputs.append(attended @ kernel + bias)
        scores.append(weights)
    return outputs, scores


def randomize(layer, rng, scale=0.5):
    layer.set_weights([rng.normal(0.0, scale, size=w.shape).astype("float32") for w in layer.weights])


@pytest.fixture
def inputs(rng):
    return [rng.normal(size=(2, length, 8)).astype("float32") for length in LENGTHS]


def hand_scale(gamma_b, gamma_e, total_max):
    """The per-key logit scale of MASKS written out by hand: lengths 3 / 2 / 0 and 4 / 3 / 2."""
    balance = [[3**-0.5, 2**-0.5, 1.0], [4**-0.5, 3**-0.5, 2**-0.5]] if gamma_b else [[1.0] * 3] * 2
    extrapolation = [math.log(5) / math.log(total_max), math.log(9) / math.log(total_max)] if gamma_e else [1.0] * 2
    return np.array([np.repeat(np.array(b) * e, LENGTHS) for b, e in zip(balance, extrapolation)], "float32")


@pytest.mark.parametrize("max_lengths, total_max", [(None, 9), ((400, 40, 50), 490)])
@pytest.mark.parametrize("gamma_b, gamma_e", [(True, True), (True, False), (False, True), (False, False)])
def test_against_numpy_with_gammas(gamma_b, gamma_e, max_lengths, total_max, inputs, rng):
    layer = MultimodalRescaledAttention(3, 8, 2, max_lengths=max_lengths, use_gamma_b=gamma_b, use_gamma_e=gamma_e)
    layer.build([x.shape for x in inputs])
    randomize(layer, rng)
    outputs, weights = layer(inputs, masks=MASKS, return_attention_scores=True)
    expected_outputs, expected_weights = numpy_mrau(layer, inputs, MASKS, hand_scale(gamma_b, gamma_e, total_max))
    key_mask = np.concatenate(MASKS, axis=1)
    for m, length in enumerate(LENGTHS):
        got = keras.ops.convert_to_numpy(weights[m])
        assert got.shape == (2, 2, length, sum(LENGTHS)) and got.dtype == np.float32
        np.testing.assert_allclose(got, expected_weights[m], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(outputs[m]), expected_outputs[m], rtol=1e-4, atol=1e-5)
        assert not got.transpose(0, 3, 1, 2)[key_mask == 0].any()  # padded keys: exactly zero weight
        np.testing.assert_allclose(got.sum(-1), 1.0, rtol=1e-5)


def test_gamma_off_and_shared_projections_is_multi_head_attention(inputs, rng):
    """With γ_b = γ_e = 1 and the same projections for every modality, the MRAU is standard multi-head attention
    over the concatenated sequence with the concatenated key mask (keras.layers.MultiHeadAttention)."""
    masks = [np.array([[1, 1, 0, 0], [1, 1, 1, 1]], "float32"), np.ones((2, 3), "float32"),
             np.array([[1, 0], [0, 0]], "float32")]
    layer = MultimodalRescaledAttention(3, 8, 2, use_gamma_b=False, use_gamma_e=False)
    layer.build([x.shape for x in inputs])
    kernel, bias = (rng.normal(0.0, 0.5, size=shape).astype("float32") for shape in ((8, 24), (24,)))
    out_kernel, out_bias = (rng.normal(0.0, 0.5, size=shape).astype("float32") for shape in ((8, 8), (8,)))
    layer.set_weights([kernel, bias] * 3 + [out_kernel, out_bias] * 3)
    outputs = layer(inputs, masks=masks)

    reference = keras.layers.MultiHeadAttention(2, 4)
    sequence = np.concatenate(inputs, axis=1)
    reference(sequence, sequence)
    reference.set_weights([kernel[:, 8 * i:8 * (i + 1)].reshape(8, 2, 4) if j == 0 else
                           bias[8 * i:8 * (i + 1)].reshape(2, 4) for i in range(3) for j in range(2)]
                          + [out_kernel.reshape(2, 4, 8), out_bias])
    key_mask = np.concatenate(masks, axis=1).astype(bool)
    expected = keras.ops.convert_to_numpy(reference(
        sequence, sequence, attention_mask=np.repeat(key_mask[:, None, :], sequence.shape[1], axis=1)))
    np.testing.assert_allclose(np.concatenate([keras.ops.convert_to_numpy(o) for o in outputs], axis=1), expected,
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
def test_all_masked_sample_gives_zero_weights_and_finite_gradient(policy, inputs, rng):
    """Sample 0 has no real step in any modality: its weights are exactly 0, so each modality's output is its
    out-projection bias (0 with the default initializer), with no NaN in values or gradients."""
    masks = [mask.copy() for mask in MASKS]
    for mask in masks:
        mask[0] = 0.0
    layer = MultimodalRescaledAttention(3, 8, 2, dtype=policy)
    fresh = [keras.ops.convert_to_numpy(keras.ops.cast(o, "float32")) for o in layer(inputs, masks=masks)]
    assert not any(o[0].any() for o in fresh)
    randomize(layer, rng)
    variables = [tf.constant(x) for x in inputs]
    with tf.GradientTape() as tape:
        tape.watch(variables)
        outputs, weights = layer(variables, masks=masks, return_attention_scores=True)
        total = sum(tf.reduce_sum(tf.cast(o, "float32")) for o in outputs)
    gradients = tape.gradient(total, variables + layer.trainable_weights)
    assert all(np.all(np.isfinite(g.numpy())) for g in gradients)
    for m, projection in enumerate(layer.output_projections):
        assert not keras.ops.convert_to_numpy(weights[m])[0].any()
        output = keras.ops.convert_to_numpy(keras.ops.cast(outputs[m], "float32"))
        assert np.all(np.isfinite(output))
        np.testing.assert_allclose(output[0], np.broadcast_to(weights_of(projection)[1], output[0].shape), atol=1e-3)
        assert not gradients[m][0].numpy().any()  # nothing flows from an all-masked sample's inputs


def test_masked_softmax_safe_forms():
    """Large masked logits cannot overflow; a fully masked row is zeros with a zero gradient; float16 logits work."""
    logits = tf.constant([[1.0, 2.0, 1e30], [3.0, -1e30, 5.0], [7.0, 8.0, 9.0]])
    mask = np.array([[1, 1, 0], [1, 0, 1], [0, 0, 0]], "float32")
    with tf.GradientTape() as tape:
        tape.watch(logits)
        weights = masked_softmax(logits, mask)
        loss = tf.reduce_sum(weights * tf.constant([[1.0, 2.0, 3.0]]))
    gradient = tape.gradient(loss, logits).numpy()
    weights = weights.numpy()
    np.testing.assert_allclose(weights[:2], numpy_softmax(np.array([[1, 2, 0], [3, 0, 5]], "float64"), mask[:2]),
                               rtol=1e-6)
    assert not weights[2].any() and not gradient[2].any() and np.all(np.isfinite(gradient))
    half = masked_softmax(np.array([[60000.0, -60000.0, 1.0]], "float16"), np.array([[0, 1, 1]], "float32"))
    assert keras.backend.standardize_dtype(half.dtype) == "float32"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(half), [[0.0, 0.0, 1.0]])


def test_attention_weights_pass_over_the_scores_three_times():
    """The [B, H, Tq, Tk] scores are the largest tensors of MCT-HFR's step (issue 30: its step took tens of times
    its arithmetic): their product, one where (the key mask) and one fused softmax, then the per-row zeroing of
    fully masked rows; the key scale multiplies the keys, the mask checks run on the mask's own [B, 1, 1, Tk]."""
    shape = (2, 4, 7, 9)
    function = tf.function(lambda q, k, mask, scale: attention_weights(q, k, mask, scale)).get_concrete_function(
        tf.TensorSpec(shape[:3] + (5,)), tf.TensorSpec(shape[:2] + (9, 5)), tf.TensorSpec((2, 9)),
        tf.TensorSpec((2, 9)))
    full_size = [op.type for op in function.graph.get_operations() if op.type != "Identity" and any(
        output.shape.as_list() == list(shape) for output in op.outputs)]  # (Identity: the function's result)
    assert sorted(full_size) == ["BatchMatMulV2", "Mul", "SelectV2", "Softmax"]


def test_mixed_float16_finite_and_close(inputs, rng):
    """Activations scaled so that q kᵀ overflows float16: the float32 logits keep the outputs finite."""
    large = [x * 30.0 for x in inputs]
    reference = MultimodalRescaledAttention(3, 8, 2)
    reference.build([x.shape for x in large])
    randomize(reference, rng, scale=3.0)
    layer = MultimodalRescaledAttention(3, 8, 2, dtype="mixed_float16")
    layer.build([x.shape for x in large])
    layer.set_weights(reference.get_weights())
    projected = large[0] @ weights_of(reference)[0]
    assert np.abs(projected[..., :4] @ projected[..., 8:12].transpose(0, 2, 1)).max() > 65504
    outputs, weights = layer(large, masks=MASKS, return_attention_scores=True)
    expected = reference(large, masks=MASKS)
    assert {keras.backend.standardize_dtype(o.dtype) for o in outputs} == {"float16"}
    assert {keras.backend.standardize_dtype(w.dtype) for w in weights} == {"float32"}
    assert {w.dtype for w in layer.weights} == {"float32"}
    for got, want in zip(outputs, expected):
        got = keras.ops.convert_to_numpy(keras.ops.cast(got, "float32"))
        assert np.all(np.isfinite(got))
        scale = np.abs(keras.ops.convert_to_numpy(want)).max()
        np.testing.assert_allclose(got / scale, keras.ops.convert_to_numpy(want) / scale, atol=0.05)


def test_attention_dropout_per_query_modality(inputs):
    layer = MultimodalRescaledAttention(3, 8, 2, attention_dropout=(0.0, 0.5, 0.0))
    first, second = (layer(inputs, masks=MASKS, training=True) for _ in range(2))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(first[0]), keras.ops.convert_to_numpy(second[0]))
    assert not np.allclose(keras.ops.convert_to_numpy(first[1]), keras.ops.convert_to_numpy(second[1]))
    inference = [keras.ops.convert_to_numpy(o) for o in layer(inputs, masks=MASKS)]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(inputs, masks=MASKS)[1]), inference[1])


def test_no_masks_means_no_padding(inputs):
    layer = MultimodalRescaledAttention(3, 8, 2)
    ones = [np.ones(x.shape[:2], "float32") for x in inputs]
    for got, want in zip(layer(inputs), layer(inputs, masks=ones)):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(got), keras.ops.convert_to_numpy(want))


def test_config_and_save_load(rng, layer_checks, tmp_path):
    same_length = [rng.normal(size=(2, 4, 8)).astype("float32") for _ in range(3)]
    layer = MultimodalRescaledAttention(3, 8, 2, max_lengths=(5, 6, 7), attention_dropout=(0.1, 0.0, 0.2),
                                        use_gamma_b=False, name="mrau")
    layer_checks.config_round_trip(layer, same_length)
    # save/load with masks and different lengths, which enter through the `masks` keyword (LayerChecks.save_load
    # has no masks).
    inputs = [rng.normal(size=(2, length, 8)).astype("float32") for length in LENGTHS]
    sequences = [keras.Input((length, 8)) for length in LENGTHS]
    masks = [keras.Input((length,)) for length in LENGTHS]
    model = keras.Model(sequences + masks, MultimodalRescaledAttention(3, 8, 2)(sequences, masks=masks))
    model.save(tmp_path / "mrau.keras")
    loaded = keras.models.load_model(tmp_path / "mrau.keras")
    for got, want in zip(loaded(inputs + MASKS), model(inputs + MASKS)):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got), keras.ops.convert_to_numpy(want), atol=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda: MultimodalRescaledAttention(3, 6, 4), "num_heads"),
    (lambda: MultimodalRescaledAttention(0), "num_modalities"),
    (lambda: MultimodalRescaledAttention(3, 8, max_lengths=(4, 3)), "max_lengths"),
    (lambda: MultimodalRescaledAttention(1, 8, max_lengths=(1,)), "max_lengths"),
    (lambda: MultimodalRescaledAttention(3, 8, attention_dropout=1.0), "attention_dropout"),
    (lambda: MultimodalRescaledAttention(3, 8, attention_dropout=(0.1, 0.1)), "attention_dropout"),
    (lambda: MultimodalRescaledAttention(3, 8, use_gamma_e=1), "use_gamma_e"),
])
def test_invalid_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_invalid_inputs():
    with pytest.raises(ValueError, match="list of 3"):
        MultimodalRescaledAttention(3, 8)([keras.Input((4, 8))] * 2)
    with pytest.raises(ValueError, match="max_lengths"):
        MultimodalRescaledAttention(2, 8)([keras.Input((None, 8)), keras.Input((3, 8))])
