"""Dense joint encoder: the baselines' fusion of flattened feature maps."""

import keras

from avtfuse.layers.embedding_head import EmbeddingHead


@keras.saving.register_keras_serializable(package="avtfuse")
class DenseJointEncoder(EmbeddingHead):
    """An `EmbeddingHead` over several feature maps with two hidden layers by default.

    Input: a list of float feature maps [B, ...] (pooled each, then concatenated).
    Output: float32 [B, embedding_dim], unit norm.
    Paper defaults (Dense-Triplet baseline): flatten, Dense(256, ReLU),
    Dense(256, ReLU), Dense(256), L2 normalise.
    """

    def __init__(self, embedding_dim=256, hidden_units=(256, 256), **kwargs):
        super().__init__(embedding_dim=embedding_dim, hidden_units=hidden_units, **kwargs)
