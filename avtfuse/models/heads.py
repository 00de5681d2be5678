"""Classification heads shared by systems: an MLP (or a single linear layer) with a float32 softmax."""

import keras

from avtfuse.config import scaled_width
from avtfuse.distribute import batch_normalization
from avtfuse.layers.checks import positive_int


def build_classifier(input_dim, num_classes, hidden_units=(), name="classifier_head", what="build_classifier",
                     classes="num_classes", width_multiplier=1.0):
    """Functional classifier: per h in `hidden_units` Dense(h) + BatchNormalization + ReLU, then
    Dense(num_classes, softmax); with no hidden units, one linear layer and the softmax. Each hidden width is
    scaled by `width_multiplier` (`avtfuse.config.scaled_width`; the system's model config's).

    The hidden Dense layers have no bias (the batch normalisation's offset
    replaces it); the batch normalisation is synchronised across replicas
    (avtfuse.distribute). The softmax output is float32 under any dtype policy.
    `what` and `classes` name the caller and its class-count argument in errors.

    Returns:
        keras.Model: float [B, input_dim] -> float32 [B, num_classes] class probabilities.
    """
    input_dim = positive_int(input_dim, f"{what} input_dim")
    num_classes = positive_int(num_classes, f"{what} {classes}")
    if num_classes < 2:
        raise ValueError(f"{what} {classes}: expected >= 2 classes, got {num_classes}")
    inputs = keras.Input(shape=(input_dim,), name="embeddings")
    hidden = inputs
    for index, units in enumerate(hidden_units):
        units = scaled_width(positive_int(units, f"{what} hidden_units"), width_multiplier)
        hidden = keras.layers.Dense(units, use_bias=False, name=f"dense_{index}")(hidden)
        hidden = batch_normalization(name=f"batch_norm_{index}")(hidden)
        hidden = keras.layers.ReLU(name=f"relu_{index}")(hidden)
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="probabilities")(hidden)
    return keras.Model(inputs, outputs, name=name)


def build_linear_head(feature_dim, num_classes, name="linear_head", width_multiplier=1.0):
    """One Dense(num_classes) and a float32 softmax (SA-fusion's and CFN-SR's classifier):
    float [B, feature_dim] -> float32 [B, num_classes] class probabilities. It has no hidden width:
    `width_multiplier` (System.head's argument) changes nothing."""
    return build_classifier(feature_dim, num_classes, name=name, what="build_linear_head",
                            width_multiplier=width_multiplier)
