"""Loading a checkpoint with its optimizer state under another precision or device count.

Keras writes a model's optimizer into a .weights.h5 file by position: `optimizer/vars/<i>` is
`optimizer.variables[i]`. Under mixed_float16 the optimizer is a LossScaleOptimizer, whose list is its own
loss-scale variables followed by its inner optimizer's, and the inner optimizer's list alone is written again under
`optimizer/inner_optimizer/vars`. Keras' `load_weights` restores an optimizer only when both lists have the same
length, so a run resumed under another precision started its optimizer afresh (with a warning). `load_checkpoint`
restores the inner optimizer's variables (the step counter, the learning rate, then one slot per trained variable
and kind, e.g. Adam's momentum and velocity, in the order of the trained variables) whatever wraps them. The loss
scale carries over between two mixed_float16 runs and starts afresh otherwise. Device counts change nothing here:
a strategy mirrors the same list of variables.
"""

import warnings

import h5py
import keras

# Keras' warning when an optimizer's list differs from the saved one; load_checkpoint restores that state itself.
KERAS_SKIPPED_OPTIMIZER = "Skipping variable loading for optimizer"


def inner_optimizer(optimizer):
    """The optimizer holding the step counter and moments: a LossScaleOptimizer's inner one, or `optimizer`."""
    return optimizer.inner_optimizer if isinstance(optimizer, keras.optimizers.LossScaleOptimizer) else optimizer


def saved_inner_state(path):
    """The inner optimizer's variables in a .weights.h5 checkpoint, in order: [array]."""
    with h5py.File(path, "r") as handle:
        for name in ("optimizer/inner_optimizer/vars", "optimizer/vars"):
            if name in handle:
                group = handle[name]
                return [group[str(i)][()] for i in range(len(group))]
    raise ValueError(f"{path}: the checkpoint holds no optimizer state (written by model.save_weights?)")


def load_checkpoint(model, path):
    """Loads a checkpoint written by `model.save_weights` into `model` (built, its optimizer built; inside its
    strategy's scope): the weights, then the optimizer's state, whether either run wrapped its optimizer in a
    LossScaleOptimizer or not. A checkpoint whose optimizer state does not fit is refused."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=KERAS_SKIPPED_OPTIMIZER)
        model.load_weights(path)
    saved = saved_inner_state(path)
    optimizer = inner_optimizer(model.optimizer)
    variables = optimizer.variables
    if [value.shape for value in saved] != [tuple(variable.shape) for variable in variables]:
        raise ValueError(f"{path}: its optimizer state ({len(saved)} variables) does not fit this model's "
                         f"{type(optimizer).__name__} ({len(variables)} variables): written by another model or "
                         "optimizer")
    for variable, value in zip(variables, saved):
        variable.assign(value)
