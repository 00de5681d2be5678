"""MCT-HFR's classifier: a ContractClassifier whose training loss adds global feature alignment (GFA) and local
feature imagination (LFI), SYSTEMS.md 3.3."""

import keras
from keras import ops

from avtfuse.losses.alignment import alignment_distance
from avtfuse.models.base import ContractClassifier


@keras.saving.register_keras_serializable(package="avtfuse")
class HybridReconstructionClassifier(ContractClassifier):
    """`ContractClassifier` (backbone: an `MCTHFRNet`) trained with L = L_CE + alpha L_GFA + beta L_LFI.

    L_CE: cross-entropy of the incomplete view (the compiled loss, on `call`'s
    output). When the backbone returns the complete view (training batches
    with "<m>_full"): L_GFA = CE(head(h̄), y) + 0.5 [D(P(h̄), sg(h)) + D(P(h),
    sg(h̄))] (the public code's symmetric stop-gradient form; D the config's
    alignment distance, CMD by default) and L_LFI the backbone's
    reconstruction loss. Both are multiplied by `auxiliary_scale`, a
    non-trainable variable (0 before the code's `aux_start_epoch`, set by
    avtfuse.training.callbacks.AuxiliaryLossStart). Evaluation and serving run
    the incomplete view alone. All loss terms are float32.

    `call` leaves the complete view's class probabilities and the backbone's
    auxiliary outputs for `compute_loss`, which Keras runs in the same trace
    right after it (it needs the labels, which `call` does not see).
    """

    def __init__(self, backbone, head, missing_fill="zeros", name="classifier", **kwargs):
        super().__init__(backbone, head, missing_fill=missing_fill, name=name, **kwargs)
        self.auxiliary_scale = keras.Variable(1.0, trainable=False, dtype="float32", name="auxiliary_scale")
        object.__setattr__(self, "_pending", {})  # untracked: tensors of the current trace

    def call(self, inputs, training=None):
        self._pending.clear()
        outputs = self.backbone(inputs, training=training)
        probabilities = self.head(self.backbone.features(outputs), training=training)
        if "complete_features" in outputs or "reconstruction_loss" in outputs:
            self._pending["outputs"] = outputs
            if "complete_features" in outputs:
                self._pending["complete"] = self.head(outputs["complete_features"], training=training)
        return probabilities

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
        outputs = self._pending.pop("outputs", None)
        complete = self._pending.pop("complete", None)
        if outputs is None or not training:
            return loss
        config = self.backbone.config
        auxiliary = ops.zeros((), "float32")
        if complete is not None:
            cross_entropy = ops.mean(keras.losses.sparse_categorical_crossentropy(y, complete))
            alignment = 0.5 * (
                alignment_distance(config.alignment, outputs["complete_projection"],
                                   ops.stop_gradient(outputs["features"]), config.cmd_moments)
                + alignment_distance(config.alignment, outputs["projection"],
                                     ops.stop_gradient(outputs["complete_features"]), config.cmd_moments))
            auxiliary = auxiliary + config.gfa_weight * (ops.cast(cross_entropy, "float32") + alignment)
        if "reconstruction_loss" in outputs:
            auxiliary = auxiliary + config.lfi_weight * outputs["reconstruction_loss"]
        return loss + ops.cast(self.auxiliary_scale * auxiliary, loss.dtype)
