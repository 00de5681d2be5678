"""One resumable training phase: fit, checkpoint every epoch, stop on NaN, TensorBoard, completion marker.

A phase named N of a run keeps in the run folder:
  checkpoints/N/epoch-0007.weights.h5   weights and optimizer state after 7 epochs (the latest only)
  checkpoints/N/best.weights.h5, best.json   with early stopping: the best validation epoch's weights and record
  tensorboard/N/                        losses, learning rate, epoch time
  N.done                                the completion marker, written after the phase's artefacts
Every file is written under a temporary name and renamed, so a run killed at
any moment (kill -9 included) resumes from the last whole epoch. Each epoch's
batches are a function of (seed, epoch) (see `pipelines.batching.training_batches`),
so a resumed run computes what an uninterrupted one would have.

Under multi-worker training (`avtfuse.training.workers`) every worker reads
the run folder (where to resume) and the chief alone writes it.
"""

import glob
import json
import logging
import math
import os
import re

import keras

from avtfuse.files import atomic_text, atomic_write, inside
from avtfuse.training.callbacks import LearningRateLogger, ProgressLogger, StopOnNaN
from avtfuse.training.optimizer_state import load_checkpoint
from avtfuse.training.people_eer import PEOPLE_EER
from avtfuse.training.workers import (
    barrier,
    same_on_every_worker,
    split_across_workers,
    worker_role,
)

logger = logging.getLogger(__name__)

