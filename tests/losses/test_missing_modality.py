"""Tests for avtfuse/losses/missing_modality.py against a NumPy loop over anchors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from avtfuse.losses.missing_modality import MissingModalityLoss, missing_modality_loss
from avtfuse.losses.triplet import batch_hard_triplet_loss

TOLERANCE = {"float32": 1e-5, "float16": 1e-3}


def reference_missing_modality(labels, embeddings, present):
    embeddings = np.asarray(embeddings, dtype=np.float64)
    present = np.asarray(present, dtype=bool)
    losses = []
    for a in range(len(labels)):
        if not present[a]:
            continue
        d_pos, d_neg, d_miss = 0.0, [], []
        for j in range(len(labels)):
            distance = np.sqrt(np.sum((embeddings[a] - embeddings[j]) ** 2))
            if not present[j]:
                d_miss.append(distance)
            elif labels[j] == labels[a] and j != a:
                d_pos = max(d_pos, distance)
            elif labels[j] != labels[a]:
                d_neg.append(distance)
        gap = d_pos - min(d_neg, default=0.0) - min(d_miss, default=0.0)
        losses.append(np.log1p(np.exp(gap)))
    return np.mean(losses) if losses else 0.0


def random_batch(seed, dtype, missing_rate=0.3, shared_missing_point=True):
    rng = np.random.default_rng(seed)
    batch = int(rng.integers(6, 17))
    labels = rng.integers(0, 3, size=batch)
    present = rng.random(batch) >= missing_rate
    embeddings = rng.normal(size=(batch, int(rng.integers(4, 9))))
    if shared_missing_point:  # a missing modality embeds its all-zero input
        embeddings[~present] = rng.normal(size=embeddings.shape[1])
    return labels, embeddings.astype(dtype), present


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("seed", range(5))
def test_random_batches_with_missing_samples_match_loop(seed, dtype):
    labels, embeddings, present = random_batch(seed, dtype)
    assert 0 < present.sum() < len(present)
    loss = missing_modality_loss(labels, embeddings, present.astype("float32"))
    assert loss.dtype == tf.float32 and loss.shape == ()
    expected = reference_missing_modality(labels, embeddings, present)
    np.testing.assert_allclose(loss, expected, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("seed", range(3))
def test_all_present_equals_soft_batch_hard_triplet(seed, dtype):
    labels, embeddings, _ = random_batch(seed, dtype, missing_rate=0.0)
    present = np.ones(len(labels), dtype=bool)
    np.testing.assert_allclose(
        missing_modality_loss(labels, embeddings, present),
        batch_hard_triplet_loss(labels, embeddings, soft=True),
        rtol=1e-6,
    )


DEGENERATE = {
    "all_missing": ([0, 1, 0, 1], np.zeros((4, 5)), [0, 0, 0, 0]),
    "all_missing_distinct": ([0, 1, 2], np.random.default_rng(1).normal(size=(3, 5)), [0, 0, 0]),
    "no_positive": ([0, 1, 2, 3], np.random.default_rng(2).normal(size=(4, 5)), [1, 1, 0, 1]),
    "no_negative": ([2, 2, 2, 2], np.random.default_rng(3).normal(size=(4, 5)), [1, 0, 1, 1]),
    "single_present": ([0], np.random.default_rng(4).normal(size=(1, 5)), [1]),
    "single_missing": ([0], np.zeros((1, 5)), [0]),
    "all_zero": ([0, 0, 1, 1, 2], np.zeros((5, 4)), [1, 0, 1, 1, 0]),
    "one_valid_anchor": ([0, 1, 0], np.random.default_rng(5).normal(size=(3, 4)), [0, 1, 0]),
}


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("case", sorted(DEGENERATE))
def test_degenerate_batches_match_loop_with_finite_gradients(case, dtype):
    labels, values, present = DEGENERATE[case]
    embeddings = tf.Variable(values.astype(dtype))
    with tf.GradientTape() as tape:
        loss = missing_modality_loss(labels, embeddings, present)
    gradient = tape.gradient(loss, embeddings).numpy().astype(np.float32)
    expected = reference_missing_modality(labels, embeddings.numpy(), present)
    np.testing.assert_allclose(loss, expected, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
    assert np.all(np.isfinite(gradient))
    if not any(present):
        assert float(loss) == 0.0
        np.testing.assert_array_equal(gradient, 0.0)


def test_gradient_matches_finite_differences():
    # Distinct missing points: tied nearest missing points would make the loss non-differentiable.
    labels, embeddings, present = random_batch(9, "float64", shared_missing_point=False)
    variable = tf.Variable(embeddings.astype("float32"))
    with tf.GradientTape() as tape:
        loss = missing_modality_loss(labels, variable, present)
    gradient = tape.gradient(loss, variable).numpy()
    step = 1e-4
    for index in [(row, row % embeddings.shape[1]) for row in range(len(labels))]:
        up, down = embeddings.copy(), embeddings.copy()
        up[index] += step
        down[index] -= step
        numeric = reference_missing_modality(labels, up, present)
        numeric = (numeric - reference_missing_modality(labels, down, present)) / (2 * step)
        np.testing.assert_allclose(gradient[index], numeric, atol=1e-3)


def test_loss_class_takes_label_and_presence_columns():
    labels, embeddings, present = random_batch(4, "float32")
    packed = np.stack([labels, present.astype(labels.dtype)], axis=1)
    loss = MissingModalityLoss()
    expected = reference_missing_modality(labels, embeddings, present)
    np.testing.assert_allclose(loss(packed, embeddings), expected, rtol=1e-5)

    @tf.function(
        input_signature=[tf.TensorSpec([None, 2], tf.float32), tf.TensorSpec([None, None], tf.float32)]
    )
    def graph_loss(y_true, y_pred):
        return loss(y_true, y_pred)

    np.testing.assert_allclose(graph_loss(packed.astype("float32"), embeddings), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="y_true"):
        loss(labels, embeddings)


def test_serialization_round_trip():
    original = MissingModalityLoss(name="audio_missing_modality")
    restored = keras.losses.deserialize(keras.losses.serialize(original))
    assert isinstance(restored, MissingModalityLoss)
    assert restored.name == "audio_missing_modality"
    labels, embeddings, present = random_batch(6, "float32")
    packed = np.stack([labels, present], axis=1).astype("float32")
    np.testing.assert_allclose(restored(packed, embeddings), original(packed, embeddings), rtol=1e-6)
