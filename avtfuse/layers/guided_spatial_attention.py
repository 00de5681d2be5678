"""CFN-SR's cross-modal block: audio-guided spatial attention over a video feature map, per sample (eq. 7-8)."""

import keras
from keras import ops

from avtfuse.layers.checks import choice, positive_int

SOFTMAX_AXES = ("hw", "thw")


@keras.saving.register_keras_serializable(package="avtfuse")
class AudioGuidedSpatialAttention(keras.layers.Layer):
    """Audio-guided attention over the positions of a video feature map, with residual (CFN-SR eq. 7-8,
    SYSTEMS.md 4.2 item 2-3).

        x_hat = tanh(W_v x + b_v + W_a a)          [B, S, H, W, units]
        logit = Dense(1)(x_hat)                    [B, S, H, W]
        alpha = softmax(logit) over the H·W positions of each slice s ("hw", the code)
                or over all S·H·W positions ("thw")
        out   = x · (1 + alpha) (residual) or x · alpha, broadcast over channels.

    W_v = Dense(units) over the channels at every position, W_a = Dense(units, no
    bias) broadcast over positions. Every sample gets its own map: the public code
    sums the maps over the batch and applies the sum to every sample (SYSTEMS.md 4.5
    trap 2); here sample i's output does not depend on the rest of the batch. The
    softmax is computed in float32 and cast back to the compute dtype. At C = 2,048,
    k = 64, units = 64 the layer has 131,136 + 4,096 + 65 = 135,297 parameters.

    Call: `layer([video, audio])`, video float [B, S, H, W, C] feature map, audio float
    [B, k] summary (CFN-SR: the last step of the causal audio transformer).
    Returns: (attended [B, S, H, W, C], weights [B, S, H, W]), both in the compute dtype;
    the weights sum to 1 over H, W per (sample, s) ("hw") or over S, H, W per sample ("thw").

    Args:
        units: width k of the joint space (64 in the paper and code).
        softmax_over: "hw" (per temporal slice, the code) or "thw" (whole map).
        residual: out = x · (1 + alpha) (True, the paper) or x · alpha (False, Table 2's ablation).
    """

    def __init__(self, units=64, softmax_over="hw", residual=True, **kwargs):
        super().__init__(**kwargs)
        self.units = positive_int(units, "AudioGuidedSpatialAttention units")
        self.softmax_over = choice(softmax_over, "AudioGuidedSpatialAttention softmax_over", SOFTMAX_AXES)
        if not isinstance(residual, bool):
            raise ValueError(f"AudioGuidedSpatialAttention residual: expected True or False, got {residual!r}")
        self.residual = residual
        policy = self.dtype_policy
        self.video_projection = keras.layers.Dense(self.units, dtype=policy, name="video_projection")
        self.audio_projection = keras.layers.Dense(self.units, use_bias=False, dtype=policy, name="audio_projection")
        self.score = keras.layers.Dense(1, dtype=policy, name="score")

    def _shapes(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2 or not all(
                isinstance(shape, (list, tuple)) for shape in input_shape):
            raise ValueError(f"AudioGuidedSpatialAttention input: expected a list [video, audio], got {input_shape}")
        video, audio = (tuple(shape) for shape in input_shape)
        if len(video) != 5 or video[-1] is None:
            raise ValueError("AudioGuidedSpatialAttention video: expected [batch, slices, height, width, channels] "
                             f"with static channels, got {video}")
        if len(audio) != 2 or audio[-1] is None:
            raise ValueError(f"AudioGuidedSpatialAttention audio: expected [batch, features] with static features, "
                             f"got {audio}")
        return video, audio

    def build(self, input_shape):
        video, audio = self._shapes(input_shape)
        self.video_projection.build(video)
        self.audio_projection.build(audio)
        self.score.build((*video[:-1], self.units))

    def call(self, inputs):
        video, audio = inputs
        guide = self.audio_projection(audio)[:, None, None, None, :]
        joint = ops.tanh(self.video_projection(video) + guide)
        logits = ops.cast(ops.squeeze(self.score(joint), -1), "float32")
        axes = (-2, -1) if self.softmax_over == "hw" else (-3, -2, -1)
        shift = ops.stop_gradient(ops.max(logits, axis=axes, keepdims=True))
        exponentials = ops.exp(logits - shift)
        weights = ops.cast(exponentials / ops.sum(exponentials, axis=axes, keepdims=True), self.compute_dtype)
        scale = 1.0 + weights if self.residual else weights
        return video * ops.expand_dims(scale, -1), weights

    def compute_output_shape(self, input_shape):
        video, _ = self._shapes(input_shape)
        return video, video[:-1]

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "softmax_over": self.softmax_over, "residual": self.residual})
        return config
