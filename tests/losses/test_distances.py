"""Tests for avtfuse/losses/distances.py against NumPy loops."""

import numpy as np
import pytest
import tensorflow as tf

from avtfuse.losses.distances import (
    check_batch,
    masked_maximum,
    masked_minimum,
    pairwise_distances,
    positive_negative_masks,
)


def reference_distances(points, others):
    return np.array(
        [[np.sqrt(np.sum((p - o) ** 2)) for o in others] for p in points]
    )


def reference_masked(values, mask, reduce):
    out = []
    for row, row_mask in zip(values, mask):
        candidates = row[row_mask]
        out.append(reduce(candidates) if candidates.size else 0.0)
    return np.array(out)


@pytest.mark.parametrize("dtype, tolerance", [("float32", 1e-5), ("float16", 1e-3)])
def test_pairwise_distances_match_loop(dtype, tolerance):
    rng = np.random.default_rng(3)
    points = rng.normal(size=(7, 5)).astype(dtype)
    others = rng.normal(size=(4, 5)).astype(dtype)
    exact = points.astype(np.float64)
    got_self = pairwise_distances(points)
    got_cross = pairwise_distances(points, others)
    assert got_self.dtype == tf.float32
    np.testing.assert_allclose(
        got_self, reference_distances(exact, exact), rtol=tolerance, atol=tolerance
    )
    np.testing.assert_allclose(
        got_cross, reference_distances(exact, others.astype(np.float64)), rtol=tolerance, atol=tolerance
    )
    np.testing.assert_array_equal(np.diag(got_self), 0.0)


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_identical_points_give_zero_distance_and_zero_gradient(dtype):
    points = tf.Variable(tf.ones((3, 4), dtype=dtype))
    with tf.GradientTape() as tape:
        distances = pairwise_distances(points)
        total = tf.reduce_sum(distances)
    gradient = tape.gradient(total, points)
    np.testing.assert_array_equal(distances, 0.0)
    assert np.all(np.isfinite(gradient.numpy()))
    np.testing.assert_array_equal(gradient, 0.0)


def test_masked_reductions_match_loop_including_empty_rows():
    rng = np.random.default_rng(5)
    values = rng.normal(size=(6, 5)).astype("float32") * 10.0
    mask = rng.random((6, 5)) < 0.4
    mask[2] = False
    mask[4] = True
    np.testing.assert_allclose(
        masked_maximum(values, mask, axis=1), reference_masked(values, mask, np.max), rtol=1e-6
    )
    np.testing.assert_allclose(
        masked_minimum(values, mask, axis=1), reference_masked(values, mask, np.min), rtol=1e-6
    )
    np.testing.assert_allclose(
        masked_maximum(values.T, mask.T, axis=0), reference_masked(values, mask, np.max), rtol=1e-6
    )


def test_masked_reduction_gradient_reaches_only_the_winner():
    values = tf.Variable([[3.0, 9.0, 1.0, 5.0]])
    mask = np.array([[True, False, True, True]])
    with tf.GradientTape() as tape:
        result = tf.reduce_sum(masked_maximum(values, mask) + masked_minimum(values, mask))
    np.testing.assert_allclose(result, 5.0 + 1.0)
    np.testing.assert_allclose(tape.gradient(result, values), [[0.0, 0.0, 1.0, 1.0]])


def test_positive_negative_masks():
    labels = np.array([0, 1, 0, 2])
    positive, negative = positive_negative_masks(labels)
    expected_positive = np.array(
        [[labels[a] == labels[j] and a != j for j in range(4)] for a in range(4)]
    )
    np.testing.assert_array_equal(positive, expected_positive)
    np.testing.assert_array_equal(negative, labels[:, None] != labels[None, :])


def test_check_batch_rejects_bad_shapes():
    with pytest.raises(ValueError, match="embeddings"):
        check_batch([0, 1], np.zeros((2, 3, 1), "float32"))
    with pytest.raises(ValueError, match="embeddings"):
        check_batch([0, 1], np.zeros((2, 3), "int32"))
    with pytest.raises(ValueError, match="labels"):
        check_batch([0, 1, 2], np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="present"):
        check_batch([0, 1], np.zeros((2, 3), "float32"), present=np.ones((2, 2)))
    labels, embeddings, present = check_batch(
        np.array([[4], [7]]), np.zeros((2, 3), "float16"), present=[True, False]
    )
    assert labels.shape == (2,) and embeddings.dtype == tf.float32
    np.testing.assert_array_equal(present, [True, False])
