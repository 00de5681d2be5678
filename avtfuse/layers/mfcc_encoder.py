"""CFN-SR's audio encoder, MFCCNet: three 1-D convolutions over MFCC frames (SYSTEMS.md 4.2)."""

import numbers

import keras

from avtfuse.distribute import batch_normalization
from avtfuse.layers.checks import positive_int

# MFCCNet's fixed geometry (eq. 1-3 and the public code): kernel sizes, zero padding on each side, max-pool size.
KERNEL_SIZES = (7, 7, 5)
PADDING = 2
POOL_SIZE = 8

# The shortest time axis: 12 -> 10 -> 8 -> 1 (pool) -> 1.
MINIMUM_STEPS = 12


@keras.saving.register_keras_serializable(package="avtfuse")
class MFCCEncoder(keras.layers.Layer):
    """MFCCNet (MSAF / CFN-SR audio branch, eq. 1-3; SYSTEMS.md 4.2):

        ZeroPadding1D(2) + Conv1D(f1, 7, "valid") -> ReLU -> BN
        -> ZeroPadding1D(2) + Conv1D(f2, 7, "valid") -> ReLU -> MaxPool1D(8) -> BN -> Dropout
        -> ZeroPadding1D(2) + Conv1D(f3, 5, "valid") -> ReLU -> BN.

    PyTorch's `Conv1d(padding=2)` is reproduced by explicit zero padding and a
    "valid" convolution (not "same": the k = 7 layers shorten T by 2 each).
    Batch normalisation after the activation, as in the code, with PyTorch's
    defaults (momentum 0.1 there, 0.9 here; epsilon 1e-5), synchronised across
    replicas under the TensorFlow backend (`avtfuse.distribute`).

    Input: float [B, T, 13] MFCC frames (time-major; T = 212 for 2.45 s at
    44.1 kHz, hop 512). Output: [B, ((T - 4) // 8), f3]; [B, 26, 64] at T = 212
    (212 -> 210 -> 208 -> 26 -> 26). T must be >= 12.

    Args:
        filters: output channels (f1, f2, f3) of the three convolutions.
        dropout: rate of the dropout after the pooling (0.2 in the code).
    """

    def __init__(self, filters=(32, 32, 64), dropout=0.2, **kwargs):
        super().__init__(**kwargs)
        if isinstance(filters, (str, bytes)) or not hasattr(filters, "__len__") or len(filters) != 3:
            raise ValueError(f"MFCCEncoder filters: expected 3 integers >= 1, got {filters!r}")
        self.filters = tuple(positive_int(value, "MFCCEncoder filters") for value in filters)
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"MFCCEncoder dropout: expected a rate in [0, 1), got {dropout!r}")
        self.dropout = float(dropout)
        policy = self.dtype_policy
        self.paddings = [keras.layers.ZeroPadding1D(PADDING, dtype=policy, name=f"pad_{index}") for index in range(3)]
        self.convolutions = [
            keras.layers.Conv1D(width, kernel, padding="valid", activation="relu", dtype=policy, name=f"conv_{index}")
            for index, (width, kernel) in enumerate(zip(self.filters, KERNEL_SIZES))
        ]
        self.normalizations = [
            batch_normalization(momentum=0.9, epsilon=1e-5, dtype=policy, name=f"batch_norm_{index}")
            for index in range(3)
        ]
        self.pooling = keras.layers.MaxPooling1D(POOL_SIZE, padding="valid", dtype=policy, name="pool")
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=policy, name="dropout")

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                f"MFCCEncoder input: expected [batch, frames, n_mfcc] with static n_mfcc, got {input_shape}")
        if input_shape[1] is not None and input_shape[1] < MINIMUM_STEPS:
            raise ValueError(f"MFCCEncoder input: expected >= {MINIMUM_STEPS} frames, got {input_shape}")
        shape = tuple(input_shape)
        for index in range(3):
            shape = self.paddings[index].compute_output_shape(shape)
            self.convolutions[index].build(shape)
            shape = self.convolutions[index].compute_output_shape(shape)
            if index == 1:
                shape = self.pooling.compute_output_shape(shape)
            self.normalizations[index].build(shape)

    def call(self, inputs, training=None):
        features = inputs
        for index in range(3):
            features = self.convolutions[index](self.paddings[index](features))
            if index == 1:
                features = self.pooling(features)
            features = self.normalizations[index](features, training=training)
            if index == 1:
                features = self.dropout_layer(features, training=training)
        return features

    def compute_output_shape(self, input_shape):
        steps = input_shape[1]
        if steps is not None:
            for index in range(2):
                steps += 2 * PADDING - KERNEL_SIZES[index] + 1
            steps //= POOL_SIZE
            steps += 2 * PADDING - KERNEL_SIZES[2] + 1
        return (input_shape[0], steps, self.filters[-1])

    def get_config(self):
        config = super().get_config()
        config.update({"filters": list(self.filters), "dropout": self.dropout})
        return config
