"""A per-frame encoder: a frame sequence [B, T, H, W, C] -> per-frame features [B, T, D_f].

The sequence systems' frame extractors cannot be had: SA-fusion's
EfficientFace (pre-trained on AffectNet-7; the authors' weight links are dead,
SYSTEMS.md 2.1), MCT-HFR's VGGFace2 ResNet-50 (SYSTEMS.md 3.1). Two stand-ins,
trained from scratch with the system:

- "small": ImageBranch(filters, 3 blocks, output 64) -> global average pool ->
  Dense(units, ReLU); D_f = units (256).
- "mobilenet": keras.applications.MobileNetV3Small(weights=None,
  include_top=False, pooling="avg", include_preprocessing=False), a
  ShuffleNet-class network like EfficientFace's trunk; D_f = 576.

Without AffectNet pre-training the video-only accuracy is expected to be far
below the paper's.

All frames of the batch go through the network as one batch of B * T images
(a reshape), as the reference code does: the batch-norm statistics of the
MobileNet then cover every frame, and the step runs as one large batch rather
than T small ones (keras' TimeDistributed loops over time).
"""

import keras
from keras import ops

from avtfuse.layers.image_branch import ImageBranch
from avtfuse.layers.checks import choice, positive_int

KINDS = ("small", "mobilenet")
# The smallest frame side each kind takes: 3 poolings of 2 ("small"); keras' MobileNetV3 minimum.
MIN_FRAME_SIDE = {"small": 8, "mobilenet": 32}
MOBILENET_UNITS = 576


@keras.saving.register_keras_serializable(package="avtfuse")
class FrameEncoder(keras.layers.Layer):
    """Per-frame image encoder over a frame sequence (see the module docstring).

    Input: float [B, T, H, W, C] frames in [0, 1]. Output: [B, T, D_f] in the
    compute dtype (D_f = `units` for "small", 576 for "mobilenet").

    Args:
        kind: "small" or "mobilenet".
        filters: filters of the small encoder's convolutions.
        units: output width of the small encoder's Dense layer.
    """

    def __init__(self, kind="small", filters=32, units=256, **kwargs):
        super().__init__(**kwargs)
        self.kind = choice(kind, "FrameEncoder kind", KINDS)
        self.filters = positive_int(filters, "FrameEncoder filters")
        self.units = positive_int(units, "FrameEncoder units")
        self.network = None
        if self.kind == "small":
            policy = self.dtype_policy
            self.image_branch = ImageBranch(
                self.filters, num_blocks=3, output_filters=64, dtype=policy, name="image_branch")
            self.pooling = keras.layers.GlobalAveragePooling2D(dtype=policy, name="pool")
            self.dense = keras.layers.Dense(self.units, activation="relu", dtype=policy, name="dense")

    @property
    def output_units(self):
        """D_f, the width of each frame's features."""
        return self.units if self.kind == "small" else MOBILENET_UNITS

    def build(self, input_shape):
        if len(input_shape) != 5 or any(size is None for size in input_shape[1:]):
            raise ValueError(f"FrameEncoder input: expected [batch, frames, height, width, channels] with static "
                             f"frames and sizes, got {input_shape}")
        frame_shape = tuple(input_shape[2:])
        if self.kind == "small":
            self.image_branch.build((None, *frame_shape))
            self.dense.build((None, self.image_branch.output_filters))
            return
        self.network = keras.applications.MobileNetV3Small(
            input_shape=frame_shape, include_top=False, weights=None, pooling="avg", include_preprocessing=False)
        # keras.applications builds under the global policy; follow this layer's (float32 variables either way).
        for layer in self.network._flatten_layers(include_self=True):
            layer.dtype_policy = self.dtype_policy

    def call(self, inputs, training=None):
        steps, height, width, channels = inputs.shape[1:]
        frames = ops.reshape(inputs, (-1, height, width, channels))
        if self.kind == "small":
            features = self.dense(self.pooling(self.image_branch(frames)))
        else:
            features = self.network(frames, training=training)
        return ops.reshape(features, (-1, steps, self.output_units))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:2], self.output_units)

    def get_config(self):
        config = super().get_config()
        config.update({"kind": self.kind, "filters": self.filters, "units": self.units})
        return config
