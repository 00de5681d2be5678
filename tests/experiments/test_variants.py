"""Each of the paper's baselines builds, trains a step and exports, on a two-modality manifest (the registry's
avtnet-variant-<variant> runs: tests/registry.py)."""

import numpy as np
import pytest
import tensorflow as tf

from tests.registry import VARIANT_EXTRA


@pytest.mark.parametrize("variant", list(VARIANT_EXTRA))
def test_variant_trains_and_exports(registry, variant):
    run = registry.run(f"avtnet-variant-{variant}")
    results = run.results()
    assert results["variant"] == variant
    phases = ("end_to_end",) if variant == "e2e" else ("embeddings", "recognizer")
    assert all((run.run_dir / f"{phase}.done").exists() for phase in phases)
    assert results["sampler"] == ("pk" if "pk" in VARIANT_EXTRA[variant] else "random")
    assert set(results["conditions"]) >= {"complete", "only_audio", "only_thermal", "average"}
    # trained with --no-reference --no-latency: neither stage ran, and the report says so
    assert results["reference"] == {} and "reference (%)" not in (run.run_dir / "results.md").read_text()
    assert run.read_json("timing.json")["latency"] is None
    assert not (run.run_dir / "stages" / "reference.json").exists()
    serve = tf.saved_model.load(str(run.saved_model)).signatures["serving_default"]
    frames, mels = run.read_json("config.json")["model"]["audio_shape"]
    out = serve(audio=tf.zeros([2, frames, mels]), thermal=tf.random.uniform([2, 16, 16, 1]),
                present=tf.constant([[0.0, 1.0], [0.0, 1.0]]))
    np.testing.assert_allclose(out["probabilities"].numpy().sum(-1), 1.0, rtol=1e-5)
