"""Tests for avtfuse/training/unweighted_accuracy.py against sklearn's balanced accuracy."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import balanced_accuracy_score

from avtfuse.training.unweighted_accuracy import UnweightedAccuracy


def random_batches(seed, count=4, classes=4):
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        size = int(rng.integers(3, 12))
        labels = rng.integers(0, classes, size=size)
        scores = rng.random((size, classes)).astype("float32")
        scores[rng.random(size) < 0.5, :] *= 0.1
        scores[np.arange(size), labels] += rng.random(size) * 0.6  # better than chance, not perfect
        batches.append((labels, scores))
    return batches


@pytest.mark.parametrize("seed", range(3))
def test_accumulates_over_batches_like_sklearn(seed):
    metric = UnweightedAccuracy(4)
    batches = random_batches(seed)
    for labels, scores in batches:
        metric.update_state(labels, scores)
    labels = np.concatenate([b[0] for b in batches])
    predicted = np.concatenate([b[1] for b in batches]).argmax(axis=1)
    assert float(metric.result()) == pytest.approx(balanced_accuracy_score(labels, predicted), abs=1e-6)


def test_sample_weights_and_column_labels():
    labels, scores = random_batches(3, count=1)[0]
    weights = np.random.default_rng(4).random(len(labels))
    metric = UnweightedAccuracy(4)
    metric.update_state(labels[:, None], scores, sample_weight=weights)
    expected = balanced_accuracy_score(labels, scores.argmax(axis=1), sample_weight=weights)
    assert float(metric.result()) == pytest.approx(expected, abs=1e-6)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_classes_absent_from_y_true_are_ignored():
    metric = UnweightedAccuracy(5)
    labels = np.array([0, 0, 2, 2, 2])
    predicted = np.array([0, 4, 2, 2, 1])  # class 4 predicted, never true; 1 and 3 never true
    metric.update_state(labels, np.eye(5, dtype="float32")[predicted])
    assert float(metric.result()) == pytest.approx((0.5 + 2 / 3) / 2, abs=1e-6)
    assert float(metric.result()) == pytest.approx(balanced_accuracy_score(labels, predicted), abs=1e-6)


def test_reset_state_and_empty_result():
    metric = UnweightedAccuracy(3)
    assert float(metric.result()) == 0.0
    metric.update_state([0, 1, 2], np.eye(3, dtype="float32")[[1, 1, 1]])
    assert float(metric.result()) == pytest.approx(1 / 3)
    metric.reset_state()
    assert float(metric.result()) == 0.0
    metric.update_state([2, 2], np.eye(3, dtype="float32")[[2, 2]])
    assert float(metric.result()) == pytest.approx(1.0)


def test_update_in_a_graph_with_unknown_batch():
    metric = UnweightedAccuracy(4)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([None, 4], tf.float16)])
    def update(labels, scores):
        metric.update_state(labels, scores)

    batches = random_batches(5)
    for labels, scores in batches:
        update(labels.astype("int32"), scores.astype("float16"))
    labels = np.concatenate([b[0] for b in batches])
    predicted = np.concatenate([b[1].astype("float16") for b in batches]).argmax(axis=1)
    assert float(metric.result()) == pytest.approx(balanced_accuracy_score(labels, predicted), abs=1e-6)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="num_classes"):
        UnweightedAccuracy(1)
    metric = UnweightedAccuracy(3)
    with pytest.raises(ValueError, match="y_pred"):
        metric.update_state([0, 1], np.zeros((2, 4), "float32"))
    with pytest.raises(ValueError, match="y_true"):
        metric.update_state(np.zeros((2, 3)), np.zeros((2, 3), "float32"))


def test_config_round_trip():
    metric = UnweightedAccuracy(6, name="val_ua_custom")
    restored = keras.metrics.deserialize(keras.metrics.serialize(metric))
    assert isinstance(restored, UnweightedAccuracy)
    assert restored.num_classes == 6 and restored.name == "val_ua_custom"


def test_fit_logs_val_ua_and_compiled_model_survives_save_load(tmp_path):
    rng = np.random.default_rng(6)
    features = rng.normal(size=(48, 5)).astype("float32")
    labels = (features[:, 0] > 0).astype("int32") + 2 * (features[:, 1] > 0).astype("int32")
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=[UnweightedAccuracy(4)])
    history = model.fit(features, labels, validation_data=(features, labels), epochs=2, batch_size=16, verbose=0)
    assert "ua" in history.history and "val_ua" in history.history

    expected = balanced_accuracy_score(labels, model.predict(features, verbose=0).argmax(axis=1))
    results = model.evaluate(features, labels, batch_size=16, return_dict=True, verbose=0)
    assert results["ua"] == pytest.approx(expected, abs=1e-6)

    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    restored_results = restored.evaluate(features, labels, batch_size=16, return_dict=True, verbose=0)
    assert restored_results["ua"] == pytest.approx(expected, abs=1e-6)
