"""serving_latency: what is timed and what is not."""

import time

import numpy as np
import pytest
import tensorflow as tf

from avtfuse.evaluation import stages
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


class FakeRun:
    """The parts of a RunState the latency stage reads: an export record and a test split of `complete` complete
    samples."""

    def __init__(self, complete):
        self.complete = complete

    def stage_outputs(self, name):
        assert name == "export"
        return {"saved_model": "exported"}

    @property
    def data(self):
        run = self

        class Data:
            def batches(self, split, batch_size, complete_only=False):
                assert (split, batch_size, complete_only) == ("test", 1, True)
                return tf.data.Dataset.from_tensor_slices(({"audio": tf.ones([run.complete, 1, 3])},
                                                           tf.zeros([run.complete, 1])))

        return Data()

    def served_classifier(self):
        class Served:
            def serving_spec(self):
                return ("audio",)

        return Served()


@pytest.mark.parametrize("complete", [0, 1, 3])
def test_the_latency_stage_carries_on_whatever_the_complete_test_samples(monkeypatch, complete):
    calls = []

    def load_serving(path):
        assert path == "exported"
        return lambda **inputs: calls.append(1) or {"probabilities": inputs["audio"]}

    monkeypatch.setattr(stages, "load_serving", load_serving)
    outputs = stages.latency(FakeRun(complete))
    if not complete:
        assert outputs == {"latency": None, "not_measured": "no complete test sample: latency not measured"}
        assert not calls
    else:  # one complete sample is enough: it is taken again for the warm-up and the timed calls
        assert outputs["latency"]["samples"] == 32 and len(calls) == 33
