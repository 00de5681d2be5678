"""What every system provides: the inputs it reads from the data contract, its serving spec,
its feature (embedding or logit) outputs, input standardisation, and the classifier over it.

keras-hub's Backbone / Task split: a system's trainable model is a backbone
(`ContractModel`: data-contract dict -> named outputs, with `features` turning
those outputs into the one vector a head reads), and `ContractClassifier` puts a
classification head on it. Export and evaluation only ever see a
`ContractClassifier`, so one export serves every system.
"""

import keras
import numpy as np
from keras import ops

from avtfuse.config import WidthConfig
from avtfuse.contract import MISSING_FILLS, blank_missing, blank_steps


def predicted_label(probabilities):
    """The index of each row's largest probability, int32 [B], from float [B, P] (the first of equal ones), as
    `ops.argmax` does, but through `top_k`: Keras' TensorFlow argmax of a float tensor tests zeros' sign bit
    with a BitwiseAnd, which LiteRT's builtin ops lack (avtfuse.serving.portable)."""
    _, indices = ops.top_k(probabilities, k=1)
    return ops.cast(indices[:, 0], "int32")


class ContractModel:
    """Mixin for a system's backbone (use as `class Backbone(ContractModel, keras.Model)`).

    A plain mixin rather than a keras.Model subclass: Keras rewrites the bases
    of functional subclasses, which would leak into subclassed models sharing
    a keras.Model base. The model sets `self.config`, a config with a
    `modalities` tuple, and implements `input_shapes` and `features`.
    """

    def input_shapes(self):
        """The contract inputs the model reads: {key: shape without the batch axis}."""
        raise NotImplementedError

    def serving_spec(self):
        """{input name: (shape with a None batch axis, dtype)} of the serving signature.

        The model's inputs, plus "present" [None, M] in canonical modality order.
        """
        spec = {name: ((None, *shape), "float32") for name, shape in self.input_shapes().items()}
        spec["present"] = ((None, len(self.config.modalities)), "float32")
        return spec

    def features(self, outputs):
        """The vector a head reads, float [B, D], from the model's outputs dict."""
        raise NotImplementedError

    def embeddings(self, outputs):
        """The vectors people are compared by (avtfuse.evaluation.verification) from the outputs dict:
        {name: float [B, D]}, the first the one the verification tables score. Here {"features": the head's input}
        (an end-to-end system's penultimate features)."""
        return {"features": self.features(outputs)}

    @property
    def feature_dim(self):
        """D, the size of `features` (from one all-zero example)."""
        probe = {name: ops.zeros((1, *shape)) for name, shape in self.input_shapes().items()}
        return int(self.features(self(probe, training=False)).shape[-1])

    def adapt(self, samples, max_samples=2048):
        """Fits each "<modality>_standardize" layer on the real (present) training samples.

        samples: the training samples in the data contract, as an unbatched
        tf.data.Dataset of (inputs, label), or as the inputs dict of NumPy
        arrays [N, ...] holding "present" [N, M] (no TensorFlow needed: the way
        to fit under another backend); per modality only samples whose present
        bit is 1 are used, the first `max_samples` of them. A model without such
        layers is left unchanged.
        """
        names = {layer.name for layer in self.layers}
        if isinstance(samples, dict) and "present" not in samples:
            raise ValueError(f'{type(self).__name__}.adapt samples: expected a "present" [N, M] array among the '
                             f"inputs (got {sorted(samples)})")
        for index, modality in enumerate(self.config.modalities):
            if f"{modality}_standardize" not in names:
                continue
            layer = self.get_layer(f"{modality}_standardize")
            if isinstance(samples, dict):
                real = np.asarray(samples[modality])[np.asarray(samples["present"])[:, index] > 0]
                if not len(real):
                    raise ValueError(f"{type(self).__name__}.adapt samples: no sample with {modality} present")
                layer.adapt(real[:max_samples])
                continue
            real = samples.filter(lambda x, y, i=index: x["present"][i] > 0).map(lambda x, y, m=modality: x[m])
            layer.adapt(real.take(max_samples).batch(256))


class GraphBackbone(ContractModel):
    """Mixin for a backbone built as one functional graph (use as `class Net(GraphBackbone, keras.Model)`).

    The subclass sets `config_class` (a Config with `modalities` and
    `input_shape(modality)`), `default_name` and `build_graph` (a staticmethod:
    (config, dtype) -> ({modality: keras.Input}, outputs dict holding
    "features")). Calls take the data-contract dict; keys beyond the
    modalities ("present", "recording", ...) are ignored.

    Args:
        config: a `config_class`, a dict of its fields, or None for the defaults; the model builds and keeps
            its `at_width()` (hidden widths scaled by its width multiplier, avtfuse.config.WidthConfig).
        name: model name (None: `default_name`).
        dtype: dtype policy passed to `build_graph` (None: the global policy).
    """

    config_class = None
    default_name = None
    build_graph = None

    def __init__(self, config=None, name=None, dtype=None, **kwargs):
        config = self.config_class.coerce(config)
        if isinstance(config, WidthConfig):  # a system's config; a classical model's has no widths to scale
            config = config.at_width()
        inputs, outputs = self.build_graph(config, dtype)
        super().__init__(inputs=inputs, outputs=outputs, name=name or self.default_name, dtype=dtype, **kwargs)
        if dtype is not None:
            self.dtype_policy = dtype  # keras' functional init drops it
        self.config = config

    def input_shapes(self):
        return {modality: self.config.input_shape(modality) for modality in self.config.modalities}

    def features(self, outputs):
        """The head's input from the outputs dict: outputs["features"], float32 [B, D]."""
        if "features" not in outputs:
            raise ValueError(f"{type(self).__name__}.features outputs: no 'features' key (got {sorted(outputs)})")
        return outputs["features"]

    def call(self, inputs, training=None, mask=None):
        name = type(self).__name__
        if not isinstance(inputs, dict):
            raise ValueError(f"{name} inputs: expected a dict keyed by modality, got {type(inputs).__name__}")
        missing = [modality for modality in self.config.modalities if modality not in inputs]
        if missing:
            raise ValueError(f"{name} inputs: missing keys {missing} (got {sorted(inputs)})")
        return super().call({m: inputs[m] for m in self.config.modalities}, training=training, mask=mask)

    def get_config(self):
        return {"config": self.config.to_dict(), "name": self.name, "dtype": self.dtype_policy.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="avtfuse")
