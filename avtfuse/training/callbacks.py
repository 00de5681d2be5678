"""Training callbacks: a clear stop on NaN, the learning rate and per-condition accuracy in logs."""

import math

import keras
import numpy as np


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


class ConditionAccuracyLogger(keras.callbacks.Callback):
    """Adds the test accuracy per missing-sensor condition to the epoch logs of the recogniser.

    `embeddings` [N, D], `labels` [N] and `conditions` [N] (condition names)
    describe the test samples; logs get `val_acc_<condition>` for each.
    """

    def __init__(self, embeddings, labels, conditions, batch_size=256):
        super().__init__()
        self.embeddings = embeddings
        self.labels = np.asarray(labels)
        self.conditions = np.asarray(conditions)
        self.batch_size = batch_size

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        predicted = self.model.predict(self.embeddings, batch_size=self.batch_size, verbose=0).argmax(-1)
        for name in np.unique(self.conditions):
            rows = self.conditions == name
            logs[f"val_acc_{name}"] = float((predicted[rows] == self.labels[rows]).mean())
