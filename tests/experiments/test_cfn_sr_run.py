"""Short end-to-end runs of `python -m experiments.cfn_sr` (both protocols) on a tiny synthetic RAVDESS tree."""

import json

import keras
import numpy as np
import pytest

from avtfuse.export import load_serving
from avtfuse.training.experiment import ExperimentConfig
from experiments import cfn_sr
from pipelines.dataset import prepare
from pipelines.synthetic_ravdess import write_ravdess

# Two emotions at strong intensity, 6 actors (the fewest the folds take): 8 takes per actor; fold 1 tests actor 1,
# validates on actor 2 (strict) and trains on 3-6 (strict) or 2-6 (paper). Frames of 32 x 32 and batches of 16: on
# the CPU, TensorFlow's 3-D convolution gradients run 10-50 times slower per sample at smaller batches and frames.
# 2 pre-training and 5 fusion epochs: the kept epochs (1, 1 and 5, validation accuracy 1.0 in fusion) and so the
# tested model are those of the earlier 4 and 6; graph building, not the epochs, takes most of the run.
TINY_FLAGS = ["--image-size", "32", "--epochs-embed", "2", "--epochs-recognizer", "5", "--batch-size", "16",
              "--gpus", "0", "--verbose", "0"]


@pytest.fixture(scope="module")
def tiny_ravdess(tmp_path_factory):
    root = tmp_path_factory.mktemp("ravdess")
    # 3 s of audio: the 2.45 s window from 0.5 s fits.
    write_ravdess(root, actors=range(1, 7), emotions=("happy", "sad"), intensities=(2,), video_frames=8,
                  image_size=16, audio_seconds=3.0)
    return root


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """One feature cache for every run of the module (the runs share their data settings)."""
    return tmp_path_factory.mktemp("cache")


def run_flags(root, cache, tmp, name):
    return ["--data", str(root), "--cache-dir", str(cache), "--output-dir", str(tmp / "runs"),
            "--saved-models-dir", str(tmp / "saved"), "--run-name", name, *TINY_FLAGS]


@pytest.fixture(scope="module")
def finished_run(tiny_ravdess, cache_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    flags = run_flags(tiny_ravdess, cache_dir, tmp, "strict")
    cfn_sr.main(flags)
    return tmp, flags


def test_strict_run_recognises_the_held_out_actor_per_condition(finished_run):
    tmp, _ = finished_run
    run_dir = tmp / "runs" / "strict"
    results = json.loads((run_dir / "results.json").read_text())
    conditions = results["conditions"]
    assert {name: conditions[name]["count"] for name in ("complete", "only_audio", "only_visible")} == \
        {"complete": 8, "only_audio": 8, "only_visible": 8}
    assert (results["system"], results["variant"], results["protocol"], results["fold"]) == \
        ("cfn_sr", "cfn_sr", "folds", 1)
    assert (results["train_samples"], results["validation_samples"]) == (32, 8)
    # chance is 1/2: the complete recordings of the unseen actor are recognised
    assert conditions["complete"]["accuracy"] >= 0.75, results
    # each phase ran, logged its epochs and kept its best validation epoch
    for phase, epochs in (("pretrain_audio", 2), ("pretrain_visible", 2), ("fusion", 5)):
        assert (run_dir / f"{phase}.done").exists()
        curve = results["selection"]["phases"][phase]
        assert curve["epochs"] == list(range(1, epochs + 1)) and 1 <= curve["best_epoch"] <= epochs
        assert curve["best_accuracy"] == pytest.approx(max(curve["val_accuracy"]))
    markdown = (run_dir / "results.md").read_text()
    assert "Strict protocol: validation actors chose each phase's epoch" in markdown


def test_export_serves_the_trained_model_with_a_modality_missing(finished_run):
    tmp, _ = finished_run
    run_dir = tmp / "runs" / "strict"
    classifier = keras.models.load_model(run_dir / "classifier.keras")
    data = prepare(ExperimentConfig.from_dict(json.loads((run_dir / "config.json").read_text())).data)
    assert data.shapes == {"audio": (212, 13), "visible": (16, 32, 32, 3)}
    inputs, _ = next(iter(data.batches("test", 24)))
    assert (inputs["present"].numpy() == 0).any(axis=0).all()
    expected = keras.ops.convert_to_numpy(classifier(inputs, training=False))
    served = load_serving(tmp / "saved" / "strict")(**{k: inputs[k] for k in ("audio", "visible", "present")})
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, atol=1e-5)


def test_a_second_call_finds_the_finished_run(finished_run, capsys):
    tmp, flags = finished_run
    before = (tmp / "runs" / "strict" / "results.json").read_text()
    capsys.readouterr()
    cfn_sr.main(flags)
    out = capsys.readouterr().out
    assert "Strict protocol" in out
    after = json.loads((tmp / "runs" / "strict" / "results.json").read_text())
    assert after == json.loads(before)
    assert (tmp / "runs" / "strict" / "results.md").read_text().count("Strict protocol") == 1


def test_paper_selection_reports_the_labelled_best_test_epoch(tiny_ravdess, cache_dir, tmp_path):
    # without the audio transformer, which takes most of a tiny run's graph building
    cfn_sr.main(run_flags(tiny_ravdess, cache_dir, tmp_path, "paper") + [
        "--selection", "paper", "--variant", "no_self_attention", "--epochs-embed", "1", "--epochs-recognizer", "2"])
    run_dir = tmp_path / "runs" / "paper"
    results = json.loads((run_dir / "results.json").read_text())
    assert (results["train_samples"], results["validation_samples"]) == (40, 0)  # actors 2-6 train
    assert results["conditions"]["complete"]["count"] == 8
    fusion = results["selection"]["phases"]["fusion"]
    assert results["selection"]["protocol"] == "paper" and fusion["epochs"] == [1, 2]
    # the kept epoch is the best test epoch (scored on the complete test recordings after every epoch)
    assert fusion["best_accuracy"] == pytest.approx(max(fusion["val_accuracy"]))
    assert fusion["val_accuracy"][fusion["best_epoch"] - 1] == fusion["best_accuracy"]
    markdown = (run_dir / "results.md").read_text()
    assert markdown.index("Paper protocol: best test epoch (optimistic).") < markdown.index("Accuracy per condition")


@pytest.mark.parametrize("flags, word", [(["--variant", "xx"], "--variant"), (["--dropout", "noise"], "--dropout"),
                                         (["--selection", "best"], "--selection"),
                                         (["--softmax-over", "t"], "--softmax-over")])
def test_bad_flags_are_named(flags, word, capsys):
    with pytest.raises(SystemExit):
        cfn_sr.parse_args(flags)
    assert word in capsys.readouterr().err


def test_run_names_and_settings_follow_the_flags():
    config = cfn_sr.experiment_config(cfn_sr.parse_args([]))
    assert config.run_name == "cfn_sr-none-strict-small-av-fold1-seed0"
    assert (config.model.selection, config.train.replication, config.data.validation_fraction) == ("strict", "none",
                                                                                                     0.1)
    assert config.data.features.audio_offset == 0.5 and config.model.audio_shape == (212, 13)
    config = cfn_sr.experiment_config(cfn_sr.parse_args(
        ["--selection", "paper", "--dropout", "softhard", "--variant", "no_residual", "--softmax-over", "thw"]))
    assert config.run_name == "no_residual-thw-softhard-paper-small-av-fold1-seed0"
    assert (config.model.selection, config.model.residual, config.model.softmax_over) == ("paper", False, "thw")
    assert (config.train.replication, config.data.validation_fraction) == ("softhard", 0.0)