class ContractClassifier(keras.Model):
    """A backbone and a classification head: `head(backbone.features(backbone(inputs)))`.

    Inputs: the data-contract dict (keys the backbone does not read, such as
    "recording", are ignored). Output of `call`: float32 [B, P] class
    probabilities, so the model compiles with sparse categorical
    cross-entropy and trains end to end (or serves a head trained apart on
    frozen features). `serve` gives what the SavedModel returns.

    Args:
        backbone: a `ContractModel`.
        head: a keras.Model, float [B, D] -> float32 [B, P] probabilities.
        missing_fill: what `serve` puts in place of a missing modality, as the
            model saw it in training and evaluation: "zeros" (the contract) or
            "noise" (N(0, 1), SA-fusion's noise setting; a fixed seed, so one
            request always gets one answer).
    """

    MISSING_FILLS = MISSING_FILLS
    NOISE_SEED = 1234

    def __init__(self, backbone, head, missing_fill="zeros", name="classifier", **kwargs):
        super().__init__(name=name, **kwargs)
        if not isinstance(backbone, ContractModel):
            raise ValueError(f"ContractClassifier backbone: expected a ContractModel, got {type(backbone).__name__}")
        if missing_fill not in self.MISSING_FILLS:
            raise ValueError(f"ContractClassifier missing_fill: choose from {self.MISSING_FILLS}, got {missing_fill!r}")
        self.backbone = backbone
        self.head = head
        self.missing_fill = missing_fill

    @property
    def modalities(self):
        return self.backbone.config.modalities

    def serving_spec(self):
        """The backbone's serving spec (see `ContractModel.serving_spec`)."""
        return self.backbone.serving_spec()

    def call_on_zeros(self):
        """The probabilities of one all-zero example of the serving spec, float32 [1, P] (builds a classifier
        never called yet)."""
        probe = {name: ops.zeros((1, *shape[1:]), dtype) for name, (shape, dtype) in self.serving_spec().items()}
        return self(probe, training=False)

    def adapt(self, samples, max_samples=2048):
        """Fits the backbone's input standardisation (see `ContractModel.adapt`)."""
        self.backbone.adapt(samples, max_samples=max_samples)

    def call(self, inputs, training=None):
        features = self.backbone.features(self.backbone(inputs, training=training))
        return self.head(features, training=training)

    def serve(self, inputs):
        """Serving outputs for a batch of serving inputs (see `serving_spec`).

        Each modality whose present bit is 0 is first replaced by zeros
        (`blank_missing`: where, not a product), so whatever a client sends for a
        missing sensor, NaN and inf included, counts as zeros (or, with
        missing_fill "noise", N(0, 1) noise), as in training; likewise the steps
        a per-step mask "<m>_mask" marks 0 (padding). Other serving inputs (the
        masks themselves) reach the backbone as sent. A NaN in a present sensor
        is not checked: it makes that request's row NaN, and no other row.
        Returns {"probabilities": float32 [B, P], "label": int32 [B],
        "embedding": float32 [B, D] (the features the head saw), "person_embedding": float32 [B, E] (the vector
        people are compared by, the first of `ContractModel.embeddings`: what verification and the gallery
        score)}.
        """
        present = ops.cast(inputs["present"], "float32")
        model_inputs = blank_missing(
            {m: ops.cast(inputs[m], "float32") for m in self.modalities}, present, self.modalities)
        for modality in self.modalities:
            if f"{modality}_mask" in self.serving_spec():
                model_inputs[modality] = blank_steps(model_inputs[modality], inputs[f"{modality}_mask"])
        model_inputs.update({name: inputs[name] for name in self.serving_spec() if name not in model_inputs})
        if self.missing_fill == "noise":
            for index, modality in enumerate(self.modalities):
                tensor = model_inputs[modality]
                absent = 1.0 - ops.reshape(present[:, index], (-1,) + (1,) * (len(tensor.shape) - 1))
                noise = keras.random.normal(ops.shape(tensor), seed=self.NOISE_SEED + index)
                model_inputs[modality] = tensor + absent * noise
        outputs = self.backbone(model_inputs, training=False)
        features = ops.cast(self.backbone.features(outputs), "float32")
        probabilities = ops.cast(self.head(features, training=False), "float32")
        return {
            "probabilities": probabilities,
            "label": predicted_label(probabilities),
            "embedding": features,
            "person_embedding": ops.cast(next(iter(self.backbone.embeddings(outputs).values())), "float32"),
        }

    def get_config(self):
        return {
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "head": keras.saving.serialize_keras_object(self.head),
            "missing_fill": self.missing_fill,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("backbone", "head"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
