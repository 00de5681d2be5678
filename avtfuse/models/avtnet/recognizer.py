"""AVTNet's recogniser (phase 2, and the E2E head): an MLP classifier on the concatenated embeddings."""

import keras

from avtfuse.distribute import batch_normalization
from avtfuse.layers.checks import positive_int


def build_recognizer(input_dim, num_people, hidden_units=(512, 256), name="recognizer"):
    """Functional classifier: per h in `hidden_units` Dense(h) + BatchNormalization + ReLU,
    then Dense(num_people, softmax).

    The hidden Dense layers have no bias (the batch normalisation's offset
    replaces it). The softmax output is float32 under any dtype policy.

    Args:
        input_dim: size of the input vector (4 x 256 = 1024 for AVTNet's
            concatenated embeddings).
        num_people: number of classes (>= 2).
        hidden_units: sizes of the hidden layers.
        name: model name.

    Returns:
        keras.Model: float [B, input_dim] -> float32 [B, num_people] class probabilities.
    """
    input_dim = positive_int(input_dim, "build_recognizer input_dim")
    num_people = positive_int(num_people, "build_recognizer num_people")
    if num_people < 2:
        raise ValueError(f"build_recognizer num_people: expected >= 2 classes, got {num_people}")
    inputs = keras.Input(shape=(input_dim,), name="embeddings")
    hidden = inputs
    for index, units in enumerate(hidden_units):
        units = positive_int(units, "build_recognizer hidden_units")
        hidden = keras.layers.Dense(units, use_bias=False, name=f"dense_{index}")(hidden)
        hidden = batch_normalization(name=f"batch_norm_{index}")(hidden)
        hidden = keras.layers.ReLU(name=f"relu_{index}")(hidden)
    outputs = keras.layers.Dense(
        num_people, activation="softmax", dtype="float32", name="probabilities"
    )(hidden)
    return keras.Model(inputs, outputs, name=name)
