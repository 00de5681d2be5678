"""AVTNet: audio-visible-thermal person embeddings robust to a missing modality.

John and Kawanishi, MMAsia 2022. One convolutional branch per modality gives a
feature map of `token_dim`-d tokens; a per-modality head embeds each map, and a
transformer over all tokens gives the joint embedding. Trained with the
missing-modality loss per modality plus a triplet loss on the joint embedding.
"""

import dataclasses

import keras
from keras import ops

from avtfuse.layers import DenseJointEncoder, EmbeddingHead, TransformerBlock
from avtfuse.layers.checks import choice, positive_int
from avtfuse.layers.embedding_head import POOLINGS
from avtfuse.models import branches
from avtfuse.losses import batch_hard_triplet_loss, missing_modality_loss, triplet_prototypical_loss
from avtfuse.modalities import MODALITIES, canonical_modalities

JOINTS = ("transformer", "dense")
RECOGNIZER_EMBEDDINGS = ("all", "joint")
MODALITY_LOSSES = ("missing_modality", "batch_hard")
JOINT_LOSSES = {"batch_hard": batch_hard_triplet_loss, "prototypical": triplet_prototypical_loss}


@dataclasses.dataclass
class AVTNetConfig:
    """Architecture and loss settings of AVTNet (defaults: the paper's).

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
        modality_loss: "missing_modality" (paper) or "batch_hard" (the Prop-II baseline).
        joint_loss: "batch_hard" (paper) or "prototypical".
        soft, margin: soft-margin (softplus) or hinge triplet losses; the margin is
            in embedding distance units and used only when not soft.
        standardize_inputs: put a keras Normalization layer (per mel band / per
            channel) in front of each branch, fitted on the training data with
            `AVTNet.adapt`. The paper is silent on input scaling; log-mels in dB
            and [0, 1] frames differ by two orders of magnitude, and without it
            the triplet losses collapse for many epochs before they learn.
        recognizer_embeddings: "all" (the paper: every embedding feeds the
            recogniser) or "joint" (the Prop-III baseline: only the joint one).
        individual_embeddings: one embedding per modality beside the joint one
            (the paper); False leaves the joint embedding alone (JER baselines).
        batch_norm_neck: a BatchNormalization before the L2 normalisation of
            every head trained with a plain triplet loss (the joint head, and the
            individual heads under modality_loss="batch_hard"). Not in the paper:
            without it those heads collapse to one point (loss ln 2) for dozens of
            epochs; the missing-modality loss does not need it.
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
    pooling: str = "flatten"
    joint: str = "transformer"
    modality_loss: str = "missing_modality"
    joint_loss: str = "batch_hard"
    soft: bool = True
    margin: float = 1.0
    standardize_inputs: bool = True
    individual_embeddings: bool = True
    batch_norm_neck: bool = True
    recognizer_embeddings: str = "all"

    def __post_init__(self):
        self.modalities = canonical_modalities(self.modalities)
        self.audio_shape = self._pair(self.audio_shape, "audio_shape")
        self.image_size = self._pair(self.image_size, "image_size")
        for name in (
            "thermal_channels",
            "audio_kernel_size",
            "audio_layers",
            "image_filters",
            "image_kernel_size",
            "image_blocks",
            "token_dim",
            "embedding_dim",
            "hidden_dim",
            "num_heads",
            "ff_dim",
        ):
            setattr(self, name, positive_int(getattr(self, name), f"AVTNetConfig.{name}"))
        if min(self.image_size) < 2**self.image_blocks:
            raise ValueError(
                f"AVTNetConfig.image_size: {self.image_size} is too small for "
                f"{self.image_blocks} 2x2 poolings (each side must be >= {2**self.image_blocks})"
            )
        if self.token_dim % self.num_heads:
            raise ValueError(
                f"AVTNetConfig.token_dim: {self.token_dim} is not divisible by "
                f"num_heads {self.num_heads}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"AVTNetConfig.dropout: expected a rate in [0, 1), got {self.dropout!r}")
        choice(self.pooling, "AVTNetConfig.pooling", POOLINGS)
        choice(self.joint, "AVTNetConfig.joint", JOINTS)
        choice(self.modality_loss, "AVTNetConfig.modality_loss", MODALITY_LOSSES)
        choice(self.joint_loss, "AVTNetConfig.joint_loss", JOINT_LOSSES)
        choice(self.recognizer_embeddings, "AVTNetConfig.recognizer_embeddings", RECOGNIZER_EMBEDDINGS)
        for name in ("standardize_inputs", "individual_embeddings", "batch_norm_neck"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"AVTNetConfig.{name}: expected True or False, got {getattr(self, name)!r}")
        if not isinstance(self.soft, bool):
            raise ValueError(f"AVTNetConfig.soft: expected True or False, got {self.soft!r}")
        if not self.margin > 0:
            raise ValueError(f"AVTNetConfig.margin: expected a margin > 0, got {self.margin!r}")
        self.dropout = float(self.dropout)
        self.margin = float(self.margin)

    @staticmethod
    def _pair(value, name):
        if isinstance(value, str) or len(value) != 2:
            raise ValueError(f"AVTNetConfig.{name}: expected two integers, got {value!r}")
        return tuple(positive_int(size, f"AVTNetConfig.{name}") for size in value)

    def to_dict(self):
        """The fields as a JSON-ready dict (tuples as lists)."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in dataclasses.asdict(self).items()
        }

    @classmethod
    def coerce(cls, config, owner):
        """`config` as an AVTNetConfig: None gives the paper's, a dict its fields; else ValueError naming `owner`."""
        if config is None:
            return cls()
        if isinstance(config, dict):
            return cls.from_dict(config)
        if not isinstance(config, cls):
            raise ValueError(f"{owner} config: expected an AVTNetConfig or a dict, got {type(config).__name__}")
        return config

    @classmethod
    def from_dict(cls, values):
        """The config from a dict of fields (as from `to_dict`); unknown keys raise ValueError."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"AVTNetConfig: unknown fields {unknown}")
        return cls(**values)


@keras.saving.register_keras_serializable(package="avtfuse")
class AVTNet(keras.Model):
    """AVTNet embedding model (phase 1).

    Inputs: the data-contract dict with a float32 tensor per run modality,
    "audio" [B, frames, n_mels], "visible" [B, H, W, 3], "thermal" [B, H, W,
    thermal_channels]; other keys ("present", "recording", ...) are ignored by
    the forward pass ("present" [B, M] is read by `compute_loss`).
    Outputs: dict of float32 [B, embedding_dim] L2-normalised embeddings, one
    per run modality plus "joint".

    Train with `compile(optimizer=...)` and no loss: `compute_loss` adds the
    per-modality losses and the joint loss, and logs each term as
    "loss_<name>" (e.g. loss_audio, loss_joint) beside the total "loss".

    Args:
        config: an `AVTNetConfig`, a dict of its fields, or None for the paper's.
        name: model name.
        dtype: dtype policy of every layer (None: the global policy).
    """

    def __init__(self, config=None, name="avtnet", dtype=None, **kwargs):
        config = AVTNetConfig.coerce(config, "AVTNet")
        inputs, feature_maps = branches.feature_maps(config, dtype)
        outputs = {
            modality: EmbeddingHead(
                config.embedding_dim,
                hidden_units=(config.hidden_dim,),
                pooling=config.pooling,
                batch_norm_neck=config.batch_norm_neck and config.modality_loss == "batch_hard",
                dtype=dtype,
                name=f"{modality}_embedding",
            )(feature_maps[modality])
            for modality in config.modalities
            if config.individual_embeddings
        }
        outputs["joint"] = _joint_embedding(config, feature_maps, dtype)
        super().__init__(inputs=inputs, outputs=outputs, name=name, dtype=dtype, **kwargs)
        self.config = config
        self.loss_trackers = {
            embedding: keras.metrics.Mean(name=f"loss_{embedding}")
            for embedding in self.embedding_names
        }

    @property
    def embedding_names(self):
        """Output keys: the run's modalities in canonical order (with individual embeddings), then "joint"."""
        return (*self.config.modalities, "joint") if self.config.individual_embeddings else ("joint",)

    @property
    def recognizer_names(self):
        """The embeddings the recogniser sees, in order (all of them, or "joint" alone)."""
        return ("joint",) if self.config.recognizer_embeddings == "joint" else self.embedding_names

    def adapt(self, samples, max_samples=2048):
        """Fits the input standardisation (see `branches.adapt_standardization`)."""
        branches.adapt_standardization(self, samples, max_samples)

    def call(self, inputs, training=None, mask=None):
        if not isinstance(inputs, dict):
            raise ValueError(
                f"AVTNet inputs: expected a dict keyed by modality, got {type(inputs).__name__}"
            )
        missing = [modality for modality in self.config.modalities if modality not in inputs]
        if missing:
            raise ValueError(f"AVTNet inputs: missing keys {missing} (got {sorted(inputs)})")
        modality_inputs = {modality: inputs[modality] for modality in self.config.modalities}
        return super().call(modality_inputs, training=training, mask=mask)

    def concatenate_embeddings(self, outputs):
        """The embeddings of `outputs` side by side in `recognizer_names` order:
        float32 [B, embedding_dim * len(recognizer_names)] (the recogniser's input)."""
        missing = [name for name in self.recognizer_names if name not in outputs]
        if missing:
            raise ValueError(f"AVTNet.concatenate_embeddings outputs: missing keys {missing}")
        return ops.concatenate([outputs[name] for name in self.recognizer_names], axis=-1)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """L = sum over run modalities of the modality loss + the joint loss (float32 scalar).

        x: the inputs dict, whose "present" [B, M] gives each modality's
        presence bit; y: int labels [B]; y_pred: the outputs dict. Updates the
        "loss_<name>" trackers with each term.
        """
        if sample_weight is not None:
            raise ValueError(
                "AVTNet.compute_loss sample_weight: not supported (batch-level metric losses)"
            )
        if not isinstance(x, dict) or "present" not in x:
            raise ValueError(
                'AVTNet.compute_loss x: expected the inputs dict with a "present" [batch, M] entry'
            )
        config = self.config
        present = x["present"]
        terms = {}
        for index, modality in enumerate(config.modalities if config.individual_embeddings else ()):
            if config.modality_loss == "missing_modality":
                terms[modality] = missing_modality_loss(y, y_pred[modality], present[:, index])
            else:
                terms[modality] = batch_hard_triplet_loss(
                    y, y_pred[modality], soft=config.soft, margin=config.margin
                )
        joint_loss = JOINT_LOSSES[config.joint_loss]
        terms["joint"] = joint_loss(y, y_pred["joint"], soft=config.soft, margin=config.margin)
        for name, term in terms.items():
            self.loss_trackers[name].update_state(term)
        return ops.sum(ops.stack(list(terms.values())))

    def get_config(self):
        return {"config": self.config.to_dict(), "name": self.name, "dtype": self.dtype_policy.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _joint_embedding(config, feature_maps, dtype):
    """The joint embedding (symbolic) from the feature maps of the run's modalities."""
    if config.joint == "dense":
        return DenseJointEncoder(
            config.embedding_dim,
            hidden_units=(config.hidden_dim, config.hidden_dim),
            pooling=config.pooling,
            batch_norm_neck=config.batch_norm_neck,
            dtype=dtype,
            name="joint_embedding",
        )(list(feature_maps.values()))
    tokens = []
    for modality, features in feature_maps.items():
        if modality != "audio":
            height, width = features.shape[1:3]
            features = keras.layers.Reshape(
                (height * width, config.token_dim), dtype=dtype, name=f"{modality}_tokens"
            )(features)
        tokens.append(features)
    if len(tokens) > 1:
        tokens = keras.layers.Concatenate(axis=1, dtype=dtype, name="tokens")(tokens)
    else:
        tokens = tokens[0]
    tokens = TransformerBlock(
        config.num_heads,
        ff_dim=config.ff_dim,
        dropout=config.dropout,
        dtype=dtype,
        name="joint_transformer",
    )(tokens)
    return EmbeddingHead(
        config.embedding_dim,
        hidden_units=(config.hidden_dim,),
        pooling="average",
        batch_norm_neck=config.batch_norm_neck,
        dtype=dtype,
        name="joint_embedding",
    )(tokens)
