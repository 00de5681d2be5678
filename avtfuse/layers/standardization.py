"""Input standardisation that stays finite for a channel that never varied."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="avtfuse")
class Standardization(keras.layers.Normalization):
    """keras Normalization ((x - mean) / sqrt(variance), statistics fitted with `adapt`)
    whose variances below `min_variance` count as 1.

    A channel constant over the training data (a silent mel band, a camera
    channel that never changes) has variance 0; Keras then divides by its
    epsilon (1e-7), and any later deviation becomes ~1e7 times larger, which is
    inf once cast to float16. Here such a channel is only centred. The layer
    computes in float32 whatever the policy (its output is cast by the next
    layer). Input and output: float [..., C]; statistics per channel of `axis`.
    """

    def __init__(self, axis=-1, min_variance=1e-6, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(axis=axis, **kwargs)
        self.min_variance = float(min_variance)
        if not self.min_variance > 0:
            raise ValueError(f"Standardization min_variance: expected a number > 0, got {min_variance!r}")

    def finalize_state(self):
        super().finalize_state()
        if self.input_mean is None and self.built:
            self.variance = ops.where(self.variance < self.min_variance, ops.ones_like(self.variance), self.variance)

    def set_weights(self, weights):
        """Sets the statistics, as Layer.set_weights, and refreshes the tensors `call` uses.

        Keras' Normalization copies its statistics into tensors at adapt and
        load time only; without the refresh a layer given weights this way
        would keep standardising with its old statistics.
        """
        super().set_weights(weights)
        self.finalize_state()

    def get_config(self):
        config = super().get_config()
        config.update({"min_variance": self.min_variance})
        return config
