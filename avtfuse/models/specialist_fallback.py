"""A fused classifier whose samples with one sensor left are answered by that sensor's specialist."""

import keras
import numpy as np
from keras import ops

from avtfuse.models.base import ContractClassifier, predicted_label


@keras.saving.register_keras_serializable(package="avtfuse")
class SpecialistFallback(ContractClassifier):
    """The fused `ContractClassifier` (`backbone`, `head`) for samples with two sensors or more; a sample with
    exactly one present is answered by that modality's specialist (the same system trained on it alone, or any
    ContractClassifier on it, such as a classical model), and by the fused model for a modality without one.

    Inputs and outputs as `ContractClassifier`: the data-contract dict ->
    float32 [B, P] probabilities. Each specialist sees its modality and its own
    present bit ("present" [B, 1]); its probabilities [B, P_m] are placed in the
    fused model's class order, zero for the classes it lacks (people with no
    recording of its sensor). `serve` returns the fused model's
    "embedding" for every sample and the routed "probabilities" and "label".
    Every model runs on the whole batch; `ops.where` picks the answer.

    Args:
        backbone, head, missing_fill, name: the fused classifier's (see `ContractClassifier`).
        specialists: {modality: a ContractClassifier on that modality alone}, for one or more modalities of the
            backbone.
        classes: {modality: the fused class index of each of its specialist's classes, in the specialist's
            order}; None (or a modality left out): the specialist has the fused model's classes.
        combine: what answers a sample with two sensors or more: "fused" (the fused model) or "confidence"
            (late fusion: the present sensors' specialists' probabilities, each weighted by its confidence, its
            largest probability, then normalised; a specialist for every modality). A lone sensor gets its
            specialist either way.
    """

    COMBINES = ("fused", "confidence")

    def __init__(self, backbone, head, specialists, missing_fill="zeros", classes=None, combine="fused",
                 name="classifier", **kwargs):
        super().__init__(backbone, head, missing_fill=missing_fill, name=name, **kwargs)
        if combine not in self.COMBINES:
            raise ValueError(f"SpecialistFallback combine: choose from {self.COMBINES}, got {combine!r}")
        if combine == "confidence" and isinstance(specialists, dict) and set(specialists) != set(self.modalities):
            raise ValueError(f"SpecialistFallback specialists: combine 'confidence' needs one per modality "
                             f"{list(self.modalities)}, got {sorted(specialists)}")
        self.combine = combine
        if not isinstance(specialists, dict) or not specialists or not set(specialists) <= set(self.modalities):
            got = sorted(specialists) if isinstance(specialists, dict) else type(specialists).__name__
            raise ValueError(f"SpecialistFallback specialists: expected one for some of the modalities "
                             f"{list(self.modalities)}, got {got}")
        for modality, specialist in specialists.items():
            if not isinstance(specialist, ContractClassifier) or tuple(specialist.modalities) != (modality,):
                raise ValueError(f"SpecialistFallback specialists[{modality!r}]: expected a ContractClassifier on "
                                 f"{modality} alone")
        self.specialists = {modality: specialists[modality] for modality in self.modalities if modality in specialists}
        num_classes = _num_classes(head)
        classes = dict(classes or {})
        unknown = sorted(set(classes) - set(self.specialists))
        if unknown:
            raise ValueError(f"SpecialistFallback classes: {unknown} have no specialist (those with one: "
                             f"{list(self.specialists)})")
        self.classes = {}
        for modality, specialist in self.specialists.items():
            own = _num_classes(specialist.head)
            placed = [int(c) for c in classes.get(modality, range(num_classes))]
            if len(placed) != own or len(set(placed)) != own or not all(0 <= c < num_classes for c in placed):
                raise ValueError(f"SpecialistFallback classes[{modality!r}]: expected {own} distinct fused class "
                                 f"indices in [0, {num_classes}) (one per class of its specialist), got {placed}")
            self.classes[modality] = placed
        # [P_m, P] one-hot rows: a specialist's probabilities times this are in the fused class order.
        self._placements = {modality: np.eye(num_classes, dtype=np.float32)[placed]
                            for modality, placed in self.classes.items()}

    @classmethod
    def around(cls, fused, specialists, classes=None, combine="fused"):
        """The fallback around a trained fused ContractClassifier (its backbone, head and missing fill); `classes`
        and `combine` as in the class docstring."""
        return cls(fused.backbone, fused.head, specialists, missing_fill=fused.missing_fill, classes=classes,
                   combine=combine)

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
                    label=predicted_label(probabilities))

    def _route(self, present, fused, answer):
        """fused [B, P] with each row of exactly one present modality m replaced by answer(specialist of m,
        m's present bits [B, 1]); under combine "confidence" every row is the confidence-weighted mean of its
        present modalities' answers."""
        present = ops.cast(present, "float32")
        alone = ops.equal(ops.sum(present, axis=-1, keepdims=True), 1.0)
        routed, weighted, weights = fused, 0.0, 0.0
        for index, modality in enumerate(self.modalities):
            if modality not in self.specialists:
                continue
            bits = present[:, index:index + 1]
            only = ops.logical_and(alone, bits > 0)
            placed = ops.matmul(ops.cast(answer(self.specialists[modality], bits), "float32"),
                                self._placements[modality])
            routed = ops.where(only, ops.cast(placed, routed.dtype), routed)
            if self.combine == "confidence":
                confidence = bits * ops.max(placed, axis=-1, keepdims=True)  # [B, 1]: 0 for an absent sensor
                weighted, weights = weighted + confidence * placed, weights + confidence
        if self.combine == "fused":
            return routed
        mixed = weighted / ops.maximum(weights, 1e-12)
        return ops.where(weights > 0, ops.cast(mixed, routed.dtype), routed)

    def get_config(self):
        config = super().get_config()
        config["classes"] = self.classes
        config["combine"] = self.combine
        config["specialists"] = {modality: keras.saving.serialize_keras_object(specialist)
                                 for modality, specialist in self.specialists.items()}
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["specialists"] = {modality: keras.saving.deserialize_keras_object(specialist)
                                 for modality, specialist in config["specialists"].items()}
        return super().from_config(config)


def _num_classes(head):
    """The classes P of a classifier head (its output [B, P])."""
    return int(head.output.shape[-1])
