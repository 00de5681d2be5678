"""Training settings (both phases)."""

import dataclasses


@dataclasses.dataclass
class TrainConfig:
    """Phase 1 fits the embeddings, phase 2 the recogniser on frozen embeddings.

    Adam(learning_rate, beta_1, beta_2) in both phases, as in the paper.
    `sampler`: "random" (the paper's plain batches) or "pk" (P people x K
    samples per batch, K = batch_size // people_per_batch). `modality_dropout`:
    probability of dropping each modality of a training sample at random
    (on top of the static ablation; random batches only), as zeros ("hard"),
    alpha scaling ("soft") or N(0, 1) noise ("noise").
    """

    epochs_embed: int = 50
    epochs_recognizer: int = 25
    batch_size: int = 32
    learning_rate: float = 1e-3
    beta_1: float = 0.5
    beta_2: float = 0.99
    sampler: str = "random"
    people_per_batch: int = 8
    modality_dropout: float = 0.0
    dropout_mode: str = "hard"
    jit_compile: bool = False
    seed: int = 0

    def __post_init__(self):
        for name in ("epochs_embed", "epochs_recognizer"):
            if getattr(self, name) < 0:
                raise ValueError(f"TrainConfig.{name} must be 0 or more, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise ValueError(f"--batch-size must be at least 2 (triplet mining needs pairs), got {self.batch_size}")
        if self.learning_rate <= 0:
            raise ValueError(f"TrainConfig.learning_rate must be positive, got {self.learning_rate}")
        if self.sampler not in ("random", "pk"):
            raise ValueError(f"--sampler must be 'random' or 'pk', got {self.sampler!r}")
        if not 0.0 <= self.modality_dropout < 1.0:
            raise ValueError(f"--modality-dropout must be in [0, 1), got {self.modality_dropout}")
        if self.dropout_mode not in ("hard", "soft", "noise"):
            raise ValueError(f"--dropout-mode must be hard, soft or noise, got {self.dropout_mode!r}")
        if self.sampler == "pk" and self.batch_size // self.people_per_batch < 2:
            raise ValueError(
                f"--people-per-batch {self.people_per_batch} leaves fewer than 2 samples per person "
                f"in a batch of {self.batch_size}")

    def to_dict(self):
        return dataclasses.asdict(self)
