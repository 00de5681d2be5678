"""AVTNet: audio-visible-thermal person embeddings robust to a missing modality.

John and Kawanishi, MMAsia 2022. One convolutional branch per modality gives a
feature map of `token_dim`-d tokens; a per-modality head embeds each map, and a
transformer over all tokens gives the joint embedding. Trained with the
missing-modality loss per modality plus a triplet loss on the joint embedding.
"""

import keras
from keras import ops

from avtfuse.distribute import global_batch, num_replicas
from avtfuse.layers import DenseJointEncoder, EmbeddingHead, TokenPresence, TransformerBlock
from avtfuse.losses import batch_hard_triplet_loss, missing_modality_loss, triplet_prototypical_loss
from avtfuse.models.avtnet import branches
from avtfuse.models.avtnet.config import AVTNetConfig

JOINT_LOSSES = {"batch_hard": batch_hard_triplet_loss, "prototypical": triplet_prototypical_loss}


@keras.saving.register_keras_serializable(package="avtfuse")
class AVTNet(branches.BranchBackbone, keras.Model):
    """AVTNet embedding model (phase 1), a `ContractModel`.

    Inputs: the data-contract dict with a float32 tensor per run modality,
    "audio" [B, frames, n_mels], "visible" [B, H, W, 3], "thermal" [B, H, W,
    thermal_channels]; other keys ("present", "recording", ...) are ignored by
    the forward pass ("present" [B, M] is read by `compute_loss`).
    Outputs: dict of float32 [B, embedding_dim] L2-normalised embeddings, one
    per run modality plus "joint" (`config.embedding_names`).

    Train with `compile(optimizer=...)` and no loss: `compute_loss` adds the
    per-modality losses and the joint loss, and logs each term as
    "loss_<name>" (e.g. loss_audio, loss_joint) beside the total "loss".

    Args:
        config: an `AVTNetConfig`, a dict of its fields, or None for the paper's; the model builds and keeps
            its `at_width()` (hidden widths scaled by its width multiplier).
        name: model name.
        dtype: dtype policy of every layer (None: the global policy).
    """

    def __init__(self, config=None, name="avtnet", dtype=None, **kwargs):
        config = AVTNetConfig.coerce(config).at_width()
        inputs, feature_maps = branches.feature_maps(config, dtype)
        if config.joint_tokens == "present":
            inputs["present"] = keras.Input(shape=(len(config.modalities),), name="present")
        outputs = {
            modality: EmbeddingHead(
                config.embedding_dim,
                hidden_units=(config.hidden_dim,),
                pooling=config.pooling,
                batch_norm_neck=modality in config.bn_neck_heads,
                dtype=dtype,
                name=f"{modality}_embedding",
            )(feature_maps[modality])
            for modality in config.embedding_names
            if modality != "joint"
        }
        outputs["joint"] = _joint_embedding(config, feature_maps, dtype, inputs.get("present"))
        super().__init__(inputs=inputs, outputs=outputs, name=name, dtype=dtype, **kwargs)
        if dtype is not None:
            self.dtype_policy = dtype  # keras' functional init drops it
        self.config = config
        self.loss_trackers = {
            embedding: keras.metrics.Mean(name=f"loss_{embedding}") for embedding in config.embedding_names
        }

    def input_shapes(self):
        """The branches' inputs, plus "present" (M,) with `joint_tokens` "present"."""
        shapes = branches.input_shapes(self.config)
        if self.config.joint_tokens == "present":
            shapes["present"] = (len(self.config.modalities),)
        return shapes

    @property
    def embedding_names(self):
        """Output keys: the run's modalities in canonical order (with individual embeddings), then "joint"."""
        return self.config.embedding_names

    @property
    def recognizer_names(self):
        """The embeddings the recogniser sees, in order (all of them, or "joint" alone)."""
        return ("joint",) if self.config.recognizer_embeddings == "joint" else self.embedding_names

    def features(self, outputs):
        """The embeddings of `outputs` side by side in `recognizer_names` order:
        float32 [B, embedding_dim * len(recognizer_names)] (the recogniser's input)."""
        missing = [name for name in self.recognizer_names if name not in outputs]
        if missing:
            raise ValueError(f"AVTNet.features outputs: missing keys {missing}")
        return ops.concatenate([outputs[name] for name in self.recognizer_names], axis=-1)

    def embeddings(self, outputs):
        """{"joint": the joint embedding, then each sensor's own (with individual embeddings)}: float32 [B, D]
        each, L2-normalised as trained."""
        return {name: outputs[name] for name in ("joint", *self.embedding_names) if name in outputs}

    def loss_terms(self, labels, embeddings, present):
        """Each loss term on one (global) batch: {embedding name: float32 scalar}.

        labels: int [B]; embeddings: the outputs dict; present: float [B, M].
        """
        config = self.config
        terms = {}
        for index, modality in enumerate(config.modalities if config.individual_embeddings else ()):
            if config.modality_loss == "missing_modality":
                terms[modality] = missing_modality_loss(labels, embeddings[modality], present[:, index])
            else:
                terms[modality] = batch_hard_triplet_loss(
                    labels, embeddings[modality], soft=config.soft, margin=config.margin)
        joint_loss = JOINT_LOSSES[config.joint_loss]
        terms["joint"] = joint_loss(labels, embeddings["joint"], soft=config.soft, margin=config.margin)
        return terms

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """L = sum over run modalities of the modality loss + the joint loss (float32 scalar).

        x: the inputs dict, whose "present" [B, M] gives each modality's
        presence bit; y: int labels [B]; y_pred: the outputs dict. Mining sees
        the global batch: under a multi-replica tf.distribute strategy the
        labels, presence bits and embeddings are gathered across replicas and
        the loss is divided by the number of replicas, as Keras expects of a
        per-replica loss (see `avtfuse.distribute`). Updates the
        "loss_<name>" trackers with each term of the global batch, weighted
        by its size as Keras weights its loss (so the empty batch Keras runs
        at the end of an evaluation counts for nothing).
        """
        if sample_weight is not None:
            raise ValueError("AVTNet.compute_loss sample_weight: not supported (batch-level metric losses)")
        if not isinstance(x, dict) or "present" not in x:
            raise ValueError('AVTNet.compute_loss x: expected the inputs dict with a "present" [batch, M] entry')
        names = self.embedding_names
        labels, present, *gathered = global_batch(y, x["present"], *(y_pred[name] for name in names))
        terms = self.loss_terms(labels, dict(zip(names, gathered)), present)
        batch_size = ops.cast(ops.shape(labels)[0], "float32")
        for name, term in terms.items():
            self.loss_trackers[name].update_state(term, sample_weight=batch_size)
        return ops.sum(ops.stack(list(terms.values()))) / num_replicas()


