"""Training settings shared by every recipe."""

import dataclasses

from avtfuse.config import Config, setting
from avtfuse.contract import AUGMENT_STRENGTHS, DROPOUT_MODES

SAMPLERS = ("random", "pk")
OPTIMIZERS = ("adam", "adamw", "sgd")
# Batch replication (pipelines.ablation.ReplicatedModalityDropout): "softhard" B -> (2 + M) B, "noise" B -> (1 + M) B.
REPLICATIONS = ("none", "softhard", "noise")


@dataclasses.dataclass(frozen=True)
class TrainConfig(Config):
    """How a recipe trains (the seed paper's values by default).

    A two-phase recipe fits the embeddings for `epochs_embed` epochs, then
    the recogniser on frozen embeddings for `epochs_recognizer`; a one-phase
    recipe trains for `epochs_embed`. `optimizer` "adam": Adam(learning_rate,
    beta_1, beta_2) in every phase (AVTNet); "adamw": AdamW with decoupled
    `weight_decay` (PyTorch's AdamW; MCT-HFR); "sgd": PyTorch's SGD with
    `momentum`, `dampening` and coupled weight decay `l2`
    (avtfuse.training.sgd.DampenedSGD; SA-fusion). `weight_decay` > 0 is
    decoupled weight decay (Keras' optimizer argument: every trained weight
    w <- w - lr * weight_decay * w before each update) under any optimizer; with
    "sgd" it excludes a coupled `l2` > 0 (one kind of decay). The learning rate is
    multiplied by `lr_step_factor` at each epoch of `lr_step_epochs`
    (counted from 1; empty: constant). `clip_value` > 0 clips every gradient
    value to [-clip_value, clip_value] (MCT-HFR's code). `sampler`: "random" (the paper's plain batches) or "pk" (P
    people x K samples per batch, K = batch_size // people_per_batch).
    `modality_dropout`: probability of dropping each modality of a training
    sample at random (on top of the static ablation, with either sampler), as
    zeros ("hard"), alpha scaling ("soft") or N(0, 1) noise ("noise"); each
    modality is dropped independently, so one sample can lose several (never
    all). Its schedule: no dropout for the first `dropout_warmup_epochs`
    epochs, then a rate rising linearly over `dropout_ramp_epochs` epochs
    to `modality_dropout` (`modality_dropout_at`).
    `replication`: SA-fusion's modality dropout, each batch of `batch_size`
    recordings replicated ("softhard": all, a convex soft-weighted copy, one
    copy per modality zeroed; "noise": all, one copy per modality as N(0, 1)),
    or "none".
    `step_dropout`: dynamic incomplete training (MCT-HFR): each real step of
    every sequence modality of a chosen sample is dropped with this
    probability, afresh every batch; the share of chosen samples rises
    linearly from 0 to 1 over the first `ramp_epochs` epochs (0: every sample
    from the first step). `aux_start_epoch`: the epoch (from 1) from which a
    model's auxiliary losses count (MCT-HFR's reconstruction and alignment).
    `spec_augment`: 0, or the largest width (frames and mel bands) of the
    time and frequency masks put on each training spectrogram.
    `augment`: "none", "light" or "strong" (AUGMENT_STRENGTHS): each training
    sample's modalities augmented as pipelines.augmentation says.
    `corrupt_train` P in [0, 1]: a share P of training samples each meets one
    random corruption (type and severity from the seed, the epoch and the
    recording) as pipelines.train_corruptions says; 0 (default) is off and
    leaves the run's identity as it was.
    `early_stopping`: 0 trains the fixed epochs; N > 0 stops a phase once its
    validation metric (phase 1: loss; recogniser and end-to-end: accuracy;
    MCT-HFR: unweighted accuracy)
    has not improved for N epochs and keeps the best epoch's weights.
    `seed` fixes weight initialisation, data order and dropout.
    """

    epochs_embed: int = setting(50, "epochs of the first (or only) phase", preset=True)
    epochs_recognizer: int = setting(25, "epochs of the second phase (AVTNet's recogniser, CFN-SR's fusion)",
                                     preset=True)
    batch_size: int = setting(32, "batch size of every phase")
    learning_rate: float = setting(1e-3, "learning rate of the optimizer")
    beta_1: float = 0.5
    beta_2: float = 0.99
    optimizer: str = "adam"
    momentum: float = 0.9
    dampening: float = 0.9
    l2: float = 0.0
    weight_decay: float = setting(0.0, "decoupled weight decay of every optimizer (w <- w - lr * decay * w at each "
                                  "step; 0: none); not with the sgd optimizer's coupled l2 (SA-fusion's)")
    clip_value: float = 0.0
    lr_step_epochs: tuple = ()
    lr_step_factor: float = 0.1
    replication: str = "none"
    sampler: str = setting("random", "training batches: random (the paper) or pk (P people x K samples, for triplet "
                           "mining)", choices=SAMPLERS)
    people_per_batch: int = setting(8, "P of the pk sampler; K = batch size // P")
    modality_dropout: float = setting(0.0, "probability of dropping each modality of a training sample, on top of the "
                                      "static ablation (0: the paper)")
    dropout_warmup_epochs: int = setting(0, "epochs without modality dropout first", flag="--dropout-warmup",
                                         metavar="EPOCHS")
    dropout_ramp_epochs: int = setting(0, "epochs over which the modality dropout rate then rises linearly to its "
                                       "value (0: at once)", flag="--dropout-ramp", metavar="EPOCHS")
    dropout_mode: str = setting("hard", "modality dropout as zeros (hard), alpha scaling (soft) or N(0, 1) noise",
                                choices=DROPOUT_MODES)
    step_dropout: float = setting(0.0, "probability of dropping each real step of a chosen training sample (MCT-HFR "
                                  "0.2)", preset=True, recipes=("hybrid_reconstruction",))
    ramp_epochs: int = setting(0, "epochs over which the share of incomplete training samples rises from 0 to 1 "
                               "(MCT-HFR 5; 0: the public code's behaviour)", preset=True,
                               recipes=("hybrid_reconstruction",))
    aux_start_epoch: int = setting(1, "epoch from which the auxiliary losses count (MCT-HFR's LFI and GFA: 2, the "
                                   "code's)", preset=True, recipes=("hybrid_reconstruction",))
    spec_augment: int = setting(0, "SpecAugment time and frequency masks of up to WIDTH frames / bands (0: off)",
                                metavar="WIDTH")
    augment: str = setting("none", "augmentation of training samples: frames flipped, warped and lit, log-mels "
                           "rolled, gain-shifted and mixed (pipelines.augmentation)", choices=tuple(AUGMENT_STRENGTHS))
    corrupt_train: float = setting(0.0, "share P in [0, 1] of training samples given one random corruption "
                                   "(noise, babble, reverb or clipping of a log-mel; blur, light, occlusion, "
                                   "resolution, thermal drift or noise of frames) at a random severity 1-5 "
                                   "(pipelines.train_corruptions; 0: off)", metavar="P", identity_at_default=False)
    jit_compile: bool = setting(False, "compile with XLA (helps on GPUs)")
    early_stopping: int = setting(0, "stop a phase when validation has not improved for this many epochs (0: off)",
                                  metavar="PATIENCE")
    seed: int = setting(0, "seed of the data set, split, weight initialisation, data order and dropout",
                        flag="--seed")

    def __post_init__(self):
        self.check_int("epochs_embed", "epochs_recognizer", "spec_augment", "early_stopping", "seed", "ramp_epochs",
                       "dropout_warmup_epochs", "dropout_ramp_epochs", minimum=0)
        self.check_int("aux_start_epoch")
        self.check_int("people_per_batch")
        self.check_int("batch_size", minimum=2)  # triplet mining needs pairs
        self.check_positive("learning_rate")
        self.check_rate("beta_1", "beta_2", "modality_dropout", "momentum", "lr_step_factor", "step_dropout")
        self.check_rate("dampening", "corrupt_train", upper_inclusive=True)
        if not isinstance(self.l2, (int, float)) or isinstance(self.l2, bool) or self.l2 < 0:
            self._fail("l2", "a coupled weight decay >= 0")
        self._set("l2", float(self.l2))
        for name in ("weight_decay", "clip_value"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                self._fail(name, "a number >= 0 (0: none)")
            self._set(name, float(value))
        if self.weight_decay and self.optimizer == "sgd" and self.l2:
            self._fail("weight_decay", f"0 (--weight-decay) with the sgd optimizer's coupled l2 {self.l2:g}: one kind "
                                       "of weight decay")
        if self.step_dropout > 0 and self.replication != "none":
            self._fail("step_dropout", "0 with batch replication (choose one kind of training ablation)")
        self._set("lr_step_epochs", tuple(self.lr_step_epochs))
        if any(not isinstance(e, int) or e < 2 for e in self.lr_step_epochs) or \
                list(self.lr_step_epochs) != sorted(set(self.lr_step_epochs)):
            self._fail("lr_step_epochs", "increasing epoch numbers >= 2 (counted from 1)")
        self.check_choice("optimizer", OPTIMIZERS)
        self.check_choice("replication", REPLICATIONS)
        self.check_choice("sampler", SAMPLERS)
        self.check_choice("dropout_mode", DROPOUT_MODES)
        self.check_choice("augment", tuple(AUGMENT_STRENGTHS))
        self.check_bool("jit_compile")
        if self.sampler == "pk" and self.batch_size // self.people_per_batch < 2:
            self._fail("people_per_batch", f"at most batch_size / 2 = {self.batch_size // 2} "
                       "(at least 2 samples per person in a batch)")

    def modality_dropout_at(self, epoch):
        """The modality dropout rate of `epoch` (counted from 0): 0 during the warm-up, then
        modality_dropout * min(1, (epoch - warm-up + 1) / ramp); the full rate at once without a ramp."""
        ramped = epoch - self.dropout_warmup_epochs + 1
        if ramped <= 0:
            return 0.0
        return self.modality_dropout * min(1.0, ramped / max(self.dropout_ramp_epochs, 1))

    @property
    def full_dropout_epoch(self):
        """The first epoch (from 0) at the full modality dropout rate."""
        return self.dropout_warmup_epochs + max(self.dropout_ramp_epochs, 1) - 1

    @property
    def samples_per_person(self):
        """K of the P x K sampler."""
        return self.batch_size // self.people_per_batch
