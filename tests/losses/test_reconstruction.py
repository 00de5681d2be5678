"""Tests for avtfuse/losses/reconstruction.py against a NumPy loop over missing elements."""

import numpy as np
import pytest
import tensorflow as tf

from avtfuse.losses.reconstruction import masked_smooth_l1


def reference_masked_smooth_l1(target, prediction, missing, beta=1.0):
    target = np.asarray(target, dtype=np.float64)
    prediction = np.asarray(prediction, dtype=np.float64)
    total, count = 0.0, 0
    for b in range(target.shape[0]):
        for t in range(target.shape[1]):
            if not missing[b][t]:
                continue
            for d in range(target.shape[2]):
                x = abs(prediction[b, t, d] - target[b, t, d])
                total += 0.5 * x * x / beta if x < beta else x - 0.5 * beta
                count += 1
    return total / (count + 1e-4)


def random_case(seed, dtype="float32", rate=0.4):
    rng = np.random.default_rng(seed)
    target = rng.normal(size=(3, 7, 5)) * 2.0  # errors on both sides of beta
    prediction = target + rng.normal(size=target.shape) * 1.5
    missing = (rng.random((3, 7)) < rate).astype("float32")
    return target.astype(dtype), prediction.astype(dtype), missing


@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0])
@pytest.mark.parametrize("seed", range(3))
def test_matches_loop(seed, beta):
    target, prediction, missing = random_case(seed)
    assert 0 < missing.sum() < missing.size
    loss = masked_smooth_l1(target, prediction, missing, beta=beta)
    assert loss.dtype == tf.float32 and loss.shape == ()
    np.testing.assert_allclose(loss, reference_masked_smooth_l1(target, prediction, missing, beta), rtol=1e-5)


def test_kept_steps_do_not_matter():
    target, prediction, missing = random_case(4)
    changed = prediction.copy()
    changed[missing == 0] = 1e4
    np.testing.assert_allclose(masked_smooth_l1(target, changed, missing),
                               masked_smooth_l1(target, prediction, missing), rtol=1e-6)


def test_no_missing_step_gives_exact_zero_and_zero_gradient():
    target, prediction, _ = random_case(5)
    variable = tf.Variable(prediction)
    with tf.GradientTape() as tape:
        loss = masked_smooth_l1(target, variable, np.zeros((3, 7), bool))
    assert float(loss) == 0.0
    np.testing.assert_array_equal(tape.gradient(loss, variable).numpy(), 0.0)


def test_everything_missing_is_the_plain_mean():
    target, prediction, _ = random_case(6)
    error = np.abs(prediction.astype(np.float64) - target)
    expected = np.where(error < 1.0, 0.5 * error**2, error - 0.5).sum() / (error.size + 1e-4)
    np.testing.assert_allclose(masked_smooth_l1(target, prediction, np.ones((3, 7))), expected, rtol=1e-5)


def test_float16_inputs_compute_in_float32():
    target, prediction, missing = random_case(7, dtype="float16")
    variable = tf.Variable(prediction)
    with tf.GradientTape() as tape:
        loss = masked_smooth_l1(target, variable, missing.astype(bool))
    assert loss.dtype == tf.float32
    assert np.all(np.isfinite(tape.gradient(loss, variable).numpy().astype(np.float32)))
    np.testing.assert_allclose(loss, reference_masked_smooth_l1(target, prediction, missing), rtol=1e-4)


def test_traced_with_unknown_batch_and_time():
    @tf.function(input_signature=[tf.TensorSpec([None, None, 5]), tf.TensorSpec([None, None, 5]),
                                  tf.TensorSpec([None, None])])
    def graph_loss(target, prediction, missing):
        return masked_smooth_l1(target, prediction, missing)

    target, prediction, missing = random_case(8)
    np.testing.assert_allclose(graph_loss(target, prediction, missing),
                               reference_masked_smooth_l1(target, prediction, missing), rtol=1e-5)


@pytest.mark.parametrize(
    "target_shape, prediction_shape, missing_shape, beta, argument",
    [
        ((2, 3, 4), (2, 3, 5), (2, 3), 1.0, "prediction"),
        ((2, 3), (2, 3), (2, 3), 1.0, "target"),
        ((2, 3, 4), (2, 3, 4), (2, 4), 1.0, "missing"),
        ((2, 3, 4), (2, 3, 4), (2, 3, 1), 1.0, "missing"),
        ((2, 3, 4), (2, 3, 4), (2, 3), 0.0, "beta"),
    ],
)
def test_errors_name_the_argument(target_shape, prediction_shape, missing_shape, beta, argument):
    with pytest.raises(ValueError, match=argument):
        masked_smooth_l1(np.zeros(target_shape, "float32"), np.zeros(prediction_shape, "float32"),
                         np.zeros(missing_shape, "float32"), beta=beta)
