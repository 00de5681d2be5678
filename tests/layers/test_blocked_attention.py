"""Blocked attention: the numbers of full attention (forward and gradients, masked, ragged last block, causal, mixed
precision) with the same weights, against Keras and a NumPy reference; serialisation; bad arguments."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from avtfuse.layers import BlockedMultiHeadAttention, TransformerBlock

# Sample 1 attends to its first 4 tokens, sample 2 to its first token alone (all but one masked).
MASK = np.ones((3, 11), bool)
MASK[1, 4:] = False
MASK[2, 1:] = False


def masked_attention_reference(query_tokens, value_tokens, layer, mask=None):
    """NumPy multi-head attention with the layer's projections; mask None or bool [B, S] of attended keys."""
    query_kernel, query_bias = layer.query_dense.get_weights()
    key_kernel, key_bias = layer.key_dense.get_weights()
    value_kernel, value_bias = layer.value_dense.get_weights()
    output_kernel, output_bias = layer.output_dense.get_weights()
    query = np.einsum("btd,dhk->bhtk", query_tokens, query_kernel) + query_bias[None, :, None, :]
    key = np.einsum("btd,dhk->bhtk", value_tokens, key_kernel) + key_bias[None, :, None, :]
    value = np.einsum("btd,dhk->bhtk", value_tokens, value_kernel) + value_bias[None, :, None, :]
    logits = np.einsum("bhqk,bhsk->bhqs", query, key) / np.sqrt(query.shape[-1])
    if mask is not None:
        logits = np.where(mask[:, None, None, :], logits, -np.inf)
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    context = np.einsum("bhqs,bhsk->bhqk", weights, value)
    return np.einsum("bhqk,hkd->bqd", context, output_kernel) + output_bias


def full_and_blocked(tokens, query_block, **kwargs):
    """Two TransformerBlocks, full and blocked, with the same (random) weights."""
    full = TransformerBlock(num_heads=2, ff_dim=6, **kwargs)
    blocked = TransformerBlock(num_heads=2, ff_dim=6, attention_kind="blocked", query_block=query_block, **kwargs)
    full(tokens)
    blocked(tokens)
    blocked.set_weights(full.get_weights())
    return full, blocked


def traced_gradients(block, tokens, mask):
    """The block's output in training (where blocked attention recomputes its blocks) and the gradients of a weighted
    sum of it w.r.t. the tokens and every weight (tensors)."""
    weights = tf.reshape(tf.linspace(-1.0, 1.0, tf.size(tokens)), tf.shape(tokens))
    with tf.GradientTape() as tape:
        tape.watch(tokens)
        output = block(tokens, token_mask=mask, training=True)
        loss = tf.reduce_sum(tf.cast(output, "float32") * weights)
    return output, tape.gradient(loss, [tokens, *block.trainable_weights])


def outputs_and_gradients(block, tokens, mask):
    """`traced_gradients` run eagerly, as float32 NumPy arrays."""
    output, grads = traced_gradients(block, tf.constant(tokens), mask)
    return np.asarray(output, "float32"), [np.asarray(grad, "float32") for grad in grads]


def assert_gradients_close(actual, expected, rtol):
    """Each gradient within rtol, plus rtol of the largest gradient entry: some are rounding noise around zero
    (the key bias's, which a softmax ignores, and the key kernel's where a sample attends to one key)."""
    scale = max(np.abs(want).max() for want in expected)
    for got, want in zip(actual, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("mask", [None, MASK], ids=["no-mask", "mask"])
@pytest.mark.parametrize("query_block", [4, 11, 64], ids=["ragged-blocks", "one-exact-block", "one-larger-block"])
@pytest.mark.parametrize("norm_first", [False, True])
def test_blocked_equals_full_forward_and_gradients(mask, query_block, norm_first, rng):
    tokens = rng.normal(size=(3, 11, 8)).astype("float32")
    full, blocked = full_and_blocked(tokens, query_block, norm_first=norm_first)
    expected, expected_gradients = outputs_and_gradients(full, tokens, mask)
    result, result_gradients = outputs_and_gradients(blocked, tokens, mask)
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-6)
    assert_gradients_close(result_gradients, expected_gradients, rtol=1e-4)


