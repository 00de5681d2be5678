"""Means and standard deviations over time of a feature sequence (the reference's features of a sequence)."""

import keras
from keras import ops


def time_statistics(sequences):
    """float32 [B, 2 D]: the means over time (axis 1) of sequences [B, T, D], then their population standard
    deviations (ddof 0)."""
    sequences = ops.cast(sequences, "float32")
    mean = ops.mean(sequences, axis=1)
    std = ops.sqrt(ops.mean(ops.square(sequences - mean[:, None, :]), axis=1))
    return ops.concatenate([mean, std], axis=-1)


@keras.saving.register_keras_serializable(package="avtfuse")
class SequenceStatistics(keras.layers.Layer):
    """Feature sequences [B, T, D] -> float32 [B, 2 D]: `time_statistics` (the reference's "feature mean+std over
    time" of MFCCs, `.npy` sequences or face embeddings); computed in float32 whatever the dtype policy. No
    weights."""

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"SequenceStatistics inputs: expected sequences [B, T, D] with D known, got shape "
                             f"{tuple(input_shape)}")

    def call(self, inputs):
        return time_statistics(inputs)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2 * input_shape[-1])

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype="float32")
