"""Training callbacks: a clear stop on NaN, the learning rate in logs, progress with a time estimate, the start of
auxiliary losses."""

import logging
import math
import time

import keras

from avtfuse.console import format_duration

logger = logging.getLogger(__name__)


class StopOnNaN(keras.callbacks.Callback):
    """Raises FloatingPointError naming the phase, epoch and batch when the loss becomes NaN or inf."""

    def __init__(self, phase):
        super().__init__()
        self.phase = phase
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            terms = {k: float(v) for k, v in logs.items() if k.startswith("loss")}
            raise FloatingPointError(
                f"{self.phase}: the loss became {loss} at epoch {self.epoch + 1}, batch {batch + 1} "
                f"(terms {terms}). Lower --learning-rate, or use --precision float32 if running mixed precision.")


class LearningRateLogger(keras.callbacks.Callback):
    """Adds `learning_rate` to the epoch logs (place it before TensorBoard)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


class ProgressLogger(keras.callbacks.Callback):
    """Logs each finished epoch of a phase with its losses and metrics, the time it took and an estimate of the
    time left (one line per epoch: Keras' own epoch lines are shown with --verbose 2 or on a terminal)."""

    def __init__(self, phase, epochs, initial_epoch=0):
        super().__init__()
        self.phase = phase
        self.epochs = epochs
        self.initial_epoch = initial_epoch
        self.started = None

    def on_train_begin(self, logs=None):
        self.started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.monotonic() - self.started
        per_epoch = elapsed / (epoch + 1 - self.initial_epoch)
        left = per_epoch * (self.epochs - epoch - 1)
        values = ", ".join(f"{name} {float(value):.4f}" for name, value in (logs or {}).items()
                           if name != "learning_rate")
        logger.info("%s: epoch %d/%d, %s, %.1f s/epoch, about %s left", self.phase, epoch + 1, self.epochs,
                    values or "no logs", per_epoch, format_duration(left))


class AuxiliaryLossStart(keras.callbacks.Callback):
    """Sets the model's `auxiliary_scale` variable to 0 before epoch `start_epoch` (counted from 1) and to 1 from
    it on, at the beginning of every epoch (so a resumed run agrees). For models whose auxiliary loss terms are
    multiplied by that variable (MCT-HFR's classifier)."""

    def __init__(self, start_epoch):
        super().__init__()
        self.start_epoch = start_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.model.auxiliary_scale.assign(1.0 if epoch + 1 >= self.start_epoch else 0.0)
