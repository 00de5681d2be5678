"""Input checks shared by the losses."""

import keras
from keras import ops


def float32_of_rank(values, rank, layout, name):
    """`values` as a float32 tensor of rank `rank` (`layout`, e.g. "[batch, dim]", names its axes in the error),
    or a ValueError naming the argument `name`."""
    values = ops.convert_to_tensor(values)
    if len(values.shape) != rank:
        raise ValueError(f"{name}: expected rank {rank} {layout}, got shape {values.shape}")
    if not keras.backend.is_float_dtype(values.dtype):
        raise ValueError(f"{name}: expected a float dtype, got {values.dtype}")
    return ops.cast(values, "float32")
