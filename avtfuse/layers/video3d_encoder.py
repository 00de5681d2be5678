"""A small 3-D convolutional video encoder, the stand-in for CFN-SR's 3-D ResNeXt-50 (SYSTEMS.md 4.1)."""

import keras

from avtfuse.distribute import batch_normalization
from avtfuse.layers.checks import positive_int


def _strides(value, count):
    """`value` as `count` triples of positive ints (one per stage), or a ValueError."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != count:
        raise ValueError(f"Video3DEncoder strides: expected {count} (time, height, width) triples, got {value!r}")
    stages = []
    for stride in value:
        if isinstance(stride, (str, bytes)) or not hasattr(stride, "__len__") or len(stride) != 3:
            raise ValueError(f"Video3DEncoder strides: expected (time, height, width) triples, got {value!r}")
        stages.append(tuple(positive_int(item, "Video3DEncoder strides") for item in stride))
    return tuple(stages)


@keras.saving.register_keras_serializable(package="avtfuse")
class Video3DEncoder(keras.layers.Layer):
    """Stages of Conv3D(width, kernel_size^3, stride, "same", no bias) -> BatchNormalization -> ReLU.

    A stand-in for the 3-D ResNeXt-50 of CFN-SR / MSAF (Hara's 3D-ResNets,
    25.88 M parameters, 30 x 224 x 224 -> [S = 2, 7, 7, 2,048]), whose
    RAVDESS-trained checkpoints are not available to us: four stages at
    widths 32/64/128/256 give the same [S, 7, 7] grid from a 16 x 112 x 112
    clip with about 1.2 M parameters. Pre-train it unimodally, as the paper
    did its backbone (SYSTEMS.md 4.1).

    "same" padding: each axis of size n becomes ceil(n / stride). The batch
    normalisation uses PyTorch's defaults (momentum 0.1 there, 0.9 here;
    epsilon 1e-5), synchronised across replicas under the TensorFlow backend.

    Input: float [B, T, H, W, C] frames, values in [0, 1].
    Output: [B, S, h, w, widths[-1]]; [B, 2, 7, 7, 256] at 16 x 112 x 112 x 3
    (16 x 112 x 112 -> 16 x 56 x 56 -> 8 x 28 x 28 -> 4 x 14 x 14 -> 2 x 7 x 7).

    Args:
        widths: output channels of each stage.
        strides: (time, height, width) stride of each stage's convolution.
        kernel_size: convolution size along each of the three axes.
    """

    def __init__(self, widths=(32, 64, 128, 256), strides=((1, 2, 2), (2, 2, 2), (2, 2, 2), (2, 2, 2)),
                 kernel_size=3, **kwargs):
        super().__init__(**kwargs)
        if isinstance(widths, (str, bytes)) or not hasattr(widths, "__len__") or len(widths) == 0:
            raise ValueError(f"Video3DEncoder widths: expected a non-empty list of integers >= 1, got {widths!r}")
        self.widths = tuple(positive_int(width, "Video3DEncoder widths") for width in widths)
        self.strides = _strides(strides, len(self.widths))
        self.kernel_size = positive_int(kernel_size, "Video3DEncoder kernel_size")
        policy = self.dtype_policy
        self.convolutions = [
            keras.layers.Conv3D(width, self.kernel_size, strides=stride, padding="same", use_bias=False,
                                dtype=policy, name=f"conv_{index}")
            for index, (width, stride) in enumerate(zip(self.widths, self.strides))
        ]
        self.normalizations = [
            batch_normalization(momentum=0.9, epsilon=1e-5, dtype=policy, name=f"batch_norm_{index}")
            for index in range(len(self.widths))
        ]
        self.activation = keras.layers.Activation("relu", dtype=policy, name="relu")

    def build(self, input_shape):
        if len(input_shape) != 5 or input_shape[-1] is None:
            raise ValueError(
                "Video3DEncoder input: expected [batch, frames, height, width, channels] with static channels, "
                f"got {input_shape}")
        shape = tuple(input_shape)
        for convolution, normalization in zip(self.convolutions, self.normalizations):
            convolution.build(shape)
            shape = convolution.compute_output_shape(shape)
            normalization.build(shape)

    def call(self, inputs, training=None):
        features = inputs
        for convolution, normalization in zip(self.convolutions, self.normalizations):
            features = self.activation(normalization(convolution(features), training=training))
        return features

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for convolution in self.convolutions:
            shape = convolution.compute_output_shape(shape)
        return shape

    def get_config(self):
        config = super().get_config()
        config.update({
            "widths": list(self.widths),
            "strides": [list(stride) for stride in self.strides],
            "kernel_size": self.kernel_size,
        })
        return config
