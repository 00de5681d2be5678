"""The two-phase AVTNet trainer: embeddings first, then the recogniser on frozen embeddings.

Every stage leaves its result in the run folder, so a killed run resumes
where it stopped: inside a phase from the last epoch (BackupAndRestore), and
a finished phase is loaded instead of trained again.
"""

import logging
import os

import keras
import numpy as np

from avtfuse.models.avtnet import AVTNet
from avtfuse.models.recognizer import build_recognizer
from avtfuse.modalities import condition_name
from avtfuse.training.callbacks import ConditionAccuracyLogger, LearningRateLogger, StopOnNaN

logger = logging.getLogger(__name__)


class TwoPhaseTrainer:
    """Trains AVTNet as the seed paper does.

    `data` provides `batches(split, batch_size, training=..., seed=...)`
    yielding (inputs, label) batches of the data contract, `num_people` and
    `config.modalities` (pipelines.dataset.SplitData does). `run_dir` receives
    phase1/embedding.keras, phase2/embeddings.npz, phase2/recognizer.keras,
    backups while training and TensorBoard logs under tensorboard/.
    """

    def __init__(self, model_config, train_config, data, runtime, run_dir, verbose=1):
        self.model_config = model_config
        self.train_config = train_config
        self.data = data
        self.runtime = runtime
        self.run_dir = run_dir
        self.verbose = verbose

    def _path(self, *parts):
        """A path inside the run folder, its parent folder created."""
        path = os.path.join(self.run_dir, *parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    def _optimizer(self):
        cfg = self.train_config
        return keras.optimizers.Adam(learning_rate=cfg.learning_rate, beta_1=cfg.beta_1, beta_2=cfg.beta_2)

    def _callbacks(self, phase, extra=()):
        return [
            *extra,
            LearningRateLogger(),
            StopOnNaN(phase),
            keras.callbacks.BackupAndRestore(os.path.join(self.run_dir, "backup", phase)),
            keras.callbacks.TensorBoard(os.path.join(self.run_dir, "tensorboard", phase)),
        ]

    def train_embeddings(self):
        """Phase 1: fits (or loads, when already finished) the embedding model."""
        path = self._path("phase1", "embedding.keras")
        if os.path.exists(path):
            logger.info("phase 1 already finished: loading %s", path)
            with self.runtime.strategy.scope():
                return keras.models.load_model(path)
        cfg = self.train_config
        with self.runtime.strategy.scope():
            model = AVTNet(self.model_config)
            model.compile(optimizer=self._optimizer(), jit_compile=cfg.jit_compile)
        model.adapt(self.data.samples("train"))
        logger.info("phase 1: training the embeddings for %d epochs", cfg.epochs_embed)
        train = self.data.batches("train", cfg.batch_size, training=True, seed=cfg.seed).repeat()
        steps = max(self.data.count("train") // cfg.batch_size, 1)
        model.fit(train, epochs=cfg.epochs_embed, steps_per_epoch=steps, shuffle=False,
                  verbose=self.verbose, callbacks=self._callbacks("phase1"))
        model.save(path)
        return model

    def embed(self, model, split):
        """Embeds a split with the frozen phase-1 model.

        Returns (embeddings [N, 256 k], labels [N], present [N, M]); cached in
        phase2/embeddings_<split>.npz.
        """
        path = self._path("phase2", f"embeddings_{split}.npz")
        if os.path.exists(path):
            with np.load(path) as cached:
                return cached["embeddings"], cached["labels"], cached["present"]
        batches = self.data.batches(split, self.train_config.batch_size)
        outputs = model.predict(batches.map(lambda x, y: x), verbose=0)
        embeddings = keras.ops.convert_to_numpy(model.concatenate_embeddings(outputs)).astype(np.float32)
        labels, present = [], []
        for x, y in batches:
            labels.append(y.numpy())
            present.append(x["present"].numpy())
        labels, present = np.concatenate(labels), np.concatenate(present)
        np.savez(path, embeddings=embeddings, labels=labels, present=present)
        return embeddings, labels, present

    def train_recognizer(self, train_set, test_set):
        """Phase 2: fits (or loads) the recogniser on frozen embeddings (each set: embeddings, labels, present)."""
        path = self._path("phase2", "recognizer.keras")
        if os.path.exists(path):
            logger.info("phase 2 already finished: loading %s", path)
            with self.runtime.strategy.scope():
                return keras.models.load_model(path)
        cfg = self.train_config
        (x_train, y_train, _), (x_test, y_test, present_test) = train_set, test_set
        conditions = [condition_name(p, self.data.config.modalities) for p in present_test]
        with self.runtime.strategy.scope():
            recognizer = build_recognizer(x_train.shape[1], self.data.num_people)
            recognizer.compile(
                optimizer=self._optimizer(),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
                jit_compile=cfg.jit_compile,
            )
        logger.info("phase 2: training the recogniser for %d epochs", cfg.epochs_recognizer)
        recognizer.fit(
            x_train, y_train,
            batch_size=cfg.batch_size,
            epochs=cfg.epochs_recognizer,
            shuffle=True,
            validation_data=(x_test, y_test),
            verbose=self.verbose,
            callbacks=self._callbacks("phase2", [ConditionAccuracyLogger(x_test, y_test, conditions)]),
        )
        recognizer.save(path)
        return recognizer

    def run(self):
        """Both phases; returns (embedding_model, recognizer, test_set)."""
        model = self.train_embeddings()
        train_set = self.embed(model, "train")
        test_set = self.embed(model, "test")
        recognizer = self.train_recognizer(train_set, test_set)
        return model, recognizer, test_set
