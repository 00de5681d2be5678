"""Tests for avtfuse/losses/triplet.py against a NumPy loop over anchors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from avtfuse.losses.triplet import BatchHardTripletLoss, batch_hard_triplet_loss

TOLERANCE = {"float32": 1e-5, "float16": 1e-3}


def reference_batch_hard(labels, embeddings, soft=True, margin=1.0):
    embeddings = np.asarray(embeddings, dtype=np.float64)
    losses = []
    for a in range(len(labels)):
        d_pos, d_neg = 0.0, None
        for j in range(len(labels)):
            distance = np.sqrt(np.sum((embeddings[a] - embeddings[j]) ** 2))
            if labels[j] == labels[a] and j != a:
                d_pos = max(d_pos, distance)
            elif labels[j] != labels[a]:
                d_neg = distance if d_neg is None else min(d_neg, distance)
        gap = d_pos - (d_neg or 0.0)
        losses.append(np.log1p(np.exp(gap)) if soft else max(gap + margin, 0.0))
    return np.mean(losses)


def random_batch(seed, dtype):
    rng = np.random.default_rng(seed)
    batch = int(rng.integers(6, 17))
    labels = rng.integers(0, 3, size=batch)
    embeddings = rng.normal(size=(batch, int(rng.integers(4, 9)))).astype(dtype)
    return labels, embeddings


DEGENERATE = {
    "no_positive": (np.array([0, 1, 2, 3]), np.random.default_rng(1).normal(size=(4, 5))),
    "no_negative": (np.array([2, 2, 2]), np.random.default_rng(2).normal(size=(3, 5))),
    "single": (np.array([0]), np.random.default_rng(3).normal(size=(1, 5))),
    "all_zero": (np.array([0, 0, 1, 1, 2]), np.zeros((5, 4))),
    "duplicates": (
        np.array([0, 1, 0, 1]),
        np.repeat(np.random.default_rng(4).normal(size=(2, 3)), 2, axis=0),
    ),
}


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("soft", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_random_batches_match_loop(seed, soft, dtype):
    labels, embeddings = random_batch(seed, dtype)
    loss = batch_hard_triplet_loss(labels, embeddings, soft=soft, margin=0.7)
    assert loss.dtype == tf.float32 and loss.shape == ()
    expected = reference_batch_hard(labels, embeddings, soft=soft, margin=0.7)
    np.testing.assert_allclose(loss, expected, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("soft", [True, False])
@pytest.mark.parametrize("case", sorted(DEGENERATE))
def test_degenerate_batches_match_loop_with_finite_gradients(case, soft, dtype):
    labels, values = DEGENERATE[case]
    embeddings = tf.Variable(values.astype(dtype))
    with tf.GradientTape() as tape:
        loss = batch_hard_triplet_loss(labels, embeddings, soft=soft)
    gradient = tape.gradient(loss, embeddings)
    expected = reference_batch_hard(labels, embeddings.numpy(), soft=soft)
    np.testing.assert_allclose(loss, expected, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
    assert np.all(np.isfinite(gradient.numpy().astype(np.float32)))


def test_gradient_matches_finite_differences():
    labels, embeddings = random_batch(7, "float64")
    variable = tf.Variable(embeddings.astype("float32"))
    with tf.GradientTape() as tape:
        loss = batch_hard_triplet_loss(labels, variable)
    gradient = tape.gradient(loss, variable).numpy()
    step = 1e-4
    for index in [(row, row % embeddings.shape[1]) for row in range(len(labels))]:
        shifted_up, shifted_down = embeddings.copy(), embeddings.copy()
        shifted_up[index] += step
        shifted_down[index] -= step
        numeric = reference_batch_hard(labels, shifted_up) - reference_batch_hard(labels, shifted_down)
        numeric /= 2 * step
        np.testing.assert_allclose(gradient[index], numeric, atol=1e-3)


def test_loss_class_matches_function_and_works_in_graph_with_unknown_batch():
    labels, embeddings = random_batch(11, "float32")
    loss = BatchHardTripletLoss(soft=False, margin=0.3)
    expected = reference_batch_hard(labels, embeddings, soft=False, margin=0.3)
    np.testing.assert_allclose(loss(labels[:, None], embeddings), expected, rtol=1e-5)

    @tf.function(
        input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([None, None], tf.float32)]
    )
    def graph_loss(batch_labels, batch_embeddings):
        return loss(batch_labels, batch_embeddings)

    np.testing.assert_allclose(graph_loss(labels.astype("int32"), embeddings), expected, rtol=1e-5)


def test_serialization_round_trip():
    original = BatchHardTripletLoss(soft=False, margin=0.25)
    restored = keras.losses.deserialize(keras.losses.serialize(original))
    assert isinstance(restored, BatchHardTripletLoss)
    assert (restored.soft, restored.margin, restored.name) == (False, 0.25, original.name)
    labels, embeddings = random_batch(2, "float32")
    np.testing.assert_allclose(restored(labels, embeddings), original(labels, embeddings), rtol=1e-6)
    config = original.get_config()
    assert BatchHardTripletLoss.from_config(config).get_config() == config
