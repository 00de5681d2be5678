import keras
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


def attention_reference(tokens, block):
    """NumPy reference of the block's multi-head self-attention (causal when the block is)."""
    attention = block.attention
    query_kernel, query_bias = attention.query_dense.get_weights()
    key_kernel, key_bias = attention.key_dense.get_weights()
    value_kernel, value_bias = attention.value_dense.get_weights()
    output_kernel, output_bias = attention.output_dense.get_weights()
    query = np.einsum("btd,dhk->bhtk", tokens, query_kernel) + query_bias[None, :, None, :]
    key = np.einsum("btd,dhk->bhtk", tokens, key_kernel) + key_bias[None, :, None, :]
    value = np.einsum("btd,dhk->bhtk", tokens, value_kernel) + value_bias[None, :, None, :]
    logits = np.einsum("bhqk,bhsk->bhqs", query, key) / np.sqrt(query.shape[-1])
    if block.causal:
        steps = tokens.shape[1]
        logits = np.where(np.tril(np.ones((steps, steps), bool)), logits, -np.inf)
    context = np.einsum("bhqs,bhsk->bhqk", softmax(logits), value)
    return np.einsum("bhqk,hkd->bqd", context, output_kernel) + output_bias


def feed_forward_reference(tokens, block):
    hidden_kernel, hidden_bias = block.feed_forward_hidden.get_weights()
    out_kernel, out_bias = block.feed_forward_output.get_weights()
    return np.maximum(tokens @ hidden_kernel + hidden_bias, 0.0) @ out_kernel + out_bias


def block_reference(tokens, block):
    """NumPy reference of self-attention + feed-forward: post-norm, or pre-norm with `norm_first`."""
    tokens = tokens.astype("float64")
    epsilon = block.layer_norm_epsilon
    attention_norm = block.attention_norm.get_weights()
    feed_forward_norm = block.feed_forward_norm.get_weights()
    if block.norm_first:
        tokens = tokens + attention_reference(layer_norm(tokens, *attention_norm, epsilon), block)
        return tokens + feed_forward_reference(layer_norm(tokens, *feed_forward_norm, epsilon), block)
    tokens = layer_norm(tokens + attention_reference(tokens, block), *attention_norm, epsilon)
    return layer_norm(tokens + feed_forward_reference(tokens, block), *feed_forward_norm, epsilon)


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


@pytest.mark.parametrize("norm_first, causal", [(True, False), (True, True), (False, True)])
def test_pre_norm_and_causal_match_numpy_reference(norm_first, causal, rng):
    """Pre-norm: x + Attn(LN(x)), then x + FFN(LN(x)); causal: step t attends to steps <= t."""
    tokens = rng.normal(size=(2, 5, 8)).astype("float32")
    block = TransformerBlock(num_heads=2, ff_dim=6, norm_first=norm_first, causal=causal)
    block(tokens)
    for norm in (block.attention_norm, block.feed_forward_norm):
        norm.set_weights([rng.normal(size=8).astype("float32") for _ in range(2)])
    result = keras.ops.convert_to_numpy(block(tokens))
    np.testing.assert_allclose(result, block_reference(tokens, block), rtol=1e-4, atol=1e-5)
    plain = TransformerBlock(num_heads=2, ff_dim=6)
    plain(tokens)
    plain.set_weights(block.get_weights())
    assert not np.allclose(keras.ops.convert_to_numpy(plain(tokens)), result, atol=1e-3)


@pytest.mark.parametrize("norm_first", [False, True])
def test_causal_output_ignores_later_steps(norm_first, rng):
    tokens = rng.normal(size=(2, 6, 8)).astype("float32")
    changed = tokens.copy()
    changed[:, 3:] = rng.normal(size=(2, 3, 8))
    causal = TransformerBlock(num_heads=2, ff_dim=6, norm_first=norm_first, causal=True)
    before, after = (keras.ops.convert_to_numpy(causal(x)) for x in (tokens, changed))
    np.testing.assert_allclose(after[:, :3], before[:, :3], rtol=1e-5, atol=1e-6)
    assert not np.allclose(after[:, 3:], before[:, 3:])
    full = TransformerBlock(num_heads=2, ff_dim=6, norm_first=norm_first)
    full(tokens)
    full.set_weights(causal.get_weights())
    before, after = (keras.ops.convert_to_numpy(full(x)) for x in (tokens, changed))
    assert not np.allclose(after[:, :3], before[:, :3], atol=1e-4)


def test_hidden_dropout_only_in_training(rng):
    tokens = rng.normal(size=(2, 4, 8)).astype("float32")
    block = TransformerBlock(num_heads=2, ff_dim=6, norm_first=True, hidden_dropout=0.5)
    inference = keras.ops.convert_to_numpy(block(tokens, training=False))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(block(tokens)), inference)
    assert not np.allclose(keras.ops.convert_to_numpy(block(tokens, training=True)), inference)


def test_new_options_keep_old_defaults_and_configs(rng):
    """Configs saved before norm_first / causal / hidden_dropout existed load as post-norm, non-causal blocks."""
    config = TransformerBlock(num_heads=2, ff_dim=6).get_config()
    assert (config["norm_first"], config["causal"], config["hidden_dropout"]) == (False, False, 0.0)
    old = {key: value for key, value in config.items() if key not in ("norm_first", "causal", "hidden_dropout")}
    assert TransformerBlock.from_config(old).get_config() == config


@pytest.mark.parametrize("kwargs, message", [
    ({"norm_first": 1}, "norm_first"),
    ({"causal": "yes"}, "causal"),
    ({"hidden_dropout": 1.0}, "hidden_dropout"),
])
def test_rejects_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TransformerBlock(**kwargs)


def test_serialisation_pre_norm_causal(layer_checks, rng):
    tokens = rng.normal(size=(2, 5, 8)).astype("float32")
    options = {"norm_first": True, "causal": True, "hidden_dropout": 0.1}
    layer_checks.config_round_trip(TransformerBlock(num_heads=2, ff_dim=6, **options), tokens)
    layer_checks.save_load(TransformerBlock(num_heads=2, ff_dim=6, **options), tokens)


@pytest.mark.parametrize("norm_first", [False, True])
def test_token_mask_leaves_the_masked_tokens_out_of_attention(norm_first, rng):
    """A kept token's output with a token mask equals the block run on the kept tokens alone (NumPy reference
    on that subset), whatever the masked tokens hold."""
    tokens = rng.normal(size=(2, 6, 8)).astype("float32")
    mask = np.array([[1, 1, 0, 1, 0, 0], [0, 1, 1, 1, 1, 1]], "float32")
    block = TransformerBlock(num_heads=2, ff_dim=6, norm_first=norm_first)
    block(tokens)
    result = block(tokens, token_mask=mask).numpy()
    scrambled = np.where(mask[..., None] > 0, tokens, rng.normal(size=tokens.shape) * 10).astype("float32")
    np.testing.assert_allclose(block(scrambled, token_mask=mask).numpy()[mask > 0], result[mask > 0],
                               rtol=1e-5, atol=1e-5)
    for sample in range(2):
        kept = mask[sample] > 0
        expected = block_reference(tokens[sample:sample + 1, kept], block)[0]
        np.testing.assert_allclose(result[sample, kept], expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(block(tokens, token_mask=np.ones((2, 6), "float32")).numpy(), block(tokens).numpy())
