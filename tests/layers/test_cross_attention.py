"""Tests for avtfuse.layers.cross_attention: CrossAttention (returns its weights) and CrossAttentionBlock."""

import math

import keras
import numpy as np
import pytest

from avtfuse.layers import CrossAttention, CrossAttentionBlock

erf = np.vectorize(math.erf)


def numpy_weights(layer):
    return {w.path.split("/")[-2]: keras.ops.convert_to_numpy(w) for w in layer.weights if "kernel" in w.path}


def softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def numpy_attention(layer, query, key):
    """timm's Attention with NumPy, from the layer's weights: (y, A)."""
    units, heads = layer.units, layer.num_heads
    d = units // heads
    q = query @ keras.ops.convert_to_numpy(layer.query_dense.kernel)
    kv = key @ keras.ops.convert_to_numpy(layer.key_value_dense.kernel)
    batch, t_q, t_k = len(query), query.shape[1], key.shape[1]
    q = q.reshape(batch, t_q, heads, d).transpose(0, 2, 1, 3)
    k = kv[..., :units].reshape(batch, t_k, heads, d).transpose(0, 2, 1, 3)
    weights = softmax(q @ k.transpose(0, 1, 3, 2) * d**-0.5)
    if not layer.values:
        return None, weights
    v = kv[..., units:].reshape(batch, t_k, heads, d).transpose(0, 2, 1, 3)
    attended = (weights @ v).transpose(0, 2, 1, 3).reshape(batch, t_q, units)
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in layer.output_dense.weights)
    return attended @ kernel + bias, weights


def layer_norm(x, layer):
    gamma, beta = (keras.ops.convert_to_numpy(w) for w in layer.weights)
    mean, variance = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + layer.epsilon) * gamma + beta


def dense(x, layer):
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in layer.weights)
    return x @ kernel + bias


def numpy_block(block, query, key):
    """The reference code's AttentionBlock with NumPy (exact GELU), from the block's weights."""
    tokens, _ = numpy_attention(block.attention, layer_norm(query, block.query_norm), layer_norm(key, block.key_norm))
    if block.query_residual:
        tokens = query + tokens
    hidden = dense(layer_norm(tokens, block.mlp_norm), block.mlp_hidden)
    hidden = 0.5 * hidden * (1.0 + erf(hidden / np.sqrt(2.0)))
    return tokens + dense(hidden, block.mlp_output)


def randomize(layer, rng):
    """Random values for every weight (so zero biases and unit LayerNorm scales do not hide mistakes)."""
    layer.set_weights([rng.normal(0.0, 0.3, size=w.shape).astype("float32") + (1.0 if "gamma" in w.path else 0.0)
                       for w in layer.weights])


@pytest.fixture
def pair(rng):
    """Queries [2, 5, 6] and keys [2, 7, 4]."""
    return rng.normal(size=(2, 5, 6)).astype("float32"), rng.normal(size=(2, 7, 4)).astype("float32")


@pytest.mark.parametrize("heads", [1, 4])
def test_cross_attention_against_numpy(heads, pair, rng):
    query, key = pair
    layer = CrossAttention(8, heads)
    layer([query, key])
    randomize(layer, rng)
    outputs, weights = (keras.ops.convert_to_numpy(t) for t in layer([query, key]))
    expected_outputs, expected_weights = numpy_attention(layer, query, key)
    assert outputs.shape == (2, 5, 8) and weights.shape == (2, heads, 5, 7)
    np.testing.assert_allclose(weights, expected_weights, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outputs, expected_outputs, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-5)
    # Projections: q, kv without bias, output with bias.
    assert [tuple(w.shape) for w in layer.weights] == [(6, 8), (4, 16), (8, 8), (8,)]


def test_values_false_builds_q_and_k_only(pair, rng):
    query, key = pair
    full = CrossAttention(8, 2)
    full([query, key])
    randomize(full, rng)
    weights_only = CrossAttention(8, 2, values=False)
    weights = weights_only([query, key])
    assert [tuple(w.shape) for w in weights_only.weights] == [(6, 8), (4, 8)]
    weights_only.set_weights([full.query_dense.kernel.numpy(), full.key_value_dense.kernel.numpy()[:, :8]])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(weights_only([query, key])),
                               keras.ops.convert_to_numpy(full([query, key])[1]), rtol=1e-6, atol=1e-7)
    assert weights.shape == (2, 2, 5, 7)


def test_symbolic_outputs_and_dtypes(pair):
    query, key = (keras.Input(shape=t.shape[1:]) for t in pair)
    outputs, weights = CrossAttention(8, 2)([query, key])
    assert outputs.shape == (None, 5, 8) and weights.shape == (None, 2, 5, 7)
    assert CrossAttention(8, values=False)([query, key]).shape == (None, 1, 5, 7)