# Matched against whole file names: a .partial- checkpoint (a kill mid-write) is not one.
CHECKPOINT_PATTERN = re.compile(r"epoch-(\d+)\.weights\.h5")


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves weights and optimizer state after every epoch as epoch-NNNN.weights.h5, atomically,
    and removes the older checkpoints; on the chief `role` alone."""

    def __init__(self, folder, role):
        super().__init__()
        self.folder, self.role = folder, role

    def on_epoch_end(self, epoch, logs=None):
        if not self.role.is_chief:
            return
        path = os.path.join(self.folder, f"epoch-{epoch + 1:04d}.weights.h5")
        atomic_write(path, self.model.save_weights)
        for older in glob.glob(os.path.join(self.folder, "epoch-*.weights.h5")):
            if older != path:
                os.remove(inside(older, self.folder))


class EarlyStopping(keras.callbacks.Callback):
    """Stops a phase once `monitor` (a validation metric) has not improved for `patience` epochs; resumable.

    After every epoch the record {"epoch": best epoch, "value", "wait": epochs since, "last": last epoch seen,
    "stopped"} is written to best.json and the best epoch's weights to best.weights.h5 (atomically), so a
    resumed phase goes on counting where it was. mode "min" or "max". Only the chief `role` keeps the files;
    every worker keeps the same record in memory.
    """

    def __init__(self, folder, monitor, mode, patience, role):
        super().__init__()
        self.folder, self.monitor, self.mode, self.patience, self.role = folder, monitor, mode, patience, role
        self.state = self.read(folder)

    @staticmethod
    def read(folder):
        """The record in best.json, or a fresh one."""
        path = os.path.join(folder, "best.json")
        if not os.path.exists(path):
            return {"epoch": 0, "value": None, "wait": 0, "last": 0, "stopped": False}
        with open(path) as handle:
            return json.load(handle)

    def improved(self, value):
        best = self.state["value"]
        return best is None or (value < best if self.mode == "min" else value > best)

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 <= self.state["last"]:  # an epoch redone after a kill: already counted
            return
        if self.monitor not in (logs or {}):
            raise KeyError(f"early stopping: no {self.monitor!r} in the epoch logs {sorted(logs or {})}")
        value = float(logs[self.monitor])
        if math.isfinite(value) and self.improved(value):
            if self.role.is_chief:
                atomic_write(os.path.join(self.folder, "best.weights.h5"), self.model.save_weights)
            self.state.update(epoch=epoch + 1, value=value, wait=0)
        else:
            self.state["wait"] += 1
        self.state.update(last=epoch + 1, stopped=self.state["wait"] >= self.patience)
        if self.role.is_chief:
            atomic_text(os.path.join(self.folder, "best.json"), json.dumps(self.state))
        if self.state["stopped"]:
            logger.info("early stopping after epoch %d: %s last improved at epoch %d (%.4f)", epoch + 1,
                        self.monitor, self.state["epoch"], self.state["value"])
            self.model.stop_training = True


def build_training_state(model, batch):
    """Creates the variables of a compiled `model`'s layers, loss, metrics and optimizer by running them eagerly
    on `batch` (inputs, labels), metrics reset after, so that fit traces its training step once: Keras otherwise
    traces the forward pass, the loss and the metrics into a graph of their own to create them
    (`_symbolic_build`), and an optimizer first built inside the traced step makes TensorFlow trace it again
    (a tiny AVTNet run: the embeddings phase 25.6 -> 18.8 s of CPU, the same results). A model with layers that
    an inference call leaves unbuilt is left with its optimizer unbuilt: Keras builds it once those layers exist
    (MCT-HFR builds its training-only decoders with the model, so it is built here)."""
    inputs, labels = batch[0], batch[1]
    with model.distribute_strategy.scope():
        predictions = model(inputs, training=False)
        model.compute_loss(x=inputs, y=labels, y_pred=predictions, training=False)
        model.compute_metrics(inputs, labels, predictions, sample_weight=None)
        model.reset_metrics()
        if all(layer.built for layer in model._flatten_layers()):  # Keras' own test of a built model
            model.optimizer.build(model.trainable_variables)


class PhaseRunner:
    """Runs the named phases of one run folder, resumably.

    Args:
        run_dir: the run folder.
        verbose: Keras progress (0 silent, 1 bars, 2 one line per epoch).
        role: this process's `WorkerRole` (default: from TF_CONFIG); only the chief writes the run folder.
    """

    def __init__(self, run_dir, verbose=2, role=None):
        self.run_dir = run_dir
        self.verbose = verbose
        self.role = role or worker_role()

    def path(self, *parts):
        """A path inside the run folder."""
        return os.path.join(self.run_dir, *parts)

    def is_done(self, phase):
        """True once `finish(phase)` has written the phase's completion marker."""
        return os.path.exists(self.path(f"{phase}.done"))

    def finish(self, phase, artefacts):
        """Writes each artefact atomically, then the completion marker (on the chief alone).

        artefacts: {file name in the run folder: write(path) function}.
        """
        if self.role.is_chief:
            for name, write in artefacts.items():
                atomic_write(self.path(name), write)
            atomic_text(self.path(f"{phase}.done"), "")
        logger.info("%s: finished", phase)

    def restored_epoch(self, phase, model, example=None):
        """Loads the phase's latest checkpoint into the compiled `model`; returns its epoch (0 when none).

        example: None, or a function () -> one batch of the model's inputs; the
        model is first called on it in training mode, so that a model whose
        layers build on their first call (a subclassed model; one with
        training-only branches) has every weight the checkpoint holds. The
        loaded checkpoint then replaces whatever that call changed. The optimizer's step counter and moments
        carry over under another precision or device count (`optimizer_state.load_checkpoint`). Under
        multi-worker training every worker loads the chief's checkpoint, after checking that all found the same."""
        folder = self.path("checkpoints", phase)
        epochs = sorted(int(m.group(1)) for m in (CHECKPOINT_PATTERN.fullmatch(p) for p in os.listdir(folder))
                        if m) if os.path.isdir(folder) else []
        epoch = same_on_every_worker(model.distribute_strategy, epochs[-1] if epochs else 0,
                                     f"{phase}: the last checkpointed epoch in {folder}", self.role)
        if not epoch:
            return 0
        with model.distribute_strategy.scope():  # the strategy the model was compiled under holds its optimizer
            if example is not None:
                model(example(), training=True)
            model.optimizer.build(model.trainable_variables)
            load_checkpoint(model, os.path.join(folder, f"epoch-{epoch:04d}.weights.h5"))
        logger.info("%s: resuming after epoch %d", phase, epoch)
        return epoch

    def fit(self, phase, model, epoch_batches, epochs, callbacks=(), validation=None, early_stopping=None):
        """Fits a compiled `model` for `epochs` epochs, continuing from the phase's last checkpoint.

        validation: a dataset of validation batches, evaluated after every
        epoch (val_* in the logs and TensorBoard), or None. early_stopping:
        None, or (monitor, mode, patience): stop once the validation metric
        `monitor` has not improved for `patience` epochs and end with the best
        epoch's weights.

        epoch_batches(epoch) -> (dataset of exactly `steps` batches, steps): the
        training batches of one epoch, the same whenever asked for and on every
        iteration (under a distribution strategy Keras first reads a batch from
        an iterator of its own: shuffle with reshuffle_each_iteration=False).
        Each batch is the global batch: the replicas (of every worker) split it.
        `callbacks` run before the runner's own. Returns the model; a phase
        already finished must not be fitted again (see `is_done`).
        """
        folder = self.path("checkpoints", phase)
        start = self.restored_epoch(phase, model, example=lambda: next(iter(epoch_batches(0)[0]))[0])
        stopper = None
        if early_stopping is not None:
            if validation is None and early_stopping[0] != PEOPLE_EER:
                raise ValueError(f"{phase}: early stopping needs a validation split (--validation-fraction > 0)")
            stopper = EarlyStopping(folder, *early_stopping, role=self.role)
        if start < epochs and not (stopper and stopper.state["stopped"]):
            data, steps = epoch_batches(start)
            for epoch in range(start + 1, epochs):
                data = data.concatenate(epoch_batches(epoch)[0])
            logger.info("%s: epochs %d-%d of %d, %d steps each", phase, start + 1, epochs, epochs, steps)
            build_training_state(model, next(iter(data)))
            model.fit(
                split_across_workers(data), shuffle=False, initial_epoch=start, epochs=epochs,
                steps_per_epoch=steps, verbose=self.verbose,
                validation_data=None if validation is None else split_across_workers(validation),
                callbacks=[
                    *callbacks,
                    LearningRateLogger(),
                    StopOnNaN(phase),
                    *([stopper] if stopper else []),
                    ProgressLogger(phase, epochs, start),
                    EpochCheckpoint(folder, self.role),
                    *([keras.callbacks.TensorBoard(self.path("tensorboard", phase))] if self.role.is_chief else []),
                ])
        if stopper and stopper.state["epoch"]:
            barrier(model.distribute_strategy, self.role)  # the chief has written the best weights
            with model.distribute_strategy.scope():
                load_checkpoint(model, os.path.join(folder, "best.weights.h5"))
            logger.info("%s: kept the weights of epoch %d (%s %.4f)", phase, stopper.state["epoch"],
                        stopper.monitor, stopper.state["value"])
        return model
