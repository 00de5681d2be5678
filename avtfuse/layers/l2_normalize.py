"""Guarded L2 normalisation of embedding vectors."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="avtfuse")
class L2Normalize(keras.layers.Layer):
    """Scales vectors to unit Euclidean norm along `axis`.

    Computes and returns float32 whatever the dtype policy (squared norms of
    float16 vectors overflow and `epsilon` underflows in float16), so the
    embeddings reach the metric losses in float32. A vector whose squared norm
    is below `epsilon` (an all-zero vector: an ablated modality) maps to zeros
    with a zero gradient; clamping the norm instead would give it a gradient of
    1/sqrt(epsilon) (1e6), inf once cast back to a float16 input.

    Input: float [..., D]. Output: float32 [..., D]; symbolic calls declare float32 too.

    Args:
        axis: the axis holding the vector components.
        epsilon: squared norm (float32 units) below which a vector counts as zero.
    """

    def __init__(self, axis=-1, epsilon=1e-12, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)
        self.epsilon = float(epsilon)
        if self.epsilon <= 0:
            raise ValueError(f"L2Normalize epsilon: must be > 0, got {epsilon}")

    def call(self, inputs):
        vectors = ops.cast(inputs, "float32")
        squared_norm = ops.sum(ops.square(vectors), axis=self.axis, keepdims=True)
        normalized = vectors * ops.rsqrt(ops.maximum(squared_norm, self.epsilon))
        return ops.where(squared_norm < self.epsilon, ops.zeros_like(normalized), normalized)

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(inputs.shape, dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update({"axis": self.axis, "epsilon": self.epsilon})
        return config
