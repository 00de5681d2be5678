"""Callbacks: NaN stop, learning-rate logging, progress with a time estimate."""

import logging

import keras
import numpy as np
import pytest

from avtfuse.console import format_duration
from avtfuse.training.callbacks import LearningRateLogger, ProgressLogger, StopOnNaN


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


def test_progress_logger_reports_each_epoch_with_an_estimate(caplog):
    model = tiny_classifier()
    x = np.random.default_rng(1).normal(size=(12, 4)).astype(np.float32)
    with caplog.at_level(logging.INFO, logger="avtfuse.training.callbacks"):
        model.fit(x, np.arange(12) % 3, epochs=3, initial_epoch=1, verbose=0,
                  callbacks=[ProgressLogger("progress-test", 3, initial_epoch=1)])
    # This phase's lines alone (a worker process may log other phases' progress from earlier tests' threads).
    lines = [record.getMessage() for record in caplog.records if record.getMessage().startswith("progress-test:")]
    assert [line.split(",")[0] for line in lines] == ["progress-test: epoch 2/3", "progress-test: epoch 3/3"]
    assert lines[-1].endswith("about 0 s left") and "loss" in lines[0]


@pytest.mark.parametrize("seconds, text", [(12.4, "12 s"), (185, "3 min 05 s"), (3720, "1 h 02 min")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text
