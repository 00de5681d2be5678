"""Recipes: which phases train a system's variant. Each returns the trained `ContractClassifier` and leaves
it in the run folder as `CLASSIFIER_FILE` (classifier.keras).

Every phase ends by measuring its batch-norm statistics on the training data
(`avtfuse.training.batch_norm`), so that inference normalises as training did;
an end-to-end phase measures them on its training batches as it saw them
(with their modality dropout or replication).

`RECIPES` maps the recipe names that `avtfuse.models.system.Variant` uses to
functions of a `RecipeContext`. A phase finished earlier in the run folder is
loaded instead of trained again (see `PhaseRunner`).
"""

import dataclasses
import logging
import os

import keras
import numpy as np
import tensorflow as tf

from avtfuse.contract import AUGMENT_STRENGTHS
from avtfuse.models.base import ContractClassifier
from avtfuse.models.mct_hfr import HybridReconstructionClassifier
from avtfuse.training.batch_norm import refresh_batch_norm
from avtfuse.training.callbacks import AuxiliaryLossStart
from avtfuse.training.people_eer import PEOPLE_EER, HeldOutPeopleEER
from avtfuse.training.sgd import DampenedSGD, step_schedule
from avtfuse.training.specialist_branches import adopt_specialist_branches
from avtfuse.training.unweighted_accuracy import UnweightedAccuracy
from pipelines.batching import BatchPolicy, epoch_steps, training_batches, without_autotune

logger = logging.getLogger(__name__)
CLASSIFIER_FILE = "classifier.keras"


@dataclasses.dataclass
class RecipeContext:
    """Everything a recipe reads.

    system, variant: the `System` and its `Variant`; model_config: the variant's
    model config; train: the TrainConfig; data: the prepared SplitData;
    runtime: the Runtime (strategy, precision); runner: the run's PhaseRunner;
    specialist_runs: {modality: the run folder of its trained specialist} for a
    recipe that starts from them (ExperimentConfig.specialist_branches), or None.
    """

    system: object
    variant: object
    model_config: object
    train: object
    data: object
    runtime: object
    runner: object
    specialist_runs: dict = None

    def optimizer(self, steps_per_epoch):
        """TrainConfig's optimizer, its learning rate stepped at `lr_step_epochs` (epochs of `steps_per_epoch`), with
        its decoupled `weight_decay` (Keras' optimizer argument, applied before each update; None when 0)."""
        cfg = self.train
        learning_rate = step_schedule(cfg.learning_rate, cfg.lr_step_epochs, cfg.lr_step_factor, steps_per_epoch)
        extra = {"weight_decay": cfg.weight_decay or None}
        if cfg.clip_value:
            extra["clipvalue"] = cfg.clip_value
        if cfg.optimizer == "sgd":
            return DampenedSGD(learning_rate, momentum=cfg.momentum, dampening=cfg.dampening, l2=cfg.l2, **extra)
        if cfg.optimizer == "adamw":  # Keras' AdamW: Adam whose weight_decay is a float (0.0, not None, for none)
            return keras.optimizers.AdamW(learning_rate=learning_rate, beta_1=cfg.beta_1, beta_2=cfg.beta_2,
                                          **{**extra, "weight_decay": cfg.weight_decay})
        return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=cfg.beta_1, beta_2=cfg.beta_2, **extra)

    def head(self, feature_dim, num_classes):
        """The system's classification head on `feature_dim` features for `num_classes` classes, its hidden layers
        scaled by the model config's width multiplier."""
        return self.system.head(feature_dim, num_classes, width_multiplier=self.model_config.width_multiplier)

    def training_batches(self, epoch):
        """One epoch (counted from 0) of training batches of the data contract, with that epoch's modality
        dropout rate: (dataset, steps)."""
        return training_batches(self.data, epoch, self.batch_policy(epoch))

    def batch_policy(self, epoch):
        """The BatchPolicy of one epoch (counted from 0): its modality dropout rate, the rest from TrainConfig."""
        cfg = self.train
        return BatchPolicy(
            cfg.batch_size, cfg.seed, sampler=cfg.sampler, people_per_batch=cfg.people_per_batch,
            dropout_rate=cfg.modality_dropout_at(epoch), dropout_mode=cfg.dropout_mode,
            augment=AUGMENT_STRENGTHS[cfg.augment], corrupt_train=cfg.corrupt_train, spec_augment=cfg.spec_augment,
            replication=None if cfg.replication == "none" else cfg.replication, step_dropout=cfg.step_dropout,
            ramp_epochs=cfg.ramp_epochs)

    def batches_as_trained(self):
        """The training batches of the first epoch at the full modality dropout rate (with their replication or
        dropout), on which an end-to-end phase measures its batch-norm statistics."""
        return self.training_batches(self.train.full_dropout_epoch)[0]

    def steps_per_epoch(self):
        """Training steps in one epoch (a function of the split and the batch size alone; nothing is traced)."""
        return epoch_steps(self.data, self.batch_policy(0))

    def validation_batches(self):
        """The validation split's batches, or None when it is empty."""
        return self.data.batches("valid", self.train.batch_size) if self.data.count("valid") else None

    def early_stopping(self, monitor, mode):
        """PhaseRunner.fit's early_stopping argument: None when TrainConfig.early_stopping is 0."""
        return (monitor, mode, self.train.early_stopping) if self.train.early_stopping else None

    def holds_validation_people(self):
        return bool(len(self.data.held_out_people("valid")))

    def people_callbacks(self):
        """[HeldOutPeopleEER] when the data holds validation people (their EER after every epoch), else []."""
        return [HeldOutPeopleEER(self.data, self.train.batch_size)] if self.holds_validation_people() else []

    def backbone_selection(self, monitor, mode):
        """`early_stopping` of a phase that trains the backbone: on the validation people's EER (PEOPLE_EER, the
        lower the better) when the data holds them, else on (monitor, mode)."""
        return self.early_stopping(PEOPLE_EER, "min") if self.holds_validation_people() else \
            self.early_stopping(monitor, mode)

    def load(self, name):
        with self.runtime.strategy.scope():
            return keras.models.load_model(self.runner.path(name))


