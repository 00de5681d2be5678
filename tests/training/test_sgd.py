"""DampenedSGD against PyTorch's SGD rule (a NumPy loop of its documented algorithm) and the step schedule."""

import keras
import numpy as np
import pytest

from avtfuse.training.sgd import DampenedSGD, step_schedule

# A toy quadratic: f(w) = 0.5 * (w - target)^T A (w - target), gradient A (w - target).
A = np.array([[3.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 0.5]], np.float64)
TARGET = np.array([1.0, -2.0, 0.5])
START = np.array([0.3, 0.7, -1.1])


def torch_sgd(steps, lr, momentum, dampening, weight_decay):
    """torch.optim.SGD (no nesterov) as its documentation writes it, in float64: the weights after each step."""
    w, buffer, path = START.copy(), None, []
    for t in range(steps):
        g = A @ (w - TARGET) + weight_decay * w
        buffer = g if t == 0 else momentum * buffer + (1 - dampening) * g
        w = w - lr(t) * buffer
        path.append(w.copy())
    return np.array(path)


def keras_path(optimizer, steps):
    w = keras.Variable(START.astype(np.float32))
    path = []
    for _ in range(steps):
        gradient = keras.ops.matmul(keras.ops.convert_to_tensor(A, "float32"), w - TARGET.astype(np.float32))
        optimizer.apply_gradients([(gradient, w)])
        path.append(keras.ops.convert_to_numpy(w))
    return np.array(path)


def test_matches_pytorch_sgd_with_dampening_and_coupled_decay():
    expected = torch_sgd(60, lambda t: 0.04, 0.9, 0.9, 1e-3)
    found = keras_path(DampenedSGD(0.04, momentum=0.9, dampening=0.9, l2=1e-3), 60)
    np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-6)


def test_keras_sgd_equivalent_differs_only_by_the_first_step_transient():
    """SGD(lr * (1 - dampening), momentum) moves exactly 10x less on step 1 (PyTorch's first buffer is the
    undampened gradient); the weights' gap then closes as both descend to the same minimum."""
    expected = torch_sgd(300, lambda t: 0.04, 0.9, 0.9, 0.0)
    keras_sgd = keras_path(keras.optimizers.SGD(0.004, momentum=0.9), 300)
    np.testing.assert_allclose(expected[0] - START, 10 * (keras_sgd[0] - START), rtol=1e-4)
    gap = np.abs(keras_sgd - expected).max(axis=1)
    assert gap[-1] < 0.05 * gap.max()


def test_step_schedule_steps_at_the_first_update_of_each_epoch():
    steps_per_epoch = 5
    schedule = step_schedule(0.04, (3, 5), 0.1, steps_per_epoch)
    rates = [float(schedule(i)) for i in range(6 * steps_per_epoch)]
    # epochs 1-2 (updates 0-9) at 0.04, epochs 3-4 at 0.004, from epoch 5 at 0.0004
    np.testing.assert_allclose(rates[:10], 0.04)
    np.testing.assert_allclose(rates[10:20], 0.004)
    np.testing.assert_allclose(rates[20:], 0.0004, rtol=1e-6)
    assert step_schedule(0.04, (), 0.1, 5) == 0.04


def test_scheduled_optimizer_follows_pytorch_with_the_same_schedule():
    def lr(t):
        return 0.04 * 0.1 ** sum(epoch - 1 <= t // 4 for epoch in (3, 5))

    expected = torch_sgd(30, lr, 0.9, 0.9, 1e-3)
    found = keras_path(DampenedSGD(step_schedule(0.04, (3, 5), 0.1, 4), 0.9, 0.9, 1e-3), 30)
    np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-6)


def test_config_round_trip_and_errors():
    optimizer = DampenedSGD(0.01, momentum=0.8, dampening=0.5, l2=1e-4)
    copy = DampenedSGD.from_config(optimizer.get_config())
    assert (copy.momentum, copy.dampening, copy.l2) == (0.8, 0.5, 1e-4)
    with pytest.raises(ValueError, match="dampening"):
        DampenedSGD(dampening=1.5)
    with pytest.raises(ValueError, match="l2"):
        DampenedSGD(l2=-1.0)
    with pytest.raises(ValueError, match="lr_step_epochs"):
        step_schedule(0.1, (5, 3), 0.1, 10)
