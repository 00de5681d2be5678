"""One 1-D convolution block over time: Conv1D, optional batch norm, activation, optional max-pool."""

import keras

from avtfuse.distribute import batch_normalization
from avtfuse.layers.checks import choice, positive_int

PADDINGS = ("valid", "same")


@keras.saving.register_keras_serializable(package="avtfuse")
class TemporalConvBlock(keras.layers.Layer):
    """Conv1D(`filters`, `kernel_size`, stride 1, `padding`, with bias) -> [BatchNormalization]
    -> `activation` -> [MaxPooling1D(`pool_size`, `pool_strides`, "valid")].

    A branch stage is a list of these (SA-fusion, SYSTEMS.md 2.2: the audio
    blocks use "valid" convolutions and pool 2 / stride 1, so each shortens T
    by 3; the visual blocks use "same" and no pooling).

    Input: float [B, T, C_in]. Output: [B, T', filters]; T' = T ("same") or
    T - kernel_size + 1 ("valid"), then T' - pool_size + 1 with pool_strides 1.

    The batch normalisation uses PyTorch's defaults (momentum 0.1 there, 0.9
    here; epsilon 1e-5), as the reference code does, and is synchronised
    across replicas under the TensorFlow backend (`avtfuse.distribute`).

    Args:
        filters: output channels.
        kernel_size: convolution width in time steps.
        padding: "valid" or "same".
        batch_norm: put a BatchNormalization between convolution and activation.
        activation: any keras activation (default ReLU).
        pool_size: max-pool window; None for no pooling.
        pool_strides: max-pool stride; None gives `pool_size` (Keras' default).
    """

    def __init__(self, filters, kernel_size=3, padding="valid", batch_norm=True, activation="relu",
                 pool_size=None, pool_strides=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = positive_int(filters, "TemporalConvBlock filters")
        self.kernel_size = positive_int(kernel_size, "TemporalConvBlock kernel_size")
        self.padding = choice(padding, "TemporalConvBlock padding", PADDINGS)
        if not isinstance(batch_norm, bool):
            raise ValueError(f"TemporalConvBlock batch_norm: expected True or False, got {batch_norm!r}")
        self.batch_norm = batch_norm
        self.activation = activation
        self.pool_size = None if pool_size is None else positive_int(pool_size, "TemporalConvBlock pool_size")
        if pool_strides is not None and self.pool_size is None:
            raise ValueError("TemporalConvBlock pool_strides: given without pool_size")
        self.pool_strides = None if pool_strides is None else positive_int(
            pool_strides, "TemporalConvBlock pool_strides")
        self.convolution = keras.layers.Conv1D(
            self.filters, self.kernel_size, padding=self.padding, dtype=self.dtype_policy, name="conv")
        self.normalization = batch_normalization(
            momentum=0.9, epsilon=1e-5, dtype=self.dtype_policy, name="batch_norm") if batch_norm else None
        self.activation_layer = keras.layers.Activation(activation, dtype=self.dtype_policy, name="activation")
        self.pooling = None
        if self.pool_size is not None:
            self.pooling = keras.layers.MaxPooling1D(
                self.pool_size, strides=self.pool_strides or self.pool_size, padding="valid",
                dtype=self.dtype_policy, name="pool")

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                f"TemporalConvBlock input: expected [batch, time, channels] with static channels, got {input_shape}")
        steps = input_shape[1]
        minimum = (self.kernel_size if self.padding == "valid" else 1) + (self.pool_size or 1) - 1
        if steps is not None and steps < minimum:
            raise ValueError(f"TemporalConvBlock input: expected >= {minimum} time steps, got {input_shape}")
        self.convolution.build(input_shape)
        shape = self.convolution.compute_output_shape(input_shape)
        if self.normalization is not None:
            self.normalization.build(shape)

    def call(self, inputs, training=None):
        features = self.convolution(inputs)
        if self.normalization is not None:
            features = self.normalization(features, training=training)
        features = self.activation_layer(features)
        if self.pooling is not None:
            features = self.pooling(features)
        return features

    def compute_output_shape(self, input_shape):
        shape = self.convolution.compute_output_shape(input_shape)
        if self.pooling is not None:
            shape = self.pooling.compute_output_shape(shape)
        return shape

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "padding": self.padding,
            "batch_norm": self.batch_norm,
            "activation": self.activation,
            "pool_size": self.pool_size,
            "pool_strides": self.pool_strides,
        })
        return config
