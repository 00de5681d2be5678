"""SGD as PyTorch defines it (momentum with dampening, coupled L2), and the epoch-step learning-rate schedule.

SA-fusion's code trains with torch.optim.SGD(lr, momentum=0.9, dampening=0.9,
weight_decay=1e-3). Per variable p with gradient g at update t (from 1):

    g <- g + l2 * p                       (coupled weight decay: the gradient of l2/2 * ||p||^2)
    b <- g                    at t = 1    (the first buffer is the undampened gradient)
    b <- momentum * b + (1 - dampening) * g   later
    p <- p - lr * b

Keras' SGD(lr * (1 - dampening), momentum) matches it only after the first
step's tenfold larger move has decayed (as momentum^t), and Keras'
`weight_decay` is decoupled; `DampenedSGD` is the exact rule. keras.ops only,
so it runs on every backend.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="avtfuse")
class DampenedSGD(keras.optimizers.Optimizer):
    """PyTorch's SGD with momentum, dampening and coupled L2 weight decay (module docstring).

    Args:
        learning_rate: float or a keras LearningRateSchedule.
        momentum: in [0, 1).
        dampening: in [0, 1]; the share of each new gradient left out of the buffer after the first step.
        l2: coupled weight decay (PyTorch's `weight_decay`), >= 0, applied to every trained variable.
    """

    def __init__(self, learning_rate=0.04, momentum=0.9, dampening=0.9, l2=0.0, name="dampened_sgd", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        for field, value, high in (("momentum", momentum, 1.0), ("dampening", dampening, 1.0)):
            if not 0.0 <= float(value) <= high:
                raise ValueError(f"DampenedSGD {field}: must be in [0, {high}], got {value!r}")
        if float(l2) < 0:
            raise ValueError(f"DampenedSGD l2: must be >= 0, got {l2!r}")
        self.momentum = float(momentum)
        self.dampening = float(dampening)
        self.l2 = float(l2)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.buffers = self.add_optimizer_variables(variables, "momentum_buffer")

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        if self.l2:
            gradient = gradient + self.l2 * variable
        buffer = self.buffers[self._get_variable_index(variable)]
        dampened = self.momentum * buffer + (1.0 - self.dampening) * gradient
        buffer_value = ops.where(ops.equal(self.iterations, 0), gradient, dampened)
        self.assign(buffer, buffer_value)
        self.assign_sub(variable, learning_rate * buffer_value)

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "dampening": self.dampening, "l2": self.l2})
        return config


def step_schedule(learning_rate, step_epochs, factor, steps_per_epoch):
    """The learning rate times `factor` ** (number of `step_epochs` <= the epoch), epochs counted from 1
    (SA-fusion's code: 0.04 x 0.1^k, steps at epochs 40, 55, 65, 70): a keras PiecewiseConstantDecay over
    optimizer iterations, or the plain float when `step_epochs` is empty."""
    if not step_epochs:
        return learning_rate
    if sorted(step_epochs) != list(step_epochs) or step_epochs[0] < 2:
        raise ValueError(f"lr_step_epochs: increasing epochs from 2, got {list(step_epochs)}")
    boundaries = [(epoch - 1) * steps_per_epoch - 1 for epoch in step_epochs]  # the update before that epoch
    values = [learning_rate * factor ** k for k in range(len(step_epochs) + 1)]
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
