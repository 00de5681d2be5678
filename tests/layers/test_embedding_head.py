import numpy as np
import pytest
import tensorflow as tf

from avtfuse.layers.embedding_head import EmbeddingHead


def head_reference(pooled, head):
    """NumPy reference of the MLP + L2 normalisation on pooled [B, F] features."""
    hidden = pooled.astype("float64")
    for layer in head.hidden_layers:
        kernel, bias = layer.get_weights()
        hidden = np.maximum(hidden @ kernel + bias, 0.0)
    kernel, bias = head.projection.get_weights()
    projected = hidden @ kernel + bias
    norm = np.linalg.norm(projected, axis=1, keepdims=True)
    return np.where(norm > 0, projected / np.maximum(norm, 1e-30), 0.0)


def test_flatten_matches_numpy(rng):
    features = rng.normal(size=(3, 4, 2, 5)).astype("float32")
    head = EmbeddingHead(embedding_dim=6, hidden_units=(7,))
    result = head(features).numpy()
    assert result.shape == (3, 6)
    np.testing.assert_allclose(result, head_reference(features.reshape(3, -1), head), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(result, axis=1), 1.0, rtol=1e-6)


def test_average_pools_all_non_channel_axes(rng):
    features = rng.normal(size=(3, 4, 2, 5)).astype("float32")
    head = EmbeddingHead(embedding_dim=6, hidden_units=(7, 3), pooling="average")
    result = head(features).numpy()
    assert head.hidden_layers[0].kernel.shape == (5, 7)
    np.testing.assert_allclose(result, head_reference(features.mean(axis=(1, 2)), head), rtol=1e-5, atol=1e-6)


def test_list_input_concatenates_pooled_maps(rng):
    first = rng.normal(size=(2, 3, 4)).astype("float32")
    second = rng.normal(size=(2, 2, 2, 4)).astype("float32")
    head = EmbeddingHead(embedding_dim=5, hidden_units=(6,))
    result = head([first, second]).numpy()
    pooled = np.concatenate([first.reshape(2, -1), second.reshape(2, -1)], axis=1)
    np.testing.assert_allclose(result, head_reference(pooled, head), rtol=1e-5, atol=1e-6)


def test_paper_defaults(rng):
    head = EmbeddingHead()
    result = head(rng.normal(size=(2, 4, 64)).astype("float32"))
    assert result.shape == (2, 256)
    assert [layer.units for layer in head.hidden_layers] == [256]
    assert head.projection.units == 256
    assert head.projection.activation.__name__ == "linear"


def test_zero_input_gives_finite_gradients():
    features = tf.zeros((2, 3, 4))
    head = EmbeddingHead(embedding_dim=4, hidden_units=(3,))
    with tf.GradientTape() as tape:
        result = head(features)
        total = tf.reduce_sum(result)
    gradients = tape.gradient(total, head.trainable_variables)
    assert np.all(np.isfinite(result.numpy()))
    assert all(np.all(np.isfinite(g.numpy())) for g in gradients)


def test_float32_output_under_mixed_policy(rng):
    head = EmbeddingHead(embedding_dim=4, hidden_units=(3,), dtype="mixed_float16")
    result = head(rng.normal(size=(2, 5)).astype("float32"))
    assert head.projection.compute_dtype == "float16"
    assert result.dtype == tf.float32
    np.testing.assert_allclose(np.linalg.norm(result.numpy(), axis=1), 1.0, rtol=1e-3)


def test_rejects_bad_arguments(rng):
    with pytest.raises(ValueError, match="pooling"):
        EmbeddingHead(pooling="max")
    with pytest.raises(ValueError, match="embedding_dim"):
        EmbeddingHead(embedding_dim=0)
    with pytest.raises(ValueError, match="hidden_units"):
        EmbeddingHead(hidden_units=(4, 0))


def test_serialisation(layer_checks, rng):
    features = rng.normal(size=(2, 3, 4)).astype("float32")
    layer_checks.config_round_trip(EmbeddingHead(8, hidden_units=(5, 4), pooling="average"), features)
    layer_checks.save_load(EmbeddingHead(8, hidden_units=(5,)), features)


def test_batch_norm_neck_standardises_the_projection(rng, layer_checks):
    features = rng.normal(size=(8, 5)).astype("float32")
    head = EmbeddingHead(embedding_dim=6, hidden_units=(7,), batch_norm_neck=True)
    result = head(features, training=True).numpy()
    projected = head.projection(np.maximum(head.hidden_layers[0](features).numpy(), 0)).numpy()
    neck = (projected - projected.mean(0)) / np.sqrt(projected.var(0) + head.neck.epsilon)
    expected = neck / np.linalg.norm(neck, axis=1, keepdims=True)
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-5)
    layer_checks.config_round_trip(EmbeddingHead(6, hidden_units=(7,), batch_norm_neck=True), features)
    layer_checks.save_load(EmbeddingHead(6, hidden_units=(7,), batch_norm_neck=True), features)


def test_average_with_a_token_mask_is_the_mean_of_the_kept_tokens(rng):
    features = rng.normal(size=(3, 5, 4)).astype("float32")
    mask = np.array([[1, 0, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 1]], "float32")
    head = EmbeddingHead(embedding_dim=6, hidden_units=(7,), pooling="average")
    result = head(features, token_mask=mask).numpy()
    means = np.stack([features[b][mask[b] > 0].mean(axis=0) for b in range(3)])
    np.testing.assert_allclose(result, head_reference(means, head), rtol=1e-5, atol=1e-6)


def test_token_mask_needs_average_pooling_of_one_token_sequence(rng):
    features = rng.normal(size=(2, 5, 4)).astype("float32")
    with pytest.raises(ValueError, match="token_mask"):
        EmbeddingHead(embedding_dim=3, pooling="flatten")(features, token_mask=np.ones((2, 5), "float32"))
