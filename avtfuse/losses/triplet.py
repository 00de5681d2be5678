"""Batch-hard triplet loss (Hermans et al. 2017), soft-margin or hinge."""

import keras
from keras import ops

from avtfuse.losses.distances import (
    check_batch,
    masked_maximum,
    masked_minimum,
    pairwise_distances,
    positive_negative_masks,
)


def triplet_margin(gaps, soft, margin):
    """Per-anchor triplet penalty for gaps d_pos - d_neg (float32 [B]).

    softplus(gap) when `soft`, else max(gap + margin, 0).
    """
    if soft:
        return ops.softplus(gaps)
    return ops.relu(gaps + margin)


def batch_hard_triplet_loss(labels, embeddings, soft=True, margin=1.0):
    """Batch-hard triplet loss over Euclidean distances.

    For each anchor a: d_pos = max distance to another sample with the label
    of a (0 when there is none), d_neg = min distance to a sample with another
    label (0 when there is none); loss_a = softplus(d_pos - d_neg) when `soft`,
    else max(d_pos - d_neg + margin, 0). Returns the mean over anchors.

    Args:
        labels: int [B] (or [B, 1]) class indices.
        embeddings: float [B, D] (float16, bfloat16 or float32; computed in float32).
        soft: soft margin (softplus) or hinge with `margin`.
        margin: hinge margin, in embedding distance units; unused when `soft`.

    Returns:
        float32 scalar.
    """
    labels, embeddings, _ = check_batch(labels, embeddings)
    distances = pairwise_distances(embeddings)
    positive, negative = positive_negative_masks(labels)
    hardest_positive = masked_maximum(distances, positive, axis=1)
    hardest_negative = masked_minimum(distances, negative, axis=1)
    return ops.mean(triplet_margin(hardest_positive - hardest_negative, soft, margin))


@keras.saving.register_keras_serializable(package="avtfuse")
class BatchHardTripletLoss(keras.losses.Loss):
    """`batch_hard_triplet_loss` as a Keras loss.

    y_true: int labels [B] (or [B, 1]); y_pred: embeddings [B, D]. Returns the
    scalar loss (the reduction then leaves it unchanged; a sample_weight scales it).
    """

    def __init__(self, soft=True, margin=1.0, name="batch_hard_triplet_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.soft = bool(soft)
        self.margin = float(margin)

    def call(self, y_true, y_pred):
        return batch_hard_triplet_loss(y_true, y_pred, soft=self.soft, margin=self.margin)

    def get_config(self):
        config = super().get_config()
        config.update({"soft": self.soft, "margin": self.margin})
        return config
