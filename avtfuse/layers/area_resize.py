"""Frames shrunk to a small square by cv2's INTER_AREA and flattened (the image reference's pixel features)."""

import keras
from keras import ops

from pipelines.feature_matrices import IMAGE_SIZE, area_matrix


@keras.saving.register_keras_serializable(package="avtfuse")
class AreaResize(keras.layers.Layer):
    """Frames [B, H, W, C] -> float32 [B, size * size * C]: `cv2.resize(frame, (size, size),
    interpolation=cv2.INTER_AREA)` of each frame, flattened in (row, column, channel) order; frame sequences
    [B, T, H, W, C] give their mean frame's (the image reference's rule).

    The resize is Wh @ frame @ Ww^T per channel with the constant per-axis weights of
    pipelines.feature_matrices.area_matrix ([size, H] and [size, W], built when the layer is built), within
    1e-6 of cv2 on float32 frames in [0, 1]. Only shrinking (or keeping) is supported: cv2's INTER_AREA
    enlarges by another rule (neither area nor plain bilinear), so H or W below `size` raises ValueError.
    Computed in float32 whatever the dtype policy. No weights.

    Args:
        size: pixels per side of the output (16, the reference's).
    """

    def __init__(self, size=IMAGE_SIZE, **kwargs):
        super().__init__(**kwargs)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"AreaResize size: expected an integer >= 1, got {size!r}")
        self.size = size

    def build(self, input_shape):
        if len(input_shape) not in (4, 5) or None in tuple(input_shape[-3:]):
            raise ValueError(f"AreaResize inputs: expected frames [B, H, W, C] or [B, T, H, W, C] with H, W, C "
                             f"known, got shape {tuple(input_shape)}")
        height, width = int(input_shape[-3]), int(input_shape[-2])
        if height < self.size or width < self.size:
            raise ValueError(f"AreaResize inputs: frames of {height} x {width} are smaller than {self.size} x "
                             f"{self.size}; only shrinking is supported (cv2's INTER_AREA enlarges by another rule)")
        self.rows = area_matrix(height, self.size)  # [size, H]
        self.columns = area_matrix(width, self.size)  # [size, W]

    def call(self, inputs):
        frames = ops.cast(inputs, "float32")
        if len(frames.shape) == 5:
            frames = ops.mean(frames, axis=1)
        resized = ops.einsum("hH,bHWc,wW->bhwc", self.rows, frames, self.columns)
        return ops.reshape(resized, (-1, self.size * self.size * frames.shape[-1]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size * self.size * input_shape[-1])

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update({"size": self.size})
        return config
