"""Sinusoidal position embedding in the fairseq / tensor2tensor layout (MCT-HFR, SYSTEMS.md 3.2 item 1)."""

import math

import keras
from keras import ops

from avtfuse.layers.checks import positive_int


@keras.saving.register_keras_serializable(package="avtfuse")
class SinusoidalPositionEmbedding(keras.layers.Layer):
    """Sinusoidal position embedding of the real steps of a padded sequence.

    With half = units // 2 and frequencies f_i = exp(-i · log(10000) / (half - 1)),
    i = 0 … half - 1, the embedding of position p is [sin(p f), cos(p f)]
    (first half sin, second half cos), plus a zero column when `units` is odd
    (fairseq's `SinusoidalPositionalEmbedding`). Positions count the real steps,
    1, 2, … (the cumulative sum of the mask), so every non-padded step gets an
    embedding, missing (zeroed) steps included (SYSTEMS.md 3.6 trap 12, eq. 4),
    and padded rows are zero. No weights.

    Input: float mask [B, T], 1 = real step, 0 = padding.
    Output: [B, T, units] in the compute dtype (computed in float32).

    Args:
        units: width of the embedding (the model width d); at least 4.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = positive_int(units, "SinusoidalPositionEmbedding units")
        if self.units < 4:
            raise ValueError(f"SinusoidalPositionEmbedding units: expected an integer >= 4, got {units!r}")

    def call(self, inputs):
        mask = ops.cast(inputs, "float32")
        half = self.units // 2
        frequencies = ops.exp(ops.arange(half, dtype="float32") * (-math.log(10000.0) / (half - 1)))
        angles = ops.expand_dims(ops.cumsum(mask, axis=1), -1) * frequencies
        parts = [ops.sin(angles), ops.cos(angles)]
        if self.units % 2:
            parts.append(ops.zeros_like(angles[..., :1]))
        embedding = ops.concatenate(parts, axis=-1) * ops.expand_dims(mask, -1)
        return ops.cast(embedding, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.units)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config
