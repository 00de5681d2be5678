"""A short end-to-end run of `python -m experiments.mct_hfr` on a tiny synthetic RAVDESS tree."""

import json

import keras
import numpy as np
import pytest

from avtfuse.export import load_serving
from avtfuse.training.experiment import ExperimentConfig
from experiments import mct_hfr
from pipelines.dataset import prepare
from pipelines.synthetic_ravdess import write_ravdess

# Two emotions at strong intensity, 6 actors: fold 1 tests actor 1 (8 clips), validates on actor 2, trains on 3-6.
# 3 epochs: the ramp ends after epoch 2 and GFA + LFI count from epoch 2, so every loss term trains. At 8 epochs the
# kept (best validation UA) epoch was 1 (val UA 1.0) and each epoch is a function of (seed, epoch): the tested model
# is the same. Most of the run's time is graph building (the first training step traces about 49,000 ops).
TINY_FLAGS = ["--modalities", "audio,visible", "--image-size", "16", "--epochs-embed", "3", "--batch-size", "8",
              "--ramp-epochs", "2", "--missing-rates", "0,0.5", "--gpus", "0", "--verbose", "0"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ravdess")
    write_ravdess(root, actors=range(1, 7), emotions=("happy", "sad"), intensities=(2,), video_frames=8,
                  image_size=16)
    tmp = tmp_path_factory.mktemp("run")
    mct_hfr.main(["--data", str(root), "--cache-dir", str(tmp / "cache"), "--output-dir", str(tmp / "runs"),
                  "--saved-models-dir", str(tmp / "saved"), "--run-name", "hfr", *TINY_FLAGS])
    return tmp


def test_run_sweeps_the_missing_rates_and_learns(finished_run):
    run_dir = finished_run / "runs" / "hfr"
    results = json.loads((run_dir / "results.json").read_text())
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
    run_dir = finished_run / "runs" / "hfr"
    classifier = keras.models.load_model(run_dir / "classifier.keras")
    data = prepare(ExperimentConfig.from_dict(json.loads((run_dir / "config.json").read_text())).data)
    inputs, _ = next(iter(data.batches("test", 16, missing_rate=0.5)))
    assert float(inputs["audio_missing"].numpy().mean()) > 0.2
    expected = keras.ops.convert_to_numpy(classifier(inputs, training=False))
    names = ("audio", "visible", "audio_mask", "visible_mask", "present")
    served = load_serving(finished_run / "saved" / "hfr")(**{name: inputs[name] for name in names})
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, atol=1e-5)
