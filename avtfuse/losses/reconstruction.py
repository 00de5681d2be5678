"""Smooth-L1 reconstruction loss over the ablated steps of a sequence, MCT-HFR's LFI loss."""

from keras import ops

from avtfuse.losses.inputs import float32_of_rank

# Added to the element count, as in the public code's RECLoss: a batch with no
# missing step gives exactly 0.
COUNT_EPSILON = 1e-4


def masked_smooth_l1(target, prediction, missing, beta=1.0):
    """Mean smooth-L1 error over the missing steps (MCT-HFR eq. 14-15, code `RECLoss`).

        loss = sum_{b, t: missing, d} SmoothL1_beta(prediction - target)
               / (number of missing steps * D + 1e-4)

    SmoothL1_beta(x) = 0.5 x^2 / beta where |x| < beta, else |x| - 0.5 beta
    (PyTorch's SmoothL1Loss, beta = 1 in the paper and code). The count runs
    over the whole batch, so this is one batch-level scalar, not a mean of
    per-sample losses. Steps with missing = 0 (kept or padding) contribute
    nothing, whatever their values; no missing step gives exactly 0.

    Args:
        target: float [B, T, D], the complete input (`<m>_full`).
        prediction: float [B, T, D], the decoder's reconstruction.
        missing: 0/1 or bool [B, T], 1 where a real step was ablated (`<m>_missing`).
        beta: > 0, the switch point between the quadratic and linear parts.

    Returns:
        float32 scalar, in the units of the features (computed in float32).
    """
    if not beta > 0:
        raise ValueError(f"beta: expected a positive number, got {beta!r}")
    target = float32_of_rank(target, 3, "[batch, time, features]", "target")
    prediction = float32_of_rank(prediction, 3, "[batch, time, features]", "prediction")
    _check_matching(prediction, target, "prediction")
    missing = ops.convert_to_tensor(missing)
    if len(missing.shape) != 2:
        raise ValueError(f"missing: expected rank 2 [batch, time], got shape {missing.shape}")
    _check_matching(missing, target, "missing")
    missing = ops.cast(missing, "float32") > 0.5
    error = ops.abs(prediction - target)
    smooth = ops.where(error < beta, 0.5 * ops.square(error) / beta, error - 0.5 * beta)
    total = ops.sum(ops.where(ops.expand_dims(missing, -1), smooth, ops.zeros_like(smooth)))
    features = ops.cast(ops.shape(target)[-1], "float32")
    count = ops.sum(ops.cast(missing, "float32")) * features
    return total / (count + COUNT_EPSILON)


def _check_matching(values, target, name):
    """ValueError naming `values` when a known size differs from target's on its leading axes."""
    for size, expected in zip(values.shape, target.shape):
        if size is not None and expected is not None and size != expected:
            raise ValueError(f"{name}: shape {tuple(values.shape)} does not match target shape {tuple(target.shape)}")
