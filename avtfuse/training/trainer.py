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
from avtfuse.models.e2e import build_e2e
from avtfuse.models.recognizer import build_recognizer
from avtfuse.modalities import condition_name
from avtfuse.training.callbacks import ConditionAccuracyLogger, LearningRateLogger, StopOnNaN

logger = logging.getLogger(__name__)


class TwoPhaseTrainer:
    """Trains AVTNet as the seed paper does.

    `data` provides `batches(split, batch_size, training=..., seed=...)`
    yielding (inputs, label) batches of the data contract, `pk_batches(split,
    P, K, seed)`, `samples(split)`, `count(split)`, `num_people` and
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
        self._fit(model, "phase1")
        model.save(path)
        return model

    def _fit(self, model, phase):
        """Fits `model` for epochs_embed epochs on training batches (random or P x K)."""
        cfg = self.train_config
        if cfg.sampler == "pk":
            train, steps = self.data.pk_batches(
                "train", cfg.people_per_batch, cfg.batch_size // cfg.people_per_batch, seed=cfg.seed)
        else:
            train = self.data.batches(
                "train", cfg.batch_size, training=True, seed=cfg.seed,
                dropout_rate=cfg.modality_dropout, dropout_mode=cfg.dropout_mode).repeat()
            steps = max(self.data.count("train") // cfg.batch_size, 1)
        model.fit(train, epochs=cfg.epochs_embed, steps_per_epoch=steps, shuffle=False,
                  verbose=self.verbose, callbacks=self._callbacks(phase))

    def train_end_to_end(self):
        """The E2E baseline: branches and recognition head trained together with
        cross-entropy in one phase of epochs_embed epochs. Returns (features_model, recognizer)."""
        paths = self._path("phase1", "features.keras"), self._path("phase2", "recognizer.keras")
        if all(os.path.exists(p) for p in paths):
            logger.info("end-to-end training already finished: loading %s", self.run_dir)
            with self.runtime.strategy.scope():
                return tuple(keras.models.load_model(p) for p in paths)
        with self.runtime.strategy.scope():
            features, recognizer, combined = build_e2e(self.model_config, self.data.num_people)
            combined.compile(optimizer=self._optimizer(), loss="sparse_categorical_crossentropy",
                             metrics=["accuracy"], jit_compile=self.train_config.jit_compile)
        features.adapt(self.data.samples("train"))
        logger.info("training end to end for %d epochs", self.train_config.epochs_embed)
        self._fit(combined, "e2e")
        features.save(paths[0])
        recognizer.save(paths[1])
        return features, recognizer

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

    def run(self, end_to_end=False):
        """Both phases (or the single end-to-end phase); returns (embedding_model, recognizer, test_set)."""
        if end_to_end:
            model, recognizer = self.train_end_to_end()
            return model, recognizer, self.embed(model, "test")
        model = self.train_embeddings()
        train_set = self.embed(model, "train")
        test_set = self.embed(model, "test")
        recognizer = self.train_recognizer(train_set, test_set)
        return model, recognizer, test_set
