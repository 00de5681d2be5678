"""Tests for avtfuse/losses/cmd.py against a NumPy loop over orders and dimensions."""

import numpy as np
import pytest
import tensorflow as tf

from avtfuse.losses.cmd import central_moment_discrepancy


def reference_cmd(x1, x2, moments=5):
    x1 = np.asarray(x1, dtype=np.float64)
    x2 = np.asarray(x2, dtype=np.float64)
    total = 0.0
    for order in range(1, moments + 1):
        squared = 0.0
        for d in range(x1.shape[1]):
            if order == 1:
                a, b = x1[:, d].mean(), x2[:, d].mean()
            else:
                a = np.mean((x1[:, d] - x1[:, d].mean()) ** order)
                b = np.mean((x2[:, d] - x2[:, d].mean()) ** order)
            squared += (a - b) ** 2
        total += np.sqrt(max(squared, 1e-12))
    return total


@pytest.mark.parametrize("moments", [1, 2, 5])
@pytest.mark.parametrize("seed", range(3))
def test_matches_loop(seed, moments):
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=(8, 6)).astype("float32")
    x2 = (0.5 * rng.standard_exponential(size=(5, 6)) + 0.2).astype("float32")  # skewed, other batch size
    value = central_moment_discrepancy(x1, x2, moments=moments)
    assert value.dtype == tf.float32 and value.shape == ()
    np.testing.assert_allclose(value, reference_cmd(x1, x2, moments), rtol=1e-5)


def test_symmetric_and_positive():
    rng = np.random.default_rng(3)
    x1, x2 = rng.normal(size=(2, 10, 4)).astype("float32")
    np.testing.assert_allclose(central_moment_discrepancy(x1, x2), central_moment_discrepancy(x2, x1), rtol=1e-6)
    assert float(central_moment_discrepancy(x1, x2)) > 0.1


def test_identical_inputs_give_floor_with_finite_zero_gradient():
    x = tf.Variable(np.random.default_rng(4).normal(size=(6, 5)).astype("float32"))
    with tf.GradientTape() as tape:
        value = central_moment_discrepancy(x, tf.identity(x))
    gradient = tape.gradient(value, x).numpy()
    # Five norms, each floored at sqrt(1e-12) = 1e-6.
    np.testing.assert_allclose(value, 5e-6, rtol=1e-3)
    np.testing.assert_array_equal(gradient, 0.0)


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(5)
    x1 = rng.normal(size=(6, 3))
    x2 = rng.normal(size=(6, 3)) * 1.5
    variable = tf.Variable(x1.astype("float32"))
    with tf.GradientTape() as tape:
        value = central_moment_discrepancy(variable, x2.astype("float32"))
    gradient = tape.gradient(value, variable).numpy()
    step = 1e-5
    for index in [(0, 0), (2, 1), (5, 2)]:
        up, down = x1.copy(), x1.copy()
        up[index] += step
        down[index] -= step
        numeric = (reference_cmd(up, x2) - reference_cmd(down, x2)) / (2 * step)
        np.testing.assert_allclose(gradient[index], numeric, rtol=1e-3, atol=1e-4)


def test_float16_inputs_are_finite_and_match():
    rng = np.random.default_rng(6)
    x1 = (rng.normal(size=(16, 8)) * 20).astype("float16")  # 5th powers would overflow float16
    x2 = (rng.normal(size=(16, 8)) * 20).astype("float16")
    value = central_moment_discrepancy(x1, x2)
    assert value.dtype == tf.float32 and np.isfinite(float(value))
    np.testing.assert_allclose(value, reference_cmd(x1, x2), rtol=1e-4)
    variable = tf.Variable(x1 / 20)
    with tf.GradientTape() as tape:
        value = central_moment_discrepancy(variable, x2 / 20)
    gradient = tape.gradient(value, variable)
    assert gradient.dtype == tf.float16 and np.all(np.isfinite(gradient.numpy()))
    zeros = np.zeros((4, 3), "float16")
    np.testing.assert_allclose(central_moment_discrepancy(zeros, zeros), 5e-6, rtol=1e-3)


def test_traced_with_unknown_batch():
    @tf.function(input_signature=[tf.TensorSpec([None, 4]), tf.TensorSpec([None, 4])])
    def graph_cmd(x1, x2):
        return central_moment_discrepancy(x1, x2)

    rng = np.random.default_rng(7)
    x1, x2 = rng.normal(size=(2, 7, 4)).astype("float32")
    np.testing.assert_allclose(graph_cmd(x1, x2), reference_cmd(x1, x2), rtol=1e-5)


@pytest.mark.parametrize(
    "x1, x2, moments, argument",
    [
        (np.zeros((4, 3)), np.zeros((4, 2)), 5, "x2"),
        (np.zeros((4,)), np.zeros((4, 3)), 5, "x1"),
        (np.zeros((4, 3)), np.zeros((4, 3, 1)), 5, "x2"),
        (np.zeros((4, 3), "int32"), np.zeros((4, 3)), 5, "x1"),
        (np.zeros((4, 3)), np.zeros((4, 3)), 0, "moments"),
        (np.zeros((4, 3)), np.zeros((4, 3)), 2.0, "moments"),
    ],
)
def test_errors_name_the_argument(x1, x2, moments, argument):
    with pytest.raises(ValueError, match=argument):
        central_moment_discrepancy(x1, x2, moments=moments)
