"""A short end-to-end run of `python -m experiments.mct_hfr` on a tiny synthetic RAVDESS tree (the registry's mct_hfr
run: tests/registry.py)."""

import keras
import numpy as np
import pytest

from avtfuse.export import load_serving


@pytest.fixture(scope="module")
def finished_run(registry):
    return registry.run("mct_hfr")


def test_run_sweeps_the_missing_rates_and_learns(finished_run):
    run_dir = finished_run.run_dir
    results = finished_run.results()
    sweep = results["rate_sweep"]
    assert sweep["rates"] == [0.0, 0.5] and sweep["samples"] == 8
    for metric in ("UA", "UF1", "WA", "WF1"):
        curve = sweep["metrics"][metric]
        assert sweep["auilc"][metric] == pytest.approx(np.mean(curve))
        assert sweep["auilc_paper"][metric] == pytest.approx(0.5 * np.mean(curve))  # the rates span 0.5
    realised = sweep["realised"]
    assert realised["0.0"] == {"audio": 0.0, "visible": 0.0}
    assert all(0.3 < share < 0.7 for share in realised["0.5"].values())
    assert (results["system"], results["variant"], results["train_samples"]) == ("mct_hfr", "mct_hfr", 32)
    assert set(results["conditions"]) >= {"complete", "only_audio", "only_visible", "average"}
    # chance is 1/2: the complete clips of the unseen actor are recognised
    assert sweep["metrics"]["UA"][0] >= 0.75, sweep
    assert (run_dir / "robustness.png").stat().st_size > 0
    complexity = (run_dir / "complexity.md").read_text()
    assert "one MRAU layer" in complexity and "whole model (inference)" in complexity
    assert "Missing steps" in (run_dir / "results.md").read_text()


def test_export_takes_the_step_masks(finished_run):
    classifier = keras.models.load_model(finished_run.run_dir / "classifier.keras")
    data = finished_run.data()
    inputs, _ = next(iter(data.batches("test", 16, missing_rate=0.5)))
    assert float(inputs["audio_missing"].numpy().mean()) > 0.2
    expected = keras.ops.convert_to_numpy(classifier(inputs, training=False))
    names = ("audio", "visible", "audio_mask", "visible_mask", "present")
    served = load_serving(finished_run.saved_model)(**{name: inputs[name] for name in names})
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, atol=1e-5)