def test_cross_attention_config_and_save_load(pair, tmp_path):
    query, key = pair
    layer = CrossAttention(8, 2, name="attention")
    expected = [keras.ops.convert_to_numpy(t) for t in layer([query, key])]
    clone = CrossAttention.from_config(layer.get_config())
    clone([query, key])
    clone.set_weights(layer.get_weights())
    assert clone.get_config() == layer.get_config()
    for got, want in zip(clone([query, key]), expected):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(got), want)
    symbolic = [keras.Input(shape=t.shape[1:]) for t in pair]
    model = keras.Model(symbolic, list(CrossAttention(8, 2)(symbolic)))
    model.save(tmp_path / "attention.keras")
    loaded = keras.models.load_model(tmp_path / "attention.keras")
    for got, want in zip(loaded([query, key]), model([query, key])):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got), keras.ops.convert_to_numpy(want), atol=1e-6)


@pytest.mark.parametrize("query_residual", [False, True])
@pytest.mark.parametrize("heads", [1, 2])
def test_block_against_numpy(query_residual, heads, rng):
    query = rng.normal(size=(2, 5, 8)).astype("float32")
    key = rng.normal(size=(2, 7, 4)).astype("float32")
    block = CrossAttentionBlock(8, heads, query_residual=query_residual)
    block([query, key])
    randomize(block, rng)
    outputs = keras.ops.convert_to_numpy(block([query, key]))
    assert outputs.shape == (2, 5, 8)
    np.testing.assert_allclose(outputs, numpy_block(block, query, key), rtol=1e-4, atol=1e-4)


def test_block_has_no_query_residual_by_default(rng):
    """Queries enter only through their LayerNorm: a query shifted and scaled per token gives the same output
    (a residual from x_q would carry the shift through)."""
    query = rng.normal(size=(2, 5, 8)).astype("float32")
    key = rng.normal(size=(2, 7, 4)).astype("float32")
    block = CrossAttentionBlock(8, 2)
    moved = query * 3.0 + rng.normal(size=(2, 5, 1)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(block([moved, key])),
                               keras.ops.convert_to_numpy(block([query, key])), rtol=1e-4, atol=1e-4)
    residual = CrossAttentionBlock(8, 2, query_residual=True)
    residual([query, key])
    residual.set_weights(block.get_weights())
    assert not np.allclose(keras.ops.convert_to_numpy(residual([moved, key])),
                           keras.ops.convert_to_numpy(residual([query, key])), atol=1e-2)


def test_block_output_width_differs_from_query_width(pair, layer_checks):
    block = CrossAttentionBlock(8, 4, name="block")
    assert block(list(pair)).shape == (2, 5, 8)
    assert block.compute_output_shape([pair[0].shape, pair[1].shape]) == (2, 5, 8)
    layer_checks.config_round_trip(block, list(pair))
    layer_checks.save_load(CrossAttentionBlock(8, 2), list(pair))


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_softmax_in_float32(policy, rng):
    """Large activations: the logits would overflow float16 (> 65504); the float32 softmax keeps them finite."""
    query = rng.normal(size=(2, 5, 8)).astype("float32") * 30.0
    key = rng.normal(size=(2, 7, 4)).astype("float32") * 30.0
    reference = CrossAttention(8, 2)
    reference([query, key])
    reference.set_weights([w * 6.0 for w in reference.get_weights()])
    q = query @ reference.query_dense.kernel.numpy()
    k = key @ reference.key_value_dense.kernel.numpy()[:, :8]
    assert np.abs(q[..., :4] @ k[..., :4].transpose(0, 2, 1)).max() > 65504  # head 0's q kᵀ overflows float16
    layer = CrossAttention(8, 2, dtype=policy)
    layer([query, key])
    layer.set_weights(reference.get_weights())
    outputs, weights = layer([query, key])
    compute_dtype = keras.DTypePolicy(policy).compute_dtype
    assert keras.backend.standardize_dtype(outputs.dtype) == compute_dtype
    assert keras.backend.standardize_dtype(weights.dtype) == "float32"
    assert {w.dtype for w in layer.weights} == {"float32"}
    weights = keras.ops.convert_to_numpy(weights)
    assert np.all(np.isfinite(weights)) and np.all(np.isfinite(keras.ops.convert_to_numpy(outputs)))
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-5)
    block = CrossAttentionBlock(8, 2, dtype=policy)
    blocked = keras.ops.convert_to_numpy(keras.ops.cast(block([query, key]), "float32"))
    assert np.all(np.isfinite(blocked))
    assert {sub.compute_dtype for sub in block._flatten_layers()} == {compute_dtype}


@pytest.mark.parametrize("make, message", [
    (lambda: CrossAttention(6, 4), "num_heads"),
    (lambda: CrossAttention(0), "units"),
    (lambda: CrossAttention(8, values="yes"), "values"),
    (lambda: CrossAttentionBlock(8, query_residual=1), "query_residual"),
])
def test_invalid_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_invalid_inputs(pair):
    with pytest.raises(ValueError, match="query, key"):
        CrossAttention(8)(pair[0])
    with pytest.raises(ValueError, match="query_residual"):
        CrossAttentionBlock(8, query_residual=True)(list(pair))
