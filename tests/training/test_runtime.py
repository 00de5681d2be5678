"""Runtime selection: CPU fallback with a clear message, precision policy, bad arguments."""

import logging

import keras
import pytest

from avtfuse.training.runtime import RuntimeConfig, setup_runtime


@pytest.fixture(autouse=True)
def restore_policy():
    yield
    keras.mixed_precision.set_global_policy("float32")


def test_gpu_request_without_gpu_falls_back_to_cpu(caplog):
    with caplog.at_level(logging.WARNING):
        runtime = setup_runtime(RuntimeConfig(gpus=1))
    assert runtime.device == "CPU"
    assert runtime.precision == "float32"
    assert "no GPU" in caplog.text
    assert keras.mixed_precision.global_policy().name == "float32"


def test_explicit_mixed_precision_on_cpu_warns(caplog):
    with caplog.at_level(logging.WARNING):
        runtime = setup_runtime(RuntimeConfig(gpus=0, precision="mixed_float16"))
    assert runtime.precision == "mixed_float16"
    assert keras.mixed_precision.global_policy().compute_dtype == "float16"
    assert "slowly" in caplog.text


@pytest.mark.parametrize("kwargs, word", [
    ({"gpus": -1}, "RuntimeConfig.gpus"), ({"precision": "fp8"}, "RuntimeConfig.precision")])
def test_bad_arguments_are_named(kwargs, word):
    with pytest.raises(ValueError, match=word):
        RuntimeConfig(**kwargs)


def test_one_mirrored_strategy_per_device_list():
    from avtfuse.training.runtime import mirrored_strategy

    first = mirrored_strategy(("/cpu:0",))
    assert mirrored_strategy(("/cpu:0",)) is first
    assert first.num_replicas_in_sync == 1
