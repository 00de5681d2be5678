"""A fused classifier whose samples with one sensor left are answered by that sensor's specialist."""

import keras
from keras import ops

from avtfuse.models.base import ContractClassifier


@keras.saving.register_keras_serializable(package="avtfuse")
class SpecialistFallback(ContractClassifier):
    """The fused `ContractClassifier` (`backbone`, `head`) for samples with two sensors or more; a sample with
    exactly one present is answered by that modality's specialist (the same system trained on it alone).

    Inputs and outputs as `ContractClassifier`: the data-contract dict ->
    float32 [B, P] probabilities. Each specialist sees its modality and its own
    present bit ("present" [B, 1]). `serve` returns the fused model's
    "embedding" for every sample and the routed "probabilities" and "label".
    Every model runs on the whole batch; `ops.where` picks the answer.

    Args:
        backbone, head, missing_fill, name: the fused classifier's (see `ContractClassifier`).
        specialists: {modality: a ContractClassifier on that modality alone}, one per modality of the backbone.
    """

    def __init__(self, backbone, head, specialists, missing_fill="zeros", name="classifier", **kwargs):
        super().__init__(backbone, head, missing_fill=missing_fill, name=name, **kwargs)
        if not isinstance(specialists, dict) or set(specialists) != set(self.modalities):
            got = sorted(specialists) if isinstance(specialists, dict) else type(specialists).__name__
            raise ValueError(f"SpecialistFallback specialists: expected one per modality {list(self.modalities)}, "
                             f"got {got}")
        for modality, specialist in specialists.items():
            if not isinstance(specialist, ContractClassifier) or tuple(specialist.modalities) != (modality,):
                raise ValueError(f"SpecialistFallback specialists[{modality!r}]: expected a ContractClassifier on "
                                 f"{modality} alone")
        self.specialists = {modality: specialists[modality] for modality in self.modalities}

    @classmethod
    def around(cls, fused, specialists):
        """The fallback around a trained fused ContractClassifier (its backbone, head and missing fill)."""
        return cls(fused.backbone, fused.head, specialists, missing_fill=fused.missing_fill)

    def call(self, inputs, training=None):
        fused = super().call(inputs, training=training)
        return self._route(inputs["present"], fused,
                           lambda specialist, alone: specialist(dict(inputs, present=alone), training=training))

    def serve(self, inputs):
        """`ContractClassifier.serve`, with the probabilities and label of a single-sensor sample its specialist's."""
        outputs = super().serve(inputs)

        def specialist_probabilities(specialist, alone):
            names = [name for name in specialist.serving_spec() if name != "present"]
            return specialist.serve({**{name: inputs[name] for name in names}, "present": alone})["probabilities"]

        probabilities = self._route(inputs["present"], outputs["probabilities"], specialist_probabilities)
        return dict(outputs, probabilities=probabilities,
                    label=ops.cast(ops.argmax(probabilities, axis=-1), "int32"))

    def _route(self, present, fused, answer):
        """fused [B, P] with each row of exactly one present modality m replaced by answer(specialist of m,
        m's present bits [B, 1])."""
        present = ops.cast(present, "float32")
        alone = ops.equal(ops.sum(present, axis=-1, keepdims=True), 1.0)
        routed = fused
        for index, modality in enumerate(self.modalities):
            bits = present[:, index:index + 1]
            only = ops.logical_and(alone, bits > 0)
            routed = ops.where(only, ops.cast(answer(self.specialists[modality], bits), routed.dtype), routed)
        return routed

    def get_config(self):
        config = super().get_config()
        config["specialists"] = {modality: keras.saving.serialize_keras_object(specialist)
                                 for modality, specialist in self.specialists.items()}
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["specialists"] = {modality: keras.saving.deserialize_keras_object(specialist)
                                 for modality, specialist in config["specialists"].items()}
        return super().from_config(config)