def _joint_embedding(config, feature_maps, dtype, present=None):
    """The joint embedding (symbolic) from the feature maps of the run's modalities; with the presence bits
    `present` [B, M] (joint_tokens "present") the transformer attends to, and the head averages, only the
    tokens of present modalities."""
    if config.joint == "dense":
        return DenseJointEncoder(
            config.embedding_dim,
            hidden_units=(config.hidden_dim, config.hidden_dim),
            pooling=config.pooling,
            batch_norm_neck="joint" in config.bn_neck_heads,
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
    token_mask = None
    if present is not None:
        token_mask = TokenPresence([t.shape[1] for t in tokens], name="token_presence")(present)
    if len(tokens) > 1:
        tokens = keras.layers.Concatenate(axis=1, dtype=dtype, name="tokens")(tokens)
    else:
        tokens = tokens[0]
    tokens = TransformerBlock(
        config.num_heads,
        ff_dim=config.ff_dim,
        dropout=config.dropout,
        attention_kind=config.attention,
        query_block=config.attention_block,
        dtype=dtype,
        name="joint_transformer",
    )(tokens, token_mask=token_mask)
    return EmbeddingHead(
        config.embedding_dim,
        hidden_units=(config.hidden_dim,),
        pooling="average",
        batch_norm_neck="joint" in config.bn_neck_heads,
        dtype=dtype,
        name="joint_embedding",
    )(tokens, token_mask=token_mask)
