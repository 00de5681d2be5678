"""E2E baseline of the AVTNet paper: the three feature branches, concatenated,
into the recognition head, trained end to end with cross-entropy (one phase).

`build_e2e` returns the feature model, the recogniser and the combined model
that is trained. The feature model has the interface of `AVTNet` that the
export and the trainer's embedding step use (`config`, `embedding_names`,
`recognizer_names`, `concatenate_embeddings`, `adapt`), so
`avtfuse.export.export_saved_model(features_model, recognizer, path)` works
unchanged.
"""

import keras

from avtfuse.models import branches
from avtfuse.models.avtnet import AVTNetConfig
from avtfuse.models.recognizer import build_recognizer


@keras.saving.register_keras_serializable(package="avtfuse")
class BranchFeatures(keras.Model):
    """AVTNet's feature branches, pooled and concatenated (the E2E baseline's features).

    Inputs: the data-contract dict, "audio" [B, frames, n_mels], "visible"
    [B, H, W, 3], "thermal" [B, H, W, thermal_channels] for the run's
    modalities; other keys ("present", "recording", ...) are ignored.
    Output: {"features": float32 [B, D]}: each modality's feature map pooled per
    `config.pooling` ("flatten": every value; "average": mean over time or
    pixels, token_dim values) and concatenated in canonical modality order.
    With `config.standardize_inputs` a Normalization layer named
    "<modality>_standardize" precedes each branch (fit it with `adapt`).

    Of the `AVTNetConfig` only modalities, shapes, branch sizes, pooling and
    standardize_inputs matter; the embedding, joint and loss fields are unused.

    Args:
        config: an `AVTNetConfig`, a dict of its fields, or None for the paper's.
        name: model name.
        dtype: dtype policy of every layer but the float32 pooling and
            concatenation (None: the global policy).
    """

    embedding_names = ("features",)
    recognizer_names = ("features",)

    def __init__(self, config=None, name="branch_features", dtype=None, **kwargs):
        config = AVTNetConfig.coerce(config, "BranchFeatures")
        inputs, feature_maps = branches.feature_maps(config, dtype)
        pooled = [_pooling(config.pooling, m)(features) for m, features in feature_maps.items()]
        if len(pooled) > 1:
            features = keras.layers.Concatenate(axis=-1, dtype="float32", name="features")(pooled)
        else:
            features = pooled[0]
        super().__init__(inputs=inputs, outputs={"features": features}, name=name, dtype=dtype, **kwargs)
        self.config = config

    @property
    def feature_dim(self):
        """D, the size of the concatenated features."""
        return self.outputs[0].shape[-1]

    def adapt(self, samples, max_samples=2048):
        """Fits the input standardisation (see `branches.adapt_standardization`)."""
        branches.adapt_standardization(self, samples, max_samples)

    def call(self, inputs, training=None, mask=None):
        # Keras itself rejects most bad inputs (a dict missing a modality, a tensor for
        # several inputs); a tensor for a one-modality model reaches this check.
        if not isinstance(inputs, dict):
            raise ValueError(
                f"BranchFeatures inputs: expected a dict keyed by modality, got {type(inputs).__name__}"
            )
        modality_inputs = {modality: inputs[modality] for modality in self.config.modalities}
        return super().call(modality_inputs, training=training, mask=mask)

    def concatenate_embeddings(self, outputs):
        """The recogniser's input from the outputs dict: outputs["features"], float32 [B, D]."""
        if "features" not in outputs:
            raise ValueError(
                f"BranchFeatures.concatenate_embeddings outputs: no 'features' key (got {sorted(outputs)})"
            )
        return outputs["features"]

    def get_config(self):
        return {"config": self.config.to_dict(), "name": self.name, "dtype": self.dtype_policy.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _pooling(pooling, modality):
    """The float32 layer that turns one modality's feature map into a vector."""
    name = f"{modality}_pool"
    if pooling == "flatten":
        return keras.layers.Flatten(dtype="float32", name=name)
    if modality == "audio":
        return keras.layers.GlobalAveragePooling1D(dtype="float32", name=name)
    return keras.layers.GlobalAveragePooling2D(dtype="float32", name=name)


@keras.saving.register_keras_serializable(package="avtfuse")
class E2EClassifier(keras.Model):
    """`recognizer(features_model.concatenate_embeddings(features_model(inputs)))`, trained as one model.

    Inputs: a data-contract dict (extra keys such as "present" and "recording"
    are dropped by the feature model, so tf.data batches of (inputs, label) fit
    as they come). Output: float32 [B, P] class probabilities; compile with
    loss="sparse_categorical_crossentropy". Its weights are the two models'
    own, so training it trains them.
    """

    def __init__(self, features_model, recognizer, name="e2e", **kwargs):
        super().__init__(name=name, **kwargs)
        self.features_model = features_model
        self.recognizer = recognizer

    def adapt(self, samples, max_samples=2048):
        """Fits the feature model's input standardisation (see `BranchFeatures.adapt`)."""
        self.features_model.adapt(samples, max_samples=max_samples)

    def call(self, inputs, training=None):
        features = self.features_model.concatenate_embeddings(self.features_model(inputs, training=training))
        return self.recognizer(features, training=training)

    def get_config(self):
        return {
            "features_model": keras.saving.serialize_keras_object(self.features_model),
            "recognizer": keras.saving.serialize_keras_object(self.recognizer),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("features_model", "recognizer"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def build_e2e(config, num_people, hidden_units=(512, 256)):
    """The E2E baseline: (features_model, recognizer, combined).

    features_model: `BranchFeatures(config)`, data-contract dict -> {"features": [B, D]}.
    recognizer: `build_recognizer(D, num_people, hidden_units)`, [B, D] -> [B, P]
        probabilities (the paper's head: Dense + BN + ReLU per hidden layer, softmax).
    combined: `E2EClassifier` chaining the two, dict -> float32 [B, P]; compile it
        with sparse categorical cross-entropy and fit it on (inputs, label) batches.
    Export with `avtfuse.export.export_saved_model(features_model, recognizer, path)`.
    """
    features_model = BranchFeatures(config)
    recognizer = build_recognizer(features_model.feature_dim, num_people, hidden_units=hidden_units)
    return features_model, recognizer, E2EClassifier(features_model, recognizer)
