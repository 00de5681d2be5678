"""Euclidean distance matrices and masked reductions for metric-learning losses.

Everything here works in float32 and stays finite, gradients included, for
identical points (distance 0) and for rows with no candidate.
"""

import keras
from keras import ops


def pairwise_distances(points, others=None):
    """Euclidean distances between the rows of two point sets.

    Args:
        points: float [N, D] (any float dtype; computed in float32).
        others: float [M, D], or None for `points` itself.

    Returns:
        float32 [N, M], in the units of the embeddings. Computed from explicit
        differences (memory N * M * D), so identical points give exactly 0.
        The square root is guarded: a zero distance has value 0 and gradient 0.
    """
    points = ops.cast(points, "float32")
    others = points if others is None else ops.cast(others, "float32")
    differences = ops.expand_dims(points, 1) - ops.expand_dims(others, 0)
    squared = ops.sum(ops.square(differences), axis=-1)
    is_zero = squared <= 0.0
    distances = ops.sqrt(ops.where(is_zero, ops.ones_like(squared), squared))
    return ops.where(is_zero, ops.zeros_like(distances), distances)


def masked_maximum(values, mask, axis=-1):
    """Maximum of `values` over the entries where `mask` is True, along `axis`.

    Uses no large constants: the values are shifted by their minimum so that
    masked-out entries (set to 0) never win. A slice with no True entry gives 0.

    Args:
        values: float tensor.
        mask: bool tensor of the same shape.
        axis: the axis reduced.

    Returns:
        `values` with `axis` removed.
    """
    smallest = ops.min(values, axis=axis, keepdims=True)
    shifted = ops.where(mask, values - smallest, ops.zeros_like(values))
    maximum = ops.max(shifted, axis=axis) + ops.squeeze(smallest, axis=axis)
    return ops.where(ops.any(mask, axis=axis), maximum, ops.zeros_like(maximum))


def masked_minimum(values, mask, axis=-1):
    """Minimum of `values` over the entries where `mask` is True, along `axis`.

    The mirror image of `masked_maximum`; a slice with no True entry gives 0.
    """
    return -masked_maximum(-values, mask, axis=axis)


def check_batch(labels, embeddings, present=None):
    """Validate and standardise the inputs shared by the batch losses.

    Args:
        labels: int [B] (or [B, 1]) class indices.
        embeddings: float [B, D].
        present: optional 0/1 or bool [B] (or [B, 1]).

    Returns:
        (labels int32 [B], embeddings float32 [B, D], present bool [B] or None).

    Raises:
        ValueError naming the argument when a rank or a static size disagrees.
    """
    embeddings = ops.convert_to_tensor(embeddings)
    if len(embeddings.shape) != 2:
        raise ValueError(
            f"embeddings: expected rank 2 [batch, dim], got shape {embeddings.shape}"
        )
    if not keras.backend.is_float_dtype(embeddings.dtype):
        raise ValueError(f"embeddings: expected a float dtype, got {embeddings.dtype}")
    embeddings = ops.cast(embeddings, "float32")
    labels = _as_vector(labels, "labels", embeddings)
    labels = ops.cast(labels, "int32")
    if present is not None:
        present = _as_vector(present, "present", embeddings)
        present = ops.cast(present, "float32") > 0.5
    return labels, embeddings, present


def _as_vector(values, name, embeddings):
    """`values` as a rank-1 tensor of length batch, or a ValueError naming it."""
    values = ops.convert_to_tensor(values)
    if len(values.shape) == 2 and values.shape[1] == 1:
        values = ops.squeeze(values, axis=1)
    if len(values.shape) != 1:
        raise ValueError(f"{name}: expected shape [batch], got {values.shape}")
    batch, length = embeddings.shape[0], values.shape[0]
    if batch is not None and length is not None and batch != length:
        raise ValueError(
            f"{name}: has {length} entries but embeddings has {batch} rows"
        )
    return values


def positive_negative_masks(labels):
    """Candidate masks of a batch, for every anchor (row) and sample (column).

    Args:
        labels: int [B].

    Returns:
        (positive, negative), bool [B, B]: positive[a, j] when j has the label
        of a and j != a; negative[a, j] when j has another label.
    """
    same_label = ops.expand_dims(labels, 1) == ops.expand_dims(labels, 0)
    indices = ops.arange(ops.shape(labels)[0])
    not_self = ops.expand_dims(indices, 1) != ops.expand_dims(indices, 0)
    return ops.logical_and(same_label, not_self), ops.logical_not(same_label)
