"""AVTNet audio branch: a stack of 1-D convolutions over time."""

import keras

from avtfuse.layers.checks import positive_int


@keras.saving.register_keras_serializable(package="avtfuse")
class AudioBranch(keras.layers.Layer):
    """`num_layers` x Conv1D(`filters`, `kernel_size`, stride 1, `activation`, "same").

    Input: float [B, frames, n_mels] log-mel spectrogram (time-major).
    Output: [B, frames, filters] feature sequence (one token per frame).
    Paper defaults: 3 layers of 64 filters with kernel 11.
    """

    def __init__(self, filters=64, kernel_size=11, num_layers=3, activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.filters = positive_int(filters, "AudioBranch filters")
        self.kernel_size = positive_int(kernel_size, "AudioBranch kernel_size")
        self.num_layers = positive_int(num_layers, "AudioBranch num_layers")
        self.activation = activation
        self.convolutions = [
            keras.layers.Conv1D(
                self.filters,
                self.kernel_size,
                padding="same",
                activation=activation,
                dtype=self.dtype_policy,
                name=f"conv_{index}",
            )
            for index in range(self.num_layers)
        ]

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                f"AudioBranch input: expected [batch, frames, n_mels], got {input_shape}"
            )
        shape = input_shape
        for convolution in self.convolutions:
            convolution.build(shape)
            shape = convolution.compute_output_shape(shape)

    def call(self, inputs):
        features = inputs
        for convolution in self.convolutions:
            features = convolution(features)
        return features

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "num_layers": self.num_layers,
                "activation": self.activation,
            }
        )
        return config
