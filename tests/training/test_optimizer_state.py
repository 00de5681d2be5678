"""A checkpoint's optimizer state (step counter, Adam's moments) carries over to a run resumed under another
precision: float32 <-> mixed_float16, where Keras wraps the optimizer in a LossScaleOptimizer."""

import warnings

import keras
import numpy as np
import pytest

from avtfuse.training.optimizer_state import inner_optimizer
from avtfuse.training.phase import PhaseRunner
from tests.training.test_phase import epoch_batches, tiny_model


@pytest.fixture
def policy():
    """Sets the global dtype policy for a test (policy(name)) and puts the previous one back afterwards."""
    previous = keras.mixed_precision.global_policy()
    yield keras.mixed_precision.set_global_policy
    keras.mixed_precision.set_global_policy(previous)


@pytest.mark.parametrize("first, second", [("float32", "mixed_float16"), ("mixed_float16", "float32")])
def test_resume_under_another_precision_restores_the_step_counter_and_moments(tmp_path, policy, first, second):
    runner = PhaseRunner(str(tmp_path), verbose=0)
    policy(first)
    trained = tiny_model()
    runner.fit("phase", trained, epoch_batches, 2)
    policy(second)
    resumed = tiny_model()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert runner.restored_epoch("phase", resumed) == 2
    assert isinstance(resumed.optimizer, keras.optimizers.LossScaleOptimizer) == (second == "mixed_float16")
    expected, got = inner_optimizer(trained.optimizer), inner_optimizer(resumed.optimizer)
    assert int(got.iterations.numpy()) == int(expected.iterations.numpy()) > 0
    moments = [(saved, restored) for saved, restored in zip(expected.variables, got.variables)
               if saved.path.endswith(("_momentum", "_velocity"))]
    assert len(moments) == 2 * len(trained.trainable_variables)
    for saved, restored in moments:
        assert np.any(saved.numpy() != 0)
        np.testing.assert_array_equal(restored.numpy(), saved.numpy(), err_msg=restored.path)
    for restored, saved in zip(resumed.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(restored, saved)
    assert not [str(w.message) for w in caught if "optimizer" in str(w.message)]


def test_checkpoint_of_another_optimizer_is_refused_in_one_line(tmp_path):
    runner = PhaseRunner(str(tmp_path), verbose=0)
    runner.fit("phase", tiny_model(), epoch_batches, 1)
    other = tiny_model()
    other.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    with pytest.raises(ValueError, match=r"epoch-0001\.weights\.h5: its optimizer state \(10 variables\) does not "
                                         r"fit this model's SGD \(2 variables\)") as error:
        runner.restored_epoch("phase", other)
    assert "\n" not in str(error.value)
