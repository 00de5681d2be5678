"""MFCC means and standard deviations over time of a log-mel spectrogram (the audio reference's features)."""

import keras
from keras import ops

from avtfuse.layers.sequence_statistics import time_statistics
from pipelines.feature_matrices import N_MFCC, mfcc_matrix


@keras.saving.register_keras_serializable(package="avtfuse")
class MFCCStatistics(keras.layers.Layer):
    """log-mel [B, T, n_mels] (dB, time-major) -> float32 [B, 2 K], K = min(n_mfcc, n_mels): the means over time of
    the K MFCCs, then their population standard deviations (ddof 0).

    The MFCCs are `librosa.feature.mfcc(S=log_mel.T, n_mfcc)` (orthonormal DCT-II over the mel axis, no
    liftering), a constant matrix product (pipelines.feature_matrices.mfcc_matrix); computed in float32 whatever
    the dtype policy. No weights.

    Args:
        n_mfcc: MFCCs kept (20, the reference's).
    """

    def __init__(self, n_mfcc=N_MFCC, **kwargs):
        super().__init__(**kwargs)
        if isinstance(n_mfcc, bool) or not isinstance(n_mfcc, int) or n_mfcc < 1:
            raise ValueError(f"MFCCStatistics n_mfcc: expected an integer >= 1, got {n_mfcc!r}")
        self.n_mfcc = n_mfcc

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"MFCCStatistics inputs: expected log-mel [B, T, n_mels] with n_mels known, got shape "
                             f"{tuple(input_shape)}")
        self.matrix = mfcc_matrix(int(input_shape[-1]), self.n_mfcc)  # [n_mels, K], a constant

    def call(self, inputs):
        return time_statistics(ops.matmul(ops.cast(inputs, "float32"), self.matrix))  # of the MFCCs [B, T, K]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2 * min(self.n_mfcc, input_shape[-1]))

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update({"n_mfcc": self.n_mfcc})
        return config