def embedding_phase_model(context, num_classes, missing_fill):
    """AVTNet's embeddings phase: (the variant's backbone, trained on its own metric losses (`compute_loss`),
    compile arguments besides the optimizer: none). num_classes and missing_fill are not read."""
    return context.variant.backbone(context.model_config), {}


def classifier_phase_model(context, num_classes, missing_fill):
    """An end-to-end phase (`end_to_end`, CFN-SR's "fusion"): (the variant's backbone under the system's head
    for `num_classes` classes, a ContractClassifier; its compile arguments besides the optimizer:
    cross-entropy and accuracy)."""
    backbone = context.variant.backbone(context.model_config)
    classifier = ContractClassifier(backbone, context.head(backbone.feature_dim, num_classes),
                                    missing_fill=missing_fill)
    return classifier, {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}


def hybrid_phase_model(context, num_classes, missing_fill):
    """MCT-HFR's phase: (the HybridReconstructionClassifier of the variant's backbone and the system's head;
    its compile arguments besides the optimizer: cross-entropy, accuracy and unweighted accuracy)."""
    backbone = context.variant.backbone(context.model_config)
    classifier = HybridReconstructionClassifier(backbone, context.head(backbone.feature_dim, num_classes),
                                                missing_fill=missing_fill)
    return classifier, {"loss": "sparse_categorical_crossentropy",
                        "metrics": ["accuracy", UnweightedAccuracy(num_classes)]}


