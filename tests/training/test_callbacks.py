"""Callbacks: NaN stop, learning-rate logging, per-condition accuracy against NumPy."""

import keras
import numpy as np
import pytest

from avtfuse.training.callbacks import ConditionAccuracyLogger, LearningRateLogger, StopOnNaN


def tiny_classifier(classes=3, features=4):
    model = keras.Sequential([keras.Input((features,)), keras.layers.Dense(classes, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    return model


def test_stop_on_nan_names_phase_epoch_and_batch():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((8, 2), np.float32)
    y = np.full((8, 1), np.nan, np.float32)
    with pytest.raises(FloatingPointError, match=r"phase1: the loss became nan at epoch 1, batch 1"):
        model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[StopOnNaN("phase1")])


def test_learning_rate_is_logged():
    model = tiny_classifier()
    x = np.random.default_rng(0).normal(size=(12, 4)).astype(np.float32)
    history = model.fit(x, np.arange(12) % 3, epochs=2, verbose=0, callbacks=[LearningRateLogger()])
    np.testing.assert_allclose(history.history["learning_rate"], [0.01, 0.01], rtol=1e-6)


def test_condition_accuracy_matches_numpy():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 4)).astype(np.float32)
    y = rng.integers(0, 3, 30)
    conditions = np.array(["complete", "missing_audio", "only_visible"] * 10)
    model = tiny_classifier()
    logger = ConditionAccuracyLogger(x, y, conditions)
    history = model.fit(x, y, epochs=1, verbose=0, callbacks=[logger])
    predicted = model.predict(x, verbose=0).argmax(-1)
    for name in set(conditions):
        expected = np.mean([p == t for p, t, c in zip(predicted, y, conditions) if c == name])
        assert history.history[f"val_acc_{name}"][0] == pytest.approx(expected)
