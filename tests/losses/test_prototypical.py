"""Tests for avtfuse/losses/prototypical.py against a NumPy loop over anchors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from avtfuse.losses.prototypical import TripletPrototypicalLoss, triplet_prototypical_loss

TOLERANCE = {"float32": 1e-5, "float16": 1e-3}


def reference_prototypical(labels, embeddings, soft=True, margin=1.0):
    labels = np.asarray(labels)
    embeddings = np.asarray(embeddings, dtype=np.float64)
    centroids = {c: embeddings[labels == c].mean(axis=0) for c in set(labels.tolist())}
    losses = []
    for a in range(len(labels)):
        d_pos = np.linalg.norm(embeddings[a] - centroids[labels[a]])
        others = [
            np.linalg.norm(embeddings[a] - centroid)
            for c, centroid in centroids.items()
            if c != labels[a]
        ]
        gap = d_pos - min(others, default=0.0)
        losses.append(np.log1p(np.exp(gap)) if soft else max(gap + margin, 0.0))
    return np.mean(losses)


def random_batch(seed, dtype):
    rng = np.random.default_rng(seed)
    batch = int(rng.integers(6, 17))
    labels = rng.integers(0, 4, size=batch)
    embeddings = rng.normal(size=(batch, int(rng.integers(4, 9)))).astype(dtype)
    return labels, embeddings


DEGENERATE = {
    "one_class": (np.array([1, 1, 1]), np.random.default_rng(1).normal(size=(3, 5))),
    "singleton_classes": (np.array([0, 1, 2, 3]), np.random.default_rng(2).normal(size=(4, 5))),
    "single": (np.array([0]), np.random.default_rng(3).normal(size=(1, 5))),
    "all_zero": (np.array([0, 0, 1, 1, 2]), np.zeros((5, 4))),
}


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("soft", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_random_batches_match_loop(seed, soft, dtype):
    labels, embeddings = random_batch(seed, dtype)
    loss = triplet_prototypical_loss(labels, embeddings, soft=soft, margin=0.5)
    assert loss.dtype == tf.float32 and loss.shape == ()
    expected = reference_prototypical(labels, embeddings, soft=soft, margin=0.5)
    np.testing.assert_allclose(loss, expected, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("soft", [True, False])
@pytest.mark.parametrize("case", sorted(DEGENERATE))
def test_degenerate_batches_match_loop_with_finite_gradients(case, soft, dtype):
    labels, values = DEGENERATE[case]
    embeddings = tf.Variable(values.astype(dtype))
    with tf.GradientTape() as tape:
        loss = triplet_prototypical_loss(labels, embeddings, soft=soft)
    gradient = tape.gradient(loss, embeddings)
    expected = reference_prototypical(labels, embeddings.numpy(), soft=soft)
    np.testing.assert_allclose(loss, expected, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
    assert np.all(np.isfinite(gradient.numpy().astype(np.float32)))


def test_gradient_matches_finite_differences():
    labels, embeddings = random_batch(5, "float64")
    variable = tf.Variable(embeddings.astype("float32"))
    with tf.GradientTape() as tape:
        loss = triplet_prototypical_loss(labels, variable)
    gradient = tape.gradient(loss, variable).numpy()
    step = 1e-4
    for index in [(row, row % embeddings.shape[1]) for row in range(len(labels))]:
        up, down = embeddings.copy(), embeddings.copy()
        up[index] += step
        down[index] -= step
        numeric = reference_prototypical(labels, up) - reference_prototypical(labels, down)
        numeric /= 2 * step
        np.testing.assert_allclose(gradient[index], numeric, atol=1e-3)


def test_loss_class_matches_function_in_graph_with_unknown_batch():
    labels, embeddings = random_batch(8, "float32")
    loss = TripletPrototypicalLoss(soft=False, margin=0.4)
    expected = reference_prototypical(labels, embeddings, soft=False, margin=0.4)

    @tf.function(
        input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([None, None], tf.float32)]
    )
    def graph_loss(batch_labels, batch_embeddings):
        return loss(batch_labels, batch_embeddings)

    np.testing.assert_allclose(loss(labels, embeddings), expected, rtol=1e-5)
    np.testing.assert_allclose(graph_loss(labels.astype("int32"), embeddings), expected, rtol=1e-5)


def test_serialization_round_trip():
    original = TripletPrototypicalLoss(soft=False, margin=0.75)
    restored = keras.losses.deserialize(keras.losses.serialize(original))
    assert isinstance(restored, TripletPrototypicalLoss)
    assert (restored.soft, restored.margin, restored.name) == (False, 0.75, original.name)
    labels, embeddings = random_batch(3, "float32")
    np.testing.assert_allclose(restored(labels, embeddings), original(labels, embeddings), rtol=1e-6)
    config = original.get_config()
    assert TripletPrototypicalLoss.from_config(config).get_config() == config
