"""A fused backbone that starts from its single-sensor specialists: each sensor's layers copied and frozen."""

import logging

import keras

logger = logging.getLogger(__name__)


def adopt_specialist_branches(backbone, specialist_paths):
    """Copies into `backbone` the weights of every layer named "<m>_..." (input standardisation, feature branch,
    embedding head) of the specialist of each modality m, and freezes those layers, so that each sensor's
    features and embedding are its specialist's and training moves only the joint layers. Call before compile.

    backbone: a fused backbone whose per-sensor layers are named "<modality>_..."; specialist_paths:
    {modality: path of the specialist backbone's .keras file}. Returns the names of the layers adopted.
    """
    adopted = []
    for modality, path in specialist_paths.items():
        specialist = keras.models.load_model(path)
        layers = [layer for layer in specialist.layers if layer.name.startswith(f"{modality}_") and layer.weights]
        if not layers:
            raise ValueError(f"{path}: no {modality}_* layer with weights to adopt")
        for layer in layers:
            target = backbone.get_layer(layer.name)
            target.set_weights(layer.get_weights())
            target.trainable = False
            adopted.append(layer.name)
    logger.info("adopted (frozen) from the specialists: %s", ", ".join(adopted))
    return adopted
