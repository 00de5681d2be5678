import numpy as np
import pytest
import tensorflow as tf

from avtfuse.layers.l2_normalize import L2Normalize


def test_unit_norm_matches_numpy(rng):
    vectors = rng.normal(size=(5, 7)).astype("float32")
    result = L2Normalize()(vectors).numpy()
    expected = vectors / np.sqrt((vectors.astype("float64") ** 2).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(result, expected, rtol=1e-6, atol=1e-7)


def test_other_axis(rng):
    vectors = rng.normal(size=(3, 4, 2)).astype("float32")
    result = L2Normalize(axis=1)(vectors).numpy()
    np.testing.assert_allclose(np.linalg.norm(result, axis=1), 1.0, rtol=1e-6)


def test_zero_vector_gives_zeros_and_finite_gradient():
    vectors = tf.constant([[0.0, 0.0, 0.0], [3.0, 0.0, 4.0]])
    with tf.GradientTape() as tape:
        tape.watch(vectors)
        result = L2Normalize()(vectors)
        total = tf.reduce_sum(result * tf.constant([[1.0, 2.0, 3.0]]))
    gradient = tape.gradient(total, vectors).numpy()
    np.testing.assert_array_equal(result.numpy()[0], 0.0)
    np.testing.assert_allclose(result.numpy()[1], [0.6, 0.0, 0.8], rtol=1e-6)
    assert np.all(np.isfinite(gradient))


def test_float16_input_gives_float32_output():
    vectors = np.array([[0.0, 0.0], [300.0, 400.0]], dtype="float16")
    result = L2Normalize(dtype="mixed_float16")(vectors)
    assert result.dtype == tf.float32
    np.testing.assert_allclose(result.numpy(), [[0.0, 0.0], [0.6, 0.8]], rtol=1e-3)


def test_rejects_non_positive_epsilon():
    with pytest.raises(ValueError, match="epsilon"):
        L2Normalize(epsilon=0.0)


def test_serialisation(layer_checks, rng):
    vectors = rng.normal(size=(4, 6)).astype("float32")
    layer_checks.config_round_trip(L2Normalize(epsilon=1e-8), vectors)
    layer_checks.save_load(L2Normalize(), vectors)


def test_zero_vector_gradient_is_finite_under_mixed_float16():
    vectors = tf.constant([[0.0, 0.0, 0.0], [3.0, 0.0, 4.0]], tf.float16)
    with tf.GradientTape() as tape:
        tape.watch(vectors)
        result = L2Normalize(dtype="mixed_float16")(vectors)
        total = tf.reduce_sum(result * tf.constant([[1.0, 2.0, 3.0]]))
    gradient = tape.gradient(total, vectors)
    assert gradient.dtype == tf.float16
    np.testing.assert_array_equal(result.numpy()[0], 0.0)
    assert np.all(np.isfinite(gradient.numpy()))
    # d(w . x/|x|)/dx = (w - (w . u) u) / |x| with u = x/|x|: [-0.16, 0.4, 0.12] for the second row.
    np.testing.assert_allclose(gradient.numpy()[1], [-0.16, 0.4, 0.12], rtol=1e-2)


def test_vectors_below_epsilon_map_to_zeros():
    result = L2Normalize(epsilon=1e-4)(np.array([[1e-3, 0.0], [0.1, 0.0]], "float32")).numpy()
    np.testing.assert_array_equal(result, [[0.0, 0.0], [1.0, 0.0]])
