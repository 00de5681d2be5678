"""Training settings shared by every recipe."""

import dataclasses

from avtfuse.config import Config

SAMPLERS = ("random", "pk")
DROPOUT_MODES = ("hard", "soft", "noise")
OPTIMIZERS = ("adam", "adamw", "sgd")
# Batch replication (pipelines.ablation.ReplicatedModalityDropout): "softhard" B -> (2 + M) B, "noise" B -> (1 + M) B.
REPLICATIONS = ("none", "softhard", "noise")


@dataclasses.dataclass
class TrainConfig(Config):
    """How a recipe trains (the seed paper's values by default).

    A two-phase recipe fits the embeddings for `epochs_embed` epochs, then
    the recogniser on frozen embeddings for `epochs_recognizer`; a one-phase
    recipe trains for `epochs_embed`. `optimizer` "adam": Adam(learning_rate,
    beta_1, beta_2) in every phase (AVTNet); "adamw": AdamW with decoupled
    `weight_decay` (PyTorch's AdamW; MCT-HFR); "sgd": PyTorch's SGD with
    `momentum`, `dampening` and coupled weight decay `l2`
    (avtfuse.training.sgd.DampenedSGD; SA-fusion). The learning rate is
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
    `early_stopping`: 0 trains the fixed epochs; N > 0 stops a phase once its
    validation metric (phase 1: loss; recogniser and end-to-end: accuracy;
    MCT-HFR: unweighted accuracy)
    has not improved for N epochs and keeps the best epoch's weights.
    `seed` fixes weight initialisation, data order and dropout.
    """

    epochs_embed: int = 50
    epochs_recognizer: int = 25
    batch_size: int = 32
    learning_rate: float = 1e-3
    beta_1: float = 0.5
    beta_2: float = 0.99
    optimizer: str = "adam"
    momentum: float = 0.9
    dampening: float = 0.9
    l2: float = 0.0
    weight_decay: float = 0.0
    clip_value: float = 0.0
    lr_step_epochs: tuple = ()
    lr_step_factor: float = 0.1
    replication: str = "none"
    sampler: str = "random"
    people_per_batch: int = 8
    modality_dropout: float = 0.0
    dropout_warmup_epochs: int = 0
    dropout_ramp_epochs: int = 0
    dropout_mode: str = "hard"
    step_dropout: float = 0.0
    ramp_epochs: int = 0
    aux_start_epoch: int = 1
    spec_augment: int = 0
    jit_compile: bool = False
    early_stopping: int = 0
    seed: int = 0

    def __post_init__(self):
        self.check_int("epochs_embed", "epochs_recognizer", "spec_augment", "early_stopping", "seed", "ramp_epochs",
                       "dropout_warmup_epochs", "dropout_ramp_epochs", minimum=0)
        self.check_int("aux_start_epoch")
        self.check_int("people_per_batch")
        self.check_int("batch_size", minimum=2)  # triplet mining needs pairs
        self.check_positive("learning_rate")
        self.check_rate("beta_1", "beta_2", "modality_dropout", "momentum", "lr_step_factor", "step_dropout")
        self.check_rate("dampening", upper_inclusive=True)
        if not isinstance(self.l2, (int, float)) or isinstance(self.l2, bool) or self.l2 < 0:
            self._fail("l2", "a coupled weight decay >= 0")
        self.l2 = float(self.l2)
        for name in ("weight_decay", "clip_value"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                self._fail(name, "a number >= 0 (0: none)")
            setattr(self, name, float(value))
        if self.step_dropout > 0 and self.replication != "none":
            self._fail("step_dropout", "0 with batch replication (choose one kind of training ablation)")
        self.lr_step_epochs = tuple(self.lr_step_epochs)
        if any(not isinstance(e, int) or e < 2 for e in self.lr_step_epochs) or \
                list(self.lr_step_epochs) != sorted(set(self.lr_step_epochs)):
            self._fail("lr_step_epochs", "increasing epoch numbers >= 2 (counted from 1)")
        self.check_choice("optimizer", OPTIMIZERS)
        self.check_choice("replication", REPLICATIONS)
        self.check_choice("sampler", SAMPLERS)
        self.check_choice("dropout_mode", DROPOUT_MODES)
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
