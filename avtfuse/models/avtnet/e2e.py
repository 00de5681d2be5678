"""E2E baseline of the AVTNet paper: the three feature branches, pooled and concatenated,
into the recognition head, trained end to end with cross-entropy (one phase).

`BranchFeatures` is the backbone; `ContractClassifier(BranchFeatures(config),
build_recognizer(...))` is the model that is trained and exported.
"""

import keras

from avtfuse.models.avtnet import branches
from avtfuse.models.avtnet.config import AVTNetConfig


@keras.saving.register_keras_serializable(package="avtfuse")
class BranchFeatures(branches.BranchBackbone, keras.Model):
    """AVTNet's feature branches, pooled and concatenated (the E2E baseline's features).

    Inputs: the data-contract dict, "audio" [B, frames, n_mels], "visible"
    [B, H, W, 3], "thermal" [B, H, W, thermal_channels] for the run's
    modalities; other keys ("present", "recording", ...) are ignored.
    Output: {"features": float32 [B, D]}: each modality's feature map pooled per
    `config.pooling` ("flatten": every value; "average": mean over time or
    pixels, token_dim values) and concatenated in canonical modality order.
    With `config.standardize_inputs` a Standardization layer named
    "<modality>_standardize" precedes each branch (fit it with `adapt`).

    Of the `AVTNetConfig` only modalities, shapes, branch sizes, pooling and
    standardize_inputs matter; the embedding, joint and loss fields are unused.

    Args:
        config: an `AVTNetConfig`, a dict of its fields, or None for the paper's; the model builds and keeps
            its `at_width()` (hidden widths scaled by its width multiplier).
        name: model name.
        dtype: dtype policy of every layer but the float32 pooling and
            concatenation (None: the global policy).
    """

    def __init__(self, config=None, name="branch_features", dtype=None, **kwargs):
        config = AVTNetConfig.coerce(config).at_width()
        inputs, feature_maps = branches.feature_maps(config, dtype)
        pooled = [_pooling(config.pooling, m)(features) for m, features in feature_maps.items()]
        if len(pooled) > 1:
            features = keras.layers.Concatenate(axis=-1, dtype="float32", name="features")(pooled)
        else:
            features = pooled[0]
        super().__init__(inputs=inputs, outputs={"features": features}, name=name, dtype=dtype, **kwargs)
        if dtype is not None:
            self.dtype_policy = dtype  # keras' functional init drops it
        self.config = config

    def features(self, outputs):
        """The recogniser's input from the outputs dict: outputs["features"], float32 [B, D]."""
        if "features" not in outputs:
            raise ValueError(
                f"BranchFeatures.features outputs: no 'features' key (got {sorted(outputs)})"
            )
        return outputs["features"]


def _pooling(pooling, modality):
    """The float32 layer that turns one modality's feature map into a vector."""
    name = f"{modality}_pool"
    if pooling == "flatten":
        return keras.layers.Flatten(dtype="float32", name=name)
    if modality == "audio":
        return keras.layers.GlobalAveragePooling1D(dtype="float32", name=name)
    return keras.layers.GlobalAveragePooling2D(dtype="float32", name=name)
