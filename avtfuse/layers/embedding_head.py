"""Embedding head: pooling, a small MLP and L2 normalisation."""

import math

import keras
from keras import ops

from avtfuse.distribute import batch_normalization
from avtfuse.layers.checks import choice, positive_int
from avtfuse.layers.l2_normalize import L2Normalize

POOLINGS = ("flatten", "average")


def _shape_list(input_shape):
    """The input shape(s) of a head as a list of shapes (one per input tensor)."""
    if input_shape and isinstance(input_shape[0], (list, tuple)):
        return [tuple(shape) for shape in input_shape]
    return [tuple(input_shape)]


@keras.saving.register_keras_serializable(package="avtfuse")
class EmbeddingHead(keras.layers.Layer):
    """Pooling -> Dense(h, `activation`) per h in `hidden_units` -> Dense(`embedding_dim`)
    -> [BatchNormalization, with `batch_norm_neck`] -> L2 normalisation.

    The optional batch-norm "neck" (as in BNNeck re-identification models)
    keeps the embeddings spread across the batch: without it a head trained
    only with the batch-hard triplet loss shrinks every embedding to one point
    within an epoch (loss ln 2) and learns for a long time nothing else.

    Input: one float feature map [B, ..., C] or a list of them (each pooled,
    then concatenated along the feature axis). Pooling "flatten" keeps every
    value (all non-batch sizes must be static); "average" takes the mean over
    all non-batch, non-channel axes (a no-op on [B, C]).
    Output: float32 [B, embedding_dim] with unit norm (all zeros for a zero
    projection; see `L2Normalize`). The output is float32 under any dtype
    policy so that the metric losses get float32 distances (symbolic calls
    declare float32 too).
    Paper defaults: flatten, Dense(256, ReLU), Dense(256).
    """

    def __init__(
        self,
        embedding_dim=256,
        hidden_units=(256,),
        pooling="flatten",
        activation="relu",
        batch_norm_neck=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.embedding_dim = positive_int(embedding_dim, f"{type(self).__name__} embedding_dim")
        self.hidden_units = tuple(
            positive_int(units, f"{type(self).__name__} hidden_units") for units in hidden_units
        )
        self.pooling = choice(pooling, f"{type(self).__name__} pooling", POOLINGS)
        self.activation = activation
        self.hidden_layers = [
            keras.layers.Dense(
                units, activation=activation, dtype=self.dtype_policy, name=f"hidden_{index}"
            )
            for index, units in enumerate(self.hidden_units)
        ]
        self.projection = keras.layers.Dense(
            self.embedding_dim, dtype=self.dtype_policy, name="projection"
        )
        self.batch_norm_neck = bool(batch_norm_neck)
        self.neck = (
            batch_normalization(dtype=self.dtype_policy, name="neck") if self.batch_norm_neck else None
        )
        self.normalize = L2Normalize(dtype=self.dtype_policy, name="normalize")

    def _pooled_size(self, shape):
        if len(shape) < 2:
            raise ValueError(
                f"{type(self).__name__} input: expected [batch, ..., channels], got {shape}"
            )
        if self.pooling == "average":
            sizes = shape[-1:]
        else:
            sizes = shape[1:]
        if any(size is None for size in sizes):
            raise ValueError(
                f"{type(self).__name__} input: pooling {self.pooling!r} needs static sizes, got {shape}"
            )
        return math.prod(sizes)

    def build(self, input_shape):
        batch = _shape_list(input_shape)[0][0]
        shape = (batch, sum(self._pooled_size(s) for s in _shape_list(input_shape)))
        for layer in self.hidden_layers:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.projection.build(shape)
        if self.neck is not None:
            self.neck.build(self.projection.compute_output_shape(shape))

    def _pool(self, features, token_mask):
        rank = len(features.shape)
        if rank == 2:
            return features
        if self.pooling == "average" and token_mask is not None:
            weights = ops.expand_dims(ops.cast(token_mask, features.dtype), -1)
            return ops.sum(features * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)
        if self.pooling == "average":
            return ops.mean(features, axis=tuple(range(1, rank - 1)))
        return ops.reshape(features, (-1, math.prod(features.shape[1:])))

    def call(self, inputs, training=None, token_mask=None):
        """inputs: as in the class docstring; token_mask: None, or with "average" pooling of one [B, T, C] input
        a float [B, T] of 1 (pooled) and 0 (left out) per token: the mean over the kept tokens (zeros when a
        sample keeps none)."""
        feature_maps = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if token_mask is not None and (self.pooling != "average" or len(feature_maps) != 1
                                       or len(feature_maps[0].shape) != 3):
            raise ValueError(f"{type(self).__name__} token_mask: needs average pooling of one [batch, tokens, "
                             f"channels] input, got pooling {self.pooling!r} of {len(feature_maps)} input(s)")
        pooled = [self._pool(features, token_mask) for features in feature_maps]
        hidden = pooled[0] if len(pooled) == 1 else ops.concatenate(pooled, axis=-1)
        for layer in self.hidden_layers:
            hidden = layer(hidden)
        projected = self.projection(hidden)
        if self.neck is not None:
            projected = self.neck(projected, training=training)
        return self.normalize(projected)

    def compute_output_shape(self, input_shape):
        return (_shape_list(input_shape)[0][0], self.embedding_dim)

    def compute_output_spec(self, inputs, training=None, token_mask=None):
        shapes = [x.shape for x in inputs] if isinstance(inputs, (list, tuple)) else inputs.shape
        return keras.KerasTensor(self.compute_output_shape(shapes), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "embedding_dim": self.embedding_dim,
                "hidden_units": list(self.hidden_units),
                "pooling": self.pooling,
                "activation": self.activation,
                "batch_norm_neck": self.batch_norm_neck,
            }
        )
        return config
