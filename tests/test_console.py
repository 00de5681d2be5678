"""Console output: --verbose read before TensorFlow loads, harmless warnings dropped below --verbose 2."""

import logging
import os
import subprocess
import sys

import pytest

from avtfuse.console import configure_output, keras_verbosity, requested_verbosity


def test_requested_verbosity():
    assert requested_verbosity(["--gpus", "0"]) == 1
    assert requested_verbosity(["--verbose", "2"]) == 2
    assert requested_verbosity(["--verbose=0"]) == 0
    assert requested_verbosity(["--verbose"]) == 1
    assert keras_verbosity(0, True) == 0 and keras_verbosity(1, True) == 1
    assert keras_verbosity(1, False) == 0 and keras_verbosity(2, False) == 2
    with pytest.raises(ValueError, match="--verbose"):
        configure_output(3)


def test_tensorflow_notices_hidden_unless_verbose_2():
    script = "import experiments, tensorflow as tf; tf.constant(1) + 1"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    runs = {level: subprocess.run([sys.executable, "-c", script, "--verbose", level], capture_output=True,
                                  text=True, env=env, timeout=120) for level in ("1", "2")}
    assert runs["1"].returncode == runs["2"].returncode == 0
    assert "cpu_feature_guard" not in runs["1"].stderr and "cuda" not in runs["1"].stderr.lower()
    assert "cpu_feature_guard" in runs["2"].stderr or "cuda" in runs["2"].stderr.lower()


def test_harmless_warnings_are_dropped(caplog):
    configure_output(1)
    handler = logging.getLogger().handlers[0]
    record = logging.LogRecord("keras", logging.WARNING, __file__, 1, "Your input ran out of data; interrupting",
                               None, None)
    assert not handler.filter(record)
    record.msg = "a real warning"
    assert handler.filter(record)


def test_progress_logs_counts_rate_and_time_left(caplog, monkeypatch):
    import avtfuse.console as console

    clock = iter([0.0, 5.0, 12.0, 20.0])
    monkeypatch.setattr(console.time, "monotonic", lambda: next(clock))
    logger = logging.getLogger("progress-test")
    with caplog.at_level(logging.INFO, logger="progress-test"):
        progress = console.Progress(logger, "cached", 40, interval=10.0)
        progress.update(10)  # 5 s: too soon
        progress.update(24)  # 12 s: 2/s, 16 left
        progress.update(40)  # the end is always logged
    assert [r.getMessage() for r in caplog.records] == [
        "cached 24 / 40 recordings (2.0/s, about 8 s left)", "cached 40 / 40 recordings (2.0/s, about 0 s left)"]
