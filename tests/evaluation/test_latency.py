"""serving_latency: what is timed and what is not."""

import time

import numpy as np
import pytest
import tensorflow as tf

from avtfuse.evaluation.latency import serving_latency


def batches(count):
    return [({"audio": tf.ones([1, 3]), "present": tf.ones([1, 1]), "recording": tf.constant(["r"])}, tf.zeros([1]))
            for _ in range(count)]


def test_the_first_call_is_a_warm_up_and_every_other_is_timed():
    calls = []

    def serve(**inputs):
        calls.append(sorted(inputs))
        return {"probabilities": inputs["audio"] * 2.0}

    timing = serving_latency(serve, batches(5), ("audio", "present"), samples=32)
    assert calls == [["audio", "present"]] * 5  # only the serving inputs are fed
    assert timing["samples"] == 4 and timing["batch_size"] == 1
    assert 0 < timing["median_ms"] <= timing["p90_ms"]
    assert serving_latency(serve, batches(10), ("audio",), samples=3)["samples"] == 3


def test_a_slow_call_shows_in_the_median():
    def serve(**inputs):
        time.sleep(0.02)
        return {"label": tf.zeros([1])}

    assert serving_latency(serve, batches(4), ("audio",))["median_ms"] == pytest.approx(20, abs=15)
    with pytest.raises(ValueError, match="two or more"):
        serving_latency(serve, batches(1), ("audio",))
    assert np.isfinite(serving_latency(serve, batches(2), ("audio",))["p90_ms"])
