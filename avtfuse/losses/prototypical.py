"""Triplet loss against in-batch class centroids (the JER-2 baseline)."""

import keras
from keras import ops

from avtfuse.losses.distances import check_batch, masked_minimum, pairwise_distances
from avtfuse.losses.triplet import triplet_margin


def triplet_prototypical_loss(labels, embeddings, soft=True, margin=1.0):
    """Triplet loss of each anchor against the class centroids of the batch.

    The centroid of class c is the mean embedding of the batch samples with
    label c, the anchor itself included (the usual prototypical definition; a
    singleton class's centroid is the anchor, so its d_pos is 0). For each
    anchor a: d_pos = distance from a to the centroid of its class, d_neg =
    distance from a to the nearest centroid of another class present in the
    batch (0 when the batch holds one class only); loss_a = softplus(d_pos -
    d_neg) when `soft`, else max(d_pos - d_neg + margin, 0). Returns the mean
    over anchors. Euclidean distances.

    Args:
        labels: int [B] (or [B, 1]) class indices.
        embeddings: float [B, D] (float16, bfloat16 or float32; computed in float32).
        soft: soft margin (softplus) or hinge with `margin`.
        margin: hinge margin, in embedding distance units; unused when `soft`.

    Returns:
        float32 scalar.
    """
    labels, embeddings, _ = check_batch(labels, embeddings)
    same_label = ops.expand_dims(labels, 1) == ops.expand_dims(labels, 0)
    membership = ops.cast(same_label, "float32")
    # Row j: the centroid of the class of sample j (at least j itself is a member).
    centroids = ops.matmul(membership, embeddings) / ops.sum(
        membership, axis=1, keepdims=True
    )
    distances = pairwise_distances(embeddings, centroids)
    own_centroid = ops.diagonal(distances)
    nearest_other = masked_minimum(distances, ops.logical_not(same_label), axis=1)
    return ops.mean(triplet_margin(own_centroid - nearest_other, soft, margin))


@keras.saving.register_keras_serializable(package="avtfuse")
class TripletPrototypicalLoss(keras.losses.Loss):
    """`triplet_prototypical_loss` as a Keras loss.

    y_true: int labels [B] (or [B, 1]); y_pred: embeddings [B, D]. Returns the
    scalar loss (the reduction leaves it unchanged).
    """

    def __init__(self, soft=True, margin=1.0, name="triplet_prototypical_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.soft = bool(soft)
        self.margin = float(margin)

    def call(self, y_true, y_pred):
        return triplet_prototypical_loss(
            y_true, y_pred, soft=self.soft, margin=self.margin
        )

    def get_config(self):
        config = super().get_config()
        config.update({"soft": self.soft, "margin": self.margin})
        return config