def embed_then_recognize(context):
    """AVTNet's two phases: "embeddings" (the backbone's own metric losses, `compute_loss`),
    then "recognizer" (the head, cross-entropy, on the frozen backbone's features). With
    `specialist_runs`, the embeddings phase starts with each sensor's layers copied from its specialist
    and frozen (`adopt_specialist_branches`)."""
    cfg, runner = context.train, context.runner
    if runner.is_done("embeddings"):
        backbone = context.load("embeddings.keras")
    else:
        with context.runtime.strategy.scope():
            backbone, compiled = embedding_phase_model(context, context.data.num_people, None)
        backbone.adapt(context.data.fit_samples(context.train.seed))
        with context.runtime.strategy.scope():
            if context.specialist_runs:
                adopt_specialist_branches(backbone, {modality: os.path.join(folder, "embeddings.keras")
                                                     for modality, folder in context.specialist_runs.items()})
            backbone.compile(optimizer=context.optimizer(context.steps_per_epoch()), jit_compile=cfg.jit_compile,
                             **compiled)
        runner.fit("embeddings", backbone, context.training_batches, cfg.epochs_embed,
                   callbacks=context.people_callbacks(), validation=context.validation_batches(),
                   early_stopping=context.backbone_selection("val_loss", "min"))
        refresh_batch_norm(backbone, context.data.batches("train", cfg.batch_size))
        runner.finish("embeddings", {"embeddings.keras": backbone.save})
    missing_fill = context.data.config.missing_fill
    if runner.is_done("recognizer"):
        return ContractClassifier(backbone, context.load("recognizer.keras"), missing_fill=missing_fill)
    features, labels = _features(backbone, context.data.batches("train", cfg.batch_size))
    with context.runtime.strategy.scope():
        head = context.head(features.shape[1], context.data.num_people)
        head.compile(optimizer=context.optimizer(-(-len(labels) // cfg.batch_size)),
                     loss="sparse_categorical_crossentropy",
                     metrics=["accuracy"], jit_compile=cfg.jit_compile)
    validation = context.validation_batches()
    if validation is not None:
        validation = without_autotune(
            tf.data.Dataset.from_tensor_slices(_features(backbone, validation)).batch(cfg.batch_size))
    runner.fit("recognizer", head, lambda epoch: _feature_batches(features, labels, epoch, cfg),
               cfg.epochs_recognizer, validation=validation,
               early_stopping=context.early_stopping("val_accuracy", "max"))
    refresh_batch_norm(head, _feature_batches(features, labels, 0, cfg)[0])
    classifier = ContractClassifier(backbone, head, missing_fill=missing_fill)
    classifier.call_on_zeros()  # built, so that it saves whole
    runner.finish("recognizer", {"recognizer.keras": head.save, CLASSIFIER_FILE: classifier.save})
    return classifier


def end_to_end(context):
    """One phase, "end_to_end": backbone and head trained together with cross-entropy."""
    cfg, runner = context.train, context.runner
    if runner.is_done("end_to_end"):
        return context.load(CLASSIFIER_FILE)
    with context.runtime.strategy.scope():
        classifier, compiled = classifier_phase_model(context, context.data.num_people,
                                                      context.data.config.missing_fill)
        classifier.compile(optimizer=context.optimizer(context.steps_per_epoch()), jit_compile=cfg.jit_compile,
                           **compiled)
    classifier.adapt(context.data.fit_samples(context.train.seed))
    runner.fit("end_to_end", classifier, context.training_batches, cfg.epochs_embed,
               callbacks=context.people_callbacks(), validation=context.validation_batches(),
               early_stopping=context.backbone_selection("val_accuracy", "max"))
    refresh_batch_norm(classifier, context.batches_as_trained())  # as trained: replicated, dropped copies too
    runner.finish("end_to_end", {CLASSIFIER_FILE: classifier.save})
    return classifier


def hybrid_reconstruction(context):
    """One phase, "end_to_end", for MCT-HFR: the HybridReconstructionClassifier (cross-entropy plus its GFA and
    LFI terms from `aux_start_epoch`), accuracy and unweighted accuracy (UA) logged, early stopping on
    validation UA (the public code's; validation loss is logged beside it)."""
    cfg, runner = context.train, context.runner
    if runner.is_done("end_to_end"):
        return context.load(CLASSIFIER_FILE)
    with context.runtime.strategy.scope():
        classifier, compiled = hybrid_phase_model(context, context.data.num_people, context.data.config.missing_fill)
        classifier.compile(optimizer=context.optimizer(context.steps_per_epoch()), jit_compile=cfg.jit_compile,
                           **compiled)
    classifier.adapt(context.data.fit_samples(context.train.seed))
    runner.fit("end_to_end", classifier, context.training_batches, cfg.epochs_embed,
               callbacks=[AuxiliaryLossStart(cfg.aux_start_epoch), *context.people_callbacks()],
               validation=context.validation_batches(), early_stopping=context.backbone_selection("val_ua", "max"))
    refresh_batch_norm(classifier, context.batches_as_trained())
    runner.finish("end_to_end", {CLASSIFIER_FILE: classifier.save})
    return classifier


def pretrain_then_fuse(context):
    """CFN-SR's two stages (SYSTEMS.md 4.1-4.4), for a backbone whose config gives `unimodal(m)` (the config of
    modality m's unimodal net) and `selection`, and whose models give `encoder(m)` (the layer pre-training
    trains).

    Per modality m a phase "pretrain_<m>": the unimodal net (its encoder and features under its own linear head)
    trained with cross-entropy for `epochs_embed` epochs on the complete training recordings (no modality
    dropout). Then "fusion": the whole backbone, each encoder's weights copied from its pre-trained net, and a
    new head, trained end to end with cross-entropy for `epochs_recognizer` epochs on the training batches (with
    their replication, if any). Selection "strict": each phase keeps its best validation epoch (pre-training:
    the complete validation recordings; fusion: every validation copy, as `end_to_end`) with
    TrainConfig.early_stopping's patience; "paper": the complete test recordings are evaluated after every
    epoch and the best epoch is kept, none stopped early (the paper's optimistic protocol: the test split
    chooses). Every phase writes its per-epoch logs (val_accuracy: the choosing split's accuracy) to
    <phase>_epochs.csv in the run folder.
    """
    cfg, runner, data = context.train, context.runner, context.data
    if runner.is_done("fusion"):
        return context.load(CLASSIFIER_FILE)
    pretrained = {}
    for modality in context.model_config.modalities:
        phase = f"pretrain_{modality}"
        if runner.is_done(phase):
            pretrained[modality] = context.load(f"{phase}.keras")
            continue
        with context.runtime.strategy.scope():
            backbone = context.variant.backbone(context.model_config.unimodal(modality))
            unimodal = ContractClassifier(backbone, context.head(backbone.feature_dim, data.num_people),
                                          missing_fill=data.config.missing_fill)
            unimodal.compile(optimizer=context.optimizer(_complete_training_batches(context, 0)[1]),
                             loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                             jit_compile=cfg.jit_compile)
        validation, early_stopping = _epoch_selection(context, cfg.epochs_embed, complete_only=True)
        runner.fit(phase, unimodal, lambda epoch: _complete_training_batches(context, epoch), cfg.epochs_embed,
                   callbacks=[_epoch_log(runner, phase)], validation=validation, early_stopping=early_stopping)
        refresh_batch_norm(unimodal, _complete_training_batches(context, 0)[0])
        runner.finish(phase, {f"{phase}.keras": unimodal.save})
        pretrained[modality] = unimodal
    with context.runtime.strategy.scope():
        classifier, compiled = classifier_phase_model(context, data.num_people, data.config.missing_fill)
        for modality, unimodal in pretrained.items():
            classifier.backbone.encoder(modality).set_weights(unimodal.backbone.encoder(modality).get_weights())
        classifier.compile(optimizer=context.optimizer(context.steps_per_epoch()), jit_compile=cfg.jit_compile,
                           **compiled)
    validation, early_stopping = _epoch_selection(context, cfg.epochs_recognizer, complete_only=False)
    runner.fit("fusion", classifier, context.training_batches, cfg.epochs_recognizer,
               callbacks=[*context.people_callbacks(), _epoch_log(runner, "fusion")], validation=validation,
               early_stopping=early_stopping)
    refresh_batch_norm(classifier, context.batches_as_trained())  # as trained: replicated, dropped copies too
    runner.finish("fusion", {CLASSIFIER_FILE: classifier.save})
    return classifier


def _complete_training_batches(context, epoch):
    """One epoch of shuffled batches of the training split's samples, without modality dropout or replication:
    (dataset, steps)."""
    return training_batches(context.data, epoch, BatchPolicy(context.train.batch_size, context.train.seed))


def _epoch_selection(context, epochs, complete_only):
    """(validation batches, PhaseRunner.fit early_stopping) of a phase of `epochs` epochs under the model config's
    `selection`: "paper": the complete test recordings and the best of every epoch; "strict": the validation
    split (its complete recordings alone with `complete_only`) and TrainConfig.early_stopping (the fusion phase:
    on the validation people's EER when the data holds them, `RecipeContext.backbone_selection`)."""
    batch_size = context.train.batch_size
    if context.model_config.selection == "paper":
        return context.data.batches("test", batch_size, complete_only=True), ("val_accuracy", "max", epochs)
    if not complete_only:
        validation = context.validation_batches()
    elif context.data.count("valid"):
        validation = context.data.batches("valid", batch_size, complete_only=True)
    else:
        validation = None
    return validation, context.early_stopping("val_accuracy", "max") if complete_only else \
        context.backbone_selection("val_accuracy", "max")


def _epoch_log(runner, phase):
    """A callback appending each epoch's logs to <phase>_epochs.csv in the run folder (a resumed phase appends;
    an epoch redone after a kill appears twice, the later row standing); on the chief alone (the other workers
    get a callback that does nothing)."""
    if not runner.role.is_chief:
        return keras.callbacks.Callback()
    return keras.callbacks.CSVLogger(runner.path(f"{phase}_epochs.csv"), append=True)


def _features(backbone, batches):
    """The frozen backbone's features of every sample: (float32 [N, D], int [N])."""
    features, labels = [], []
    for inputs, label in batches:
        features.append(keras.ops.convert_to_numpy(backbone.features(backbone(inputs, training=False))))
        labels.append(label.numpy())
    return np.concatenate(features).astype(np.float32), np.concatenate(labels)


def _feature_batches(features, labels, epoch, cfg):
    """One epoch of shuffled (features, label) batches, a function of (seed, epoch), the same on every
    iteration: (dataset, steps)."""
    steps = -(-len(labels) // cfg.batch_size)
    data = tf.data.Dataset.from_tensor_slices((features, labels))
    data = data.shuffle(len(labels), seed=cfg.seed * 100_003 + epoch, reshuffle_each_iteration=False)
    data = data.batch(cfg.batch_size)
    return without_autotune(data.prefetch(tf.data.AUTOTUNE)), steps


# The recipes that can start from single-sensor specialists (RecipeContext.specialist_runs).
STARTS_FROM_SPECIALISTS = ("embed_then_recognize",)

# recipe name -> the builder of the model its main phase trains (the longest; the one the training benchmark
# times): function (RecipeContext, num_classes, missing_fill) -> (uncompiled model, compile arguments other than
# the optimizer and jit_compile).
PHASE_MODELS = {"embed_then_recognize": embedding_phase_model, "end_to_end": classifier_phase_model,
                "hybrid_reconstruction": hybrid_phase_model, "pretrain_then_fuse": classifier_phase_model}

RECIPES = {"embed_then_recognize": embed_then_recognize, "end_to_end": end_to_end,
           "hybrid_reconstruction": hybrid_reconstruction, "pretrain_then_fuse": pretrain_then_fuse}
