"""Per-token presence bits of a concatenated token sequence, from per-modality presence bits."""

import keras
from keras import ops

from avtfuse.layers.checks import positive_int


@keras.saving.register_keras_serializable(package="avtfuse")
class TokenPresence(keras.layers.Layer):
    """Repeats each modality's presence bit over that modality's tokens.

    Input: float [B, M] presence bits (1 real, 0 missing), one per modality in
    the order the tokens were concatenated. Output: float32 [B, T] with
    T = sum(token_counts), token t's bit that of the modality it came from
    (a key mask for attention and a weight for masked pooling).

    Args:
        token_counts: tokens per modality, in the order of the presence bits.
    """

    def __init__(self, token_counts, **kwargs):
        super().__init__(**kwargs)
        self.token_counts = tuple(positive_int(count, "TokenPresence token_counts") for count in token_counts)
        if not self.token_counts:
            raise ValueError("TokenPresence token_counts: expected one count per modality, got none")

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[1] != len(self.token_counts):
            raise ValueError(f"TokenPresence input: expected [batch, {len(self.token_counts)}] presence bits, "
                             f"got {input_shape}")

    def call(self, present):
        present = ops.cast(present, "float32")
        columns = [ops.repeat(present[:, index:index + 1], count, axis=1)
                   for index, count in enumerate(self.token_counts)]
        return columns[0] if len(columns) == 1 else ops.concatenate(columns, axis=1)

    def compute_output_spec(self, present):
        return keras.KerasTensor((present.shape[0], sum(self.token_counts)), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update({"token_counts": list(self.token_counts)})
        return config