def test_blocked_attention_matches_numpy_with_a_key_mask(rng):
    query_tokens = rng.normal(size=(3, 11, 8)).astype("float32")
    value_tokens = rng.normal(size=(3, 7, 8)).astype("float32")
    mask = MASK[:, :7]
    layer = BlockedMultiHeadAttention(2, 4, query_block=3)
    result = layer(query_tokens, value_tokens, value_mask=mask).numpy()
    reference = masked_attention_reference(query_tokens, value_tokens, layer, mask)
    np.testing.assert_allclose(result, reference, rtol=1e-5, atol=1e-5)
    # The sample that sees one key alone outputs that key's value, projected, at every query.
    np.testing.assert_allclose(result[2], np.broadcast_to(result[2, :1], result[2].shape), rtol=1e-5, atol=1e-6)


def test_causal_blocked_equals_full(rng):
    tokens = rng.normal(size=(2, 9, 8)).astype("float32")
    full, blocked = full_and_blocked(tokens, 4, causal=True)
    expected, expected_gradients = outputs_and_gradients(full, tokens, MASK[:2, :9])
    result, result_gradients = outputs_and_gradients(blocked, tokens, MASK[:2, :9])
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-6)
    assert_gradients_close(result_gradients, expected_gradients, rtol=1e-4)


def test_gradients_in_a_compiled_function(rng):
    """tf.function (as model.fit runs it): the recomputed blocks give the eager gradients of full attention."""
    tokens = rng.normal(size=(3, 11, 8)).astype("float32")
    full, blocked = full_and_blocked(tokens, 4)
    _, expected = outputs_and_gradients(full, tokens, MASK)
    _, grads = tf.function(lambda values, mask: traced_gradients(blocked, values, mask))(tf.constant(tokens), MASK)
    assert_gradients_close([grad.numpy() for grad in grads], expected, rtol=1e-4)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_is_finite_and_close_to_full(policy, rng):
    tokens = rng.normal(size=(3, 11, 8)).astype("float32")
    full, blocked = full_and_blocked(tokens, 4, dtype=policy)
    expected, expected_gradients = outputs_and_gradients(full, tokens, MASK)
    result, result_gradients = outputs_and_gradients(blocked, tokens, MASK)
    assert blocked.attention.compute_dtype == policy.removeprefix("mixed_")
    assert np.isfinite(result).all() and all(np.isfinite(grad).all() for grad in result_gradients)
    tolerance = 2e-2 if policy == "mixed_float16" else 1e-1
    np.testing.assert_allclose(result, expected, rtol=tolerance, atol=tolerance)
    assert_gradients_close(result_gradients, expected_gradients, rtol=tolerance)


def test_serialisation_round_trip_and_save_load(layer_checks, rng):
    tokens = rng.normal(size=(2, 7, 8)).astype("float32")
    block = TransformerBlock(num_heads=2, ff_dim=6, attention_kind="blocked", query_block=3)
    layer_checks.config_round_trip(block, tokens)
    assert isinstance(block.attention, BlockedMultiHeadAttention) and block.attention.query_block == 3
    layer_checks.save_load(block, tokens)
    attention = BlockedMultiHeadAttention(2, 4, query_block=5)
    attention(tokens, tokens)
    clone = BlockedMultiHeadAttention.from_config(attention.get_config())
    assert clone.get_config() == attention.get_config() and clone.query_block == 5


def test_full_weights_load_into_blocked(tmp_path, rng):
    """A model saved with full attention loads into one with blocked attention and gives its outputs."""
    tokens = rng.normal(size=(2, 7, 8)).astype("float32")

    def model(kind):
        inputs = keras.Input((7, 8))
        return keras.Model(inputs, TransformerBlock(num_heads=2, ff_dim=6, attention_kind=kind, query_block=2)(inputs))

    full = model("full")
    path = str(tmp_path / "full.weights.h5")
    full.save_weights(path)
    blocked = model("blocked")
    blocked.load_weights(path)
    np.testing.assert_allclose(blocked(tokens).numpy(), full(tokens).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs, word", [
    ({"attention_kind": "flash"}, "attention_kind"),
    ({"attention_kind": "blocked", "dropout": 0.1}, "dropout"),
    ({"attention_kind": "blocked", "query_block": 0}, "query_block"),
])
def test_bad_arguments_name_themselves(kwargs, word):
    with pytest.raises(ValueError, match=word):
        TransformerBlock(**kwargs)


def test_blocked_attention_refuses_dropout_and_scores(rng):
    with pytest.raises(ValueError, match="dropout"):
        BlockedMultiHeadAttention(2, 4, dropout=0.1)
    tokens = rng.normal(size=(2, 5, 8)).astype("float32")
    with pytest.raises(ValueError, match="return_attention_scores"):
        BlockedMultiHeadAttention(2, 4)(tokens, tokens, return_attention_scores=True)
