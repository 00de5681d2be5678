"""Distances between two batches of vectors for MCT-HFR's global feature alignment (its Fig. 5 ablation).

Each takes x1, x2 float [B, D] and returns a float32 scalar, computed in
float32 whatever the inputs' dtype; square roots and norms are guarded, so
identical or all-zero inputs give finite values and gradients.
"""

from keras import ops

from avtfuse.losses.cmd import central_moment_discrepancy

EPSILON = 1e-12


def smooth_l1_distance(x1, x2, beta=1.0):
    """The mean SmoothL1 (Huber with threshold `beta`) of x1 - x2 over the batch and the dimensions."""
    difference = ops.abs(ops.cast(x1, "float32") - ops.cast(x2, "float32"))
    return ops.mean(ops.where(difference < beta, 0.5 * difference ** 2 / beta, difference - 0.5 * beta))


def cosine_distance(x1, x2):
    """The mean over the batch of 1 - cos(x1_b, x2_b); an all-zero vector has cosine 0 with anything."""
    x1, x2 = ops.cast(x1, "float32"), ops.cast(x2, "float32")
    norms = ops.sqrt(ops.maximum(ops.sum(x1 * x1, axis=-1), EPSILON) * ops.maximum(ops.sum(x2 * x2, axis=-1), EPSILON))
    return ops.mean(1.0 - ops.sum(x1 * x2, axis=-1) / norms)


def jensen_shannon_distance(x1, x2):
    """The mean over the batch of the Jensen-Shannon divergence (nats) between softmax(x1_b) and softmax(x2_b)."""
    log_p = ops.log_softmax(ops.cast(x1, "float32"), axis=-1)
    log_q = ops.log_softmax(ops.cast(x2, "float32"), axis=-1)
    p, q = ops.exp(log_p), ops.exp(log_q)
    log_m = ops.log(ops.maximum(0.5 * (p + q), EPSILON))
    return ops.mean(0.5 * ops.sum(p * (log_p - log_m), axis=-1) + 0.5 * ops.sum(q * (log_q - log_m), axis=-1))


def alignment_distance(kind, x1, x2, moments=5):
    """The distance named `kind` ("cmd" with `moments`, "smooth_l1", "cosine", "jsd") between x1 and x2."""
    if kind == "cmd":
        return central_moment_discrepancy(x1, x2, moments=moments)
    distances = {"smooth_l1": smooth_l1_distance, "cosine": cosine_distance, "jsd": jensen_shannon_distance}
    if kind not in distances:
        raise ValueError(f"alignment: expected one of {['cmd', *distances]}, got {kind!r}")
    return distances[kind](x1, x2)
