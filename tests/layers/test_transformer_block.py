import numpy as np
import pytest
import tensorflow as tf

from avtfuse.layers.transformer_block import TransformerBlock


def layer_norm(values, gamma, beta, epsilon):
    mean = values.mean(axis=-1, keepdims=True)
    variance = values.var(axis=-1, keepdims=True)
    return (values - mean) / np.sqrt(variance + epsilon) * gamma + beta


def softmax(values):
    shifted = np.exp(values - values.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def block_reference(tokens, block):
    """NumPy reference of post-norm self-attention + feed-forward."""
    attention = block.attention
    query_kernel, query_bias = attention.query_dense.get_weights()
    key_kernel, key_bias = attention.key_dense.get_weights()
    value_kernel, value_bias = attention.value_dense.get_weights()
    output_kernel, output_bias = attention.output_dense.get_weights()
    tokens = tokens.astype("float64")
    query = np.einsum("btd,dhk->bhtk", tokens, query_kernel) + query_bias[None, :, None, :]
    key = np.einsum("btd,dhk->bhtk", tokens, key_kernel) + key_bias[None, :, None, :]
    value = np.einsum("btd,dhk->bhtk", tokens, value_kernel) + value_bias[None, :, None, :]
    weights = softmax(np.einsum("bhqk,bhsk->bhqs", query, key) / np.sqrt(query.shape[-1]))
    context = np.einsum("bhqs,bhsk->bhqk", weights, value)
    attended = np.einsum("bhqk,hkd->bqd", context, output_kernel) + output_bias
    epsilon = block.layer_norm_epsilon
    tokens = layer_norm(tokens + attended, *block.attention_norm.get_weights(), epsilon)
    hidden_kernel, hidden_bias = block.feed_forward_hidden.get_weights()
    out_kernel, out_bias = block.feed_forward_output.get_weights()
    transformed = np.maximum(tokens @ hidden_kernel + hidden_bias, 0.0) @ out_kernel + out_bias
    return layer_norm(tokens + transformed, *block.feed_forward_norm.get_weights(), epsilon)


def test_matches_numpy_reference(rng):
    tokens = rng.normal(size=(2, 5, 8)).astype("float32")
    block = TransformerBlock(num_heads=2, ff_dim=6)
    block(tokens)
    # Non-trivial normalisation parameters so that the reference checks them too.
    for norm in (block.attention_norm, block.feed_forward_norm):
        norm.set_weights([rng.normal(size=8).astype("float32") for _ in range(2)])
    result = block(tokens).numpy()
    assert result.shape == (2, 5, 8)
    np.testing.assert_allclose(result, block_reference(tokens, block), rtol=1e-4, atol=1e-5)


def test_paper_defaults(rng):
    block = TransformerBlock()
    result = block(rng.normal(size=(2, 3, 64)).astype("float32"))
    assert result.shape == (2, 3, 64)
    assert block.attention.query_dense.kernel.shape == (64, 4, 16)
    assert block.feed_forward_hidden.kernel.shape == (64, 400)
    assert block.feed_forward_output.kernel.shape == (400, 64)


def test_dropout_only_in_training(rng):
    tokens = rng.normal(size=(2, 4, 8)).astype("float32")
    block = TransformerBlock(num_heads=2, ff_dim=6, dropout=0.5)
    inference = block(tokens, training=False).numpy()
    np.testing.assert_array_equal(block(tokens, training=False).numpy(), inference)
    assert not np.allclose(block(tokens, training=True).numpy(), inference)


def test_gradients_reach_every_weight(rng):
    tokens = tf.constant(rng.normal(size=(2, 4, 8)).astype("float32"))
    block = TransformerBlock(num_heads=2, ff_dim=6)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(block(tokens) * tf.constant(rng.normal(size=(2, 4, 8)).astype("float32")))
    gradients = tape.gradient(total, block.trainable_variables)
    assert len(gradients) == len(block.trainable_variables) > 0
    assert all(g is not None and np.any(g.numpy() != 0) for g in gradients)


def test_rejects_indivisible_token_dim(rng):
    with pytest.raises(ValueError, match="not divisible"):
        TransformerBlock(num_heads=3)(rng.normal(size=(1, 2, 8)).astype("float32"))


def test_rejects_bad_dropout():
    with pytest.raises(ValueError, match="dropout"):
        TransformerBlock(dropout=1.0)


def test_serialisation(layer_checks, rng):
    tokens = rng.normal(size=(2, 5, 8)).astype("float32")
    layer_checks.config_round_trip(TransformerBlock(num_heads=2, key_dim=3, ff_dim=6), tokens)
    layer_checks.save_load(TransformerBlock(num_heads=2, ff_dim=6), tokens)
