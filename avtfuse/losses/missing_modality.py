"""AVTNet's missing-modality loss for the embeddings of one modality."""

import keras
from keras import ops

from avtfuse.losses.distances import (
    check_batch,
    masked_maximum,
    masked_minimum,
    pairwise_distances,
    positive_negative_masks,
)


def missing_modality_loss(labels, embeddings, present):
    """Soft-margin batch-hard triplet loss that also pushes anchors off missing points.

    A sample is valid when present[i] is 1 (its modality is real); a missing
    sample's embedding is that of an all-zero input. For each valid anchor a:

        loss_a = softplus(d(a, p) - d(a, n) - d(a, m))

    with p the farthest valid sample with the label of a (other than a), n the
    nearest valid sample with another label and m the nearest missing sample
    (any label); Euclidean distances, and a term with no candidate in the batch
    is 0. Returns the mean of loss_a over valid anchors, and exactly 0 (with
    zero gradients) when no sample is valid. With every sample present it
    equals `batch_hard_triplet_loss(labels, embeddings, soft=True)`.

    Args:
        labels: int [B] (or [B, 1]) class indices.
        embeddings: float [B, D] (float16, bfloat16 or float32; computed in float32).
        present: 0/1 or bool [B] (or [B, 1]).

    Returns:
        float32 scalar.
    """
    labels, embeddings, present = check_batch(labels, embeddings, present)
    distances = pairwise_distances(embeddings)
    positive, negative = positive_negative_masks(labels)
    valid_column = ops.expand_dims(present, 0)
    hardest_positive = masked_maximum(
        distances, ops.logical_and(positive, valid_column), axis=1
    )
    hardest_negative = masked_minimum(
        distances, ops.logical_and(negative, valid_column), axis=1
    )
    missing = ops.logical_not(ops.broadcast_to(valid_column, ops.shape(distances)))
    nearest_missing = masked_minimum(distances, missing, axis=1)
    per_anchor = ops.softplus(hardest_positive - hardest_negative - nearest_missing)
    per_anchor = ops.where(present, per_anchor, ops.zeros_like(per_anchor))
    valid_count = ops.sum(ops.cast(present, "float32"))
    return ops.sum(per_anchor) / ops.maximum(valid_count, 1.0)


@keras.saving.register_keras_serializable(package="avtfuse")
class MissingModalityLoss(keras.losses.Loss):
    """`missing_modality_loss` as a Keras loss.

    y_true: float or int [B, 2], column 0 the label and column 1 the presence
    bit (1 real, 0 missing) of this modality, e.g.
    `ops.stack([labels, present[:, m]], axis=1)`; y_pred: embeddings [B, D].
    Returns the scalar loss (the reduction leaves it unchanged).
    """

    def __init__(self, name="missing_modality_loss", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        if len(y_true.shape) != 2 or y_true.shape[1] != 2:
            raise ValueError(
                "MissingModalityLoss y_true: expected [batch, 2] (label, present), "
                f"got shape {y_true.shape}"
            )
        return missing_modality_loss(y_true[:, 0], y_pred, y_true[:, 1])
