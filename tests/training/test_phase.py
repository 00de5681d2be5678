"""PhaseRunner and atomic_write: one checkpoint per phase, exact resumption, completion markers, atomic files."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from avtfuse.files import atomic_write
from avtfuse.training.phase import PhaseRunner

STEPS = 3


def epoch_batches(epoch):
    """Each epoch's shuffled batches, a function of the epoch alone: (dataset of STEPS batches, STEPS)."""
    rng = np.random.default_rng(epoch)
    x = rng.normal(size=(4 * STEPS, 5)).astype(np.float32)
    y = (x @ np.arange(1, 6, dtype=np.float32)[:, None]).astype(np.float32)
    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(4 * STEPS, seed=epoch, reshuffle_each_iteration=False)
    return data.batch(4), STEPS


def tiny_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    return model


def write_text(text):
    """A writer of `text` for atomic_write."""
    def write(path):
        with open(path, "w") as handle:
            handle.write(text)
    return write


class EpochRecorder(keras.callbacks.Callback):
    """Records the (0-based) epochs that were trained."""

    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


def fit(runner, model, epochs):
    """Fits through the runner; returns the epochs that were trained."""
    recorder = EpochRecorder()
    runner.fit("phase", model, epoch_batches, epochs, callbacks=[recorder])
    return recorder.epochs


def test_fit_keeps_one_checkpoint_named_after_the_last_epoch(tmp_path):
    runner = PhaseRunner(str(tmp_path), verbose=0)
    assert fit(runner, tiny_model(), 3) == [0, 1, 2]
    assert os.listdir(tmp_path / "checkpoints" / "phase") == ["epoch-0003.weights.h5"]
    assert list((tmp_path / "tensorboard" / "phase").rglob("events.out.tfevents*"))


def test_resumed_fit_ends_with_the_weights_of_an_uninterrupted_one(tmp_path, caplog):
    uninterrupted = tiny_model()
    fit(PhaseRunner(str(tmp_path / "a"), verbose=0), uninterrupted, 4)
    runner = PhaseRunner(str(tmp_path / "b"), verbose=0)
    first = tiny_model()
    fit(runner, first, 2)
    resumed = tiny_model()
    with caplog.at_level("INFO"):
        assert fit(runner, resumed, 4) == [2, 3]
    assert "phase: resuming after epoch 2" in caplog.text
    assert not np.allclose(first.get_weights()[0], uninterrupted.get_weights()[0])
    for got, expected in zip(resumed.get_weights(), uninterrupted.get_weights()):
        np.testing.assert_array_equal(got, expected)
    for got, expected in zip(resumed.optimizer.variables, uninterrupted.optimizer.variables):
        np.testing.assert_array_equal(got.numpy(), expected.numpy(), err_msg=got.path)
    assert fit(runner, tiny_model(), 4) == []


