"""AVTNet's architecture and loss settings."""

import dataclasses

from avtfuse.config import WidthConfig, setting
from avtfuse.contract import MODALITIES, canonical_modalities

POOLINGS = ("flatten", "average")
JOINTS = ("transformer", "dense")
RECOGNIZER_EMBEDDINGS = ("all", "joint")
MODALITY_LOSSES = ("missing_modality", "batch_hard")
JOINT_LOSSES = ("batch_hard", "prototypical")
BN_NECKS = ("joint", "all", "none")
JOINT_TOKENS = ("all", "present")
ATTENTIONS = ("full", "blocked")


@dataclasses.dataclass(frozen=True)
class AVTNetConfig(WidthConfig):
    """Architecture and loss settings of AVTNet (defaults: the paper's, plus the batch-norm neck on the joint head).

    Fields:
        modalities: the run's modalities (canonical order; a comma string is accepted).
        audio_shape: (frames, n_mels) of the log-mel input.
        image_size: (height, width) of the visible and thermal frames, in pixels.
        thermal_channels: channels of the thermal frame (1 grey, 3 palette).
        audio_kernel_size, audio_layers: Conv1D kernel (frames) and depth of the audio branch.
        image_filters, image_kernel_size, image_blocks: the conv + 2x2 max-pool blocks
            of the image branches.
        token_dim: channels of every feature map (audio filters, image 1x1 filters) = token size.
        embedding_dim, hidden_dim: output size and hidden Dense size of every embedding head.
        num_heads, ff_dim, dropout: the joint transformer block.
        pooling: "flatten" or "average", before the per-modality heads (and the dense joint encoder).
        joint: "transformer" (tokens -> transformer -> mean over tokens -> head) or
            "dense" (flattened feature maps concatenated -> three Dense layers).
        joint_tokens: which tokens the joint transformer attends to and averages: "all" (the paper: a missing
            modality's tokens, computed from its all-zero input, take part) or "present" (only the tokens of
            the sample's present modalities; the model then reads the contract's "present" [B, M] bits, so
            that with one sensor left the joint embedding is computed from that sensor's tokens alone).
            Not in the paper; recommended with the subsets ablation.
        attention, attention_block: how the joint transformer computes its attention: "full" (the whole
            [B, heads, T, T] score tensor, kept for the gradient: 2.4 GB at the paper's 2,157 tokens and batch 32)
            or "blocked" (`attention_block` queries at a time, each block recomputed in the backward pass: the same
            weights and outputs to rounding in a fraction of the memory; needs dropout 0).
        image_recompute_slices: in training, each image branch runs its first block on this many slices of the
            batch, each recomputed in the backward pass instead of keeping its full-resolution convolution output
            (`ImageBranch`); 0 keeps it. The same weights and numbers.
        modality_loss: "missing_modality" (paper) or "batch_hard" (the Prop-II baseline).
        joint_loss: "batch_hard" (paper) or "prototypical".
        soft, margin: soft-margin (softplus) or hinge triplet losses; the margin is
            in embedding distance units and used only when not soft.
        standardize_inputs: put a keras Normalization layer (per mel band / per
            channel) in front of each branch, fitted on the training data with
            `adapt`. The paper is silent on input scaling; log-mels in dB and
            [0, 1] frames differ by two orders of magnitude, and without it the
            triplet losses collapse for many epochs before they learn.
        recognizer_embeddings: "all" (the paper: every embedding feeds the
            recogniser) or "joint" (the Prop-III baseline: only the joint one).
        individual_embeddings: one embedding per modality beside the joint one
            (the paper); False leaves the joint embedding alone (JER baselines).
        bn_neck: which embedding heads end with a BatchNormalization before the
            L2 normalisation: "joint" (default), "all" or "none" (the paper).
            Not in the paper: without it the joint head, trained with a plain
            triplet loss, collapses to one point (loss ln 2) for dozens of
            epochs. The same heads carry it in every variant, so variants differ
            only in what the paper varies.
        width_multiplier: scales image_filters, token_dim (to a multiple of num_heads), hidden_dim and ff_dim,
            and the recogniser's hidden layers (`WidthConfig`); embedding_dim, the embeddings the losses and the
            recogniser read, keeps its size.
    """

    modalities: tuple = MODALITIES
    audio_shape: tuple = (589, 128)
    image_size: tuple = (224, 224)
    thermal_channels: int = 1
    audio_kernel_size: int = 11
    audio_layers: int = 3
    image_filters: int = 128
    image_kernel_size: int = 3
    image_blocks: int = 3
    token_dim: int = 64
    embedding_dim: int = 256
    hidden_dim: int = 256
    num_heads: int = 4
    ff_dim: int = 400
    dropout: float = 0.0
    pooling: str = setting("flatten", "how feature maps enter the embedding heads", choices=POOLINGS)
    joint: str = "transformer"
    modality_loss: str = "missing_modality"
    joint_loss: str = "batch_hard"
    soft: bool = True
    margin: float = 1.0
    standardize_inputs: bool = True
    individual_embeddings: bool = True
    bn_neck: str = setting("joint", "embedding heads with a batch-norm neck before the L2 normalisation: joint, all, "
                           "or none (the paper); the same heads in every variant", choices=BN_NECKS,
                           shortcuts={"--no-bn-neck": ("none", "no batch-norm neck on any head (the paper's heads)")})
    recognizer_embeddings: str = "all"
    joint_tokens: str = setting("all", "tokens the joint transformer attends to and averages: all (the paper; a "
                                "missing sensor's tokens of its all-zero input too) or present (the sample's present "
                                "sensors only; recommended with --ablation subsets)", choices=JOINT_TOKENS)
    # The default from `python -m experiments.benchmark --compare attention=full,blocked` (docs/benchmarks.md):
    # blocked trained faster at every measured shape and, at the paper's, in two thirds of the memory.
    attention: str = setting("blocked", "the joint transformer's attention: blocked (--attention-block queries at a "
                             "time, recomputed in the backward pass) or full (the whole score matrix, kept for the "
                             "gradient): the same weights and numbers to rounding", choices=ATTENTIONS,
                             identity_at_default=False)
    attention_block: int = setting(256, "queries per block of --attention blocked", identity_at_default=False)
    # The default from `python -m experiments.benchmark --compare image_recompute_slices=0,4` and `=2,8`
    # (docs/avtnet.md): at the paper's shapes and batch 32, 5.4 to 5.7 GB peak instead of 7.8 at 0 to 7 % more
    # time per step; 2 slices no slower than 4 or 8 and the fewest ops to trace.
    image_recompute_slices: int = setting(
        2, "image branches in training: run the first block on this many batch slices, each recomputed in the "
        "backward pass instead of keeping its full-resolution output (0: keep it); the same numbers",
        identity_at_default=False)

    def __post_init__(self):
        super().__post_init__()
        self._set("modalities", canonical_modalities(self.modalities))
        self.check_pair("audio_shape")
        self.check_pair("image_size")
        self.check_int(
            "thermal_channels", "audio_kernel_size", "audio_layers", "image_filters", "image_kernel_size",
            "image_blocks", "token_dim", "embedding_dim", "hidden_dim", "num_heads", "ff_dim")
        if min(self.image_size) < 2**self.image_blocks:
            self._fail("image_size", f"sides >= {2**self.image_blocks} for {self.image_blocks} 2x2 poolings")
        if self.token_dim % self.num_heads:
            self._fail("token_dim", f"a multiple of num_heads {self.num_heads}")
        self.check_rate("dropout")
        self.check_choice("pooling", POOLINGS)
        self.check_choice("joint", JOINTS)
        self.check_choice("modality_loss", MODALITY_LOSSES)
        self.check_choice("joint_loss", JOINT_LOSSES)
        self.check_choice("recognizer_embeddings", RECOGNIZER_EMBEDDINGS)
        self.check_choice("bn_neck", BN_NECKS)
        self.check_choice("joint_tokens", JOINT_TOKENS)
        self.check_choice("attention", ATTENTIONS)
        self.check_int("attention_block")
        self.check_int("image_recompute_slices", minimum=0)
        if self.attention == "blocked" and self.dropout:
            self._fail("attention", f'"full" with dropout {self.dropout} (blocked attention has no attention dropout)')
        if self.joint_tokens == "present" and self.joint != "transformer":
            self._fail("joint_tokens", f'"all" with joint {self.joint!r} (present-token masking needs the transformer)')
        self.check_bool("soft", "standardize_inputs", "individual_embeddings")
        self.check_positive("margin")

    def hidden_widths(self):
        return {"image_filters": 1, "token_dim": self.num_heads, "hidden_dim": 1, "ff_dim": 1}

    @property
    def embedding_names(self):
        """The embeddings AVTNet outputs: the run's modalities (with individual embeddings), then "joint"."""
        return (*self.modalities, "joint") if self.individual_embeddings else ("joint",)

    @property
    def bn_neck_heads(self):
        """The embedding heads that carry the batch-norm neck (see `bn_neck`)."""
        if self.bn_neck == "all":
            return self.embedding_names
        return ("joint",) if self.bn_neck == "joint" else ()