def test_restore_loads_the_optimizer_state_with_the_weights(tmp_path):
    runner = PhaseRunner(str(tmp_path), verbose=0)
    trained = tiny_model()
    fit(runner, trained, 2)
    fresh = tiny_model()
    assert runner.restored_epoch("phase", fresh) == 2
    assert int(fresh.optimizer.iterations.numpy()) == 2 * STEPS
    for got, expected in zip(fresh.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(got, expected)
    moments = [v for v in fresh.optimizer.variables if "momentum" in v.path or "velocity" in v.path]
    assert moments and all(np.any(v.numpy() != 0) for v in moments)


def test_resume_of_a_model_compiled_under_a_distribution_strategy(tmp_path):
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        uninterrupted, first, resumed = tiny_model(), tiny_model(), tiny_model()
    fit(PhaseRunner(str(tmp_path / "a"), verbose=0), uninterrupted, 3)
    runner = PhaseRunner(str(tmp_path / "b"), verbose=0)
    fit(runner, first, 1)
    assert fit(runner, resumed, 3) == [1, 2]
    assert int(resumed.optimizer.iterations.numpy()) == 3 * STEPS
    for got, expected in zip(resumed.get_weights(), uninterrupted.get_weights()):
        np.testing.assert_array_equal(got, expected)


class LazyModel(keras.Model):
    """A subclassed model whose layers build on their first call (as ContractClassifier does)."""

    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(3, activation="relu")
        self.output_layer = keras.layers.Dense(1)

    def call(self, inputs, training=None):
        return self.output_layer(self.hidden(inputs))


def lazy_model():
    keras.utils.set_random_seed(0)
    model = LazyModel()
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    return model


def test_resume_of_a_model_built_on_its_first_call(tmp_path):
    runner = PhaseRunner(str(tmp_path), verbose=0)
    trained = lazy_model()
    fit(runner, trained, 2)
    fresh = lazy_model()
    with pytest.raises(ValueError, match="not yet been built"):
        runner.restored_epoch("phase", lazy_model())
    assert runner.restored_epoch("phase", fresh, example=lambda: next(iter(epoch_batches(0)[0]))[0]) == 2
    for got, expected in zip(fresh.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(got, expected)
    assert fit(runner, fresh, 3) == [2]


def test_restore_skips_a_checkpoint_killed_mid_write(tmp_path):
    runner = PhaseRunner(str(tmp_path), verbose=0)
    fit(runner, tiny_model(), 2)
    (tmp_path / "checkpoints" / "phase" / ".partial-epoch-0003.weights.h5").write_bytes(b"\x89HDF half")
    assert runner.restored_epoch("phase", tiny_model()) == 2
    assert runner.restored_epoch("other", tiny_model()) == 0


def test_phase_is_done_only_once_finish_wrote_its_artefacts(tmp_path):
    runner = PhaseRunner(str(tmp_path), verbose=0)
    assert not runner.is_done("phase")

    def broken(path):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        runner.finish("phase", {"model.txt": broken})
    assert not runner.is_done("phase")
    runner.finish("phase", {"model.txt": write_text("weights")})
    assert runner.is_done("phase")
    assert (tmp_path / "model.txt").read_text() == "weights"
    assert sorted(os.listdir(tmp_path)) == ["model.txt", "phase.done"]


def test_atomic_write_leaves_no_partial_target_when_the_writer_fails(tmp_path):
    def half_then_fail(path):
        write_text("half")(path)
        raise RuntimeError("writer failed")

    target = tmp_path / "sub" / "file.json"
    with pytest.raises(RuntimeError, match="writer failed"):
        atomic_write(str(target), half_then_fail)
    assert not target.exists() and os.listdir(target.parent) == []  # nor a partial file
    atomic_write(str(target), write_text("whole"))
    with pytest.raises(RuntimeError, match="writer failed"):
        atomic_write(str(target), half_then_fail)
    assert target.read_text() == "whole" and os.listdir(target.parent) == ["file.json"]


def opposite_validation():
    """Validation batches whose targets are the negated training rule: its loss rises as the model learns."""
    x = np.random.default_rng(99).normal(size=(8, 5)).astype(np.float32)
    y = -(x @ np.arange(1, 6, dtype=np.float32)[:, None])
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(4)


def test_early_stopping_keeps_the_best_validation_epoch(tmp_path):
    runner = PhaseRunner(str(tmp_path / "stopped"), verbose=0)
    recorder = EpochRecorder()
    model = runner.fit("phase", tiny_model(), epoch_batches, 10, callbacks=[recorder],
                       validation=opposite_validation(), early_stopping=("val_loss", "min", 2))
    assert recorder.epochs == [0, 1, 2]  # best after epoch 1, two epochs without improvement, stop
    one_epoch = tiny_model()
    PhaseRunner(str(tmp_path / "one"), verbose=0).fit("phase", one_epoch, epoch_batches, 1)
    for kept, expected in zip(model.get_weights(), one_epoch.get_weights()):
        np.testing.assert_allclose(kept, expected, rtol=1e-6)


def test_early_stopping_without_validation_is_refused(tmp_path):
    with pytest.raises(ValueError, match="validation"):
        PhaseRunner(str(tmp_path), verbose=0).fit("phase", tiny_model(), epoch_batches, 3,
                                                  early_stopping=("val_loss", "min", 2))


def test_early_stopping_resumes_its_count_after_a_kill(tmp_path):
    """A run stopped (as if killed) after 2 epochs goes on counting epochs without improvement: it stops
    after the same epoch and keeps the same weights as an uninterrupted run."""
    whole = PhaseRunner(str(tmp_path / "whole"), verbose=0).fit(
        "phase", tiny_model(), epoch_batches, 10, validation=opposite_validation(),
        early_stopping=("val_loss", "min", 3))
    runner = PhaseRunner(str(tmp_path / "parts"), verbose=0)
    runner.fit("phase", tiny_model(), epoch_batches, 2, validation=opposite_validation(),
               early_stopping=("val_loss", "min", 3))
    recorder = EpochRecorder()
    resumed = runner.fit("phase", tiny_model(), epoch_batches, 10, callbacks=[recorder],
                         validation=opposite_validation(), early_stopping=("val_loss", "min", 3))
    assert recorder.epochs == [2, 3]  # epochs 3 and 4 complete the three without improvement
    for got, expected in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_allclose(got, expected, rtol=1e-6)
