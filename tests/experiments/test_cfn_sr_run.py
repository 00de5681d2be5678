"""Short end-to-end runs of `python -m experiments.cfn_sr` (both protocols) on a tiny synthetic RAVDESS tree (the
registry's cfn_sr and cfn_sr-paper runs: tests/registry.py)."""

import json

import keras
import numpy as np
import pytest

from avtfuse.export import load_serving
from experiments import cfn_sr


@pytest.fixture(scope="module")
def finished_run(registry):
    return registry.run("cfn_sr")


def test_strict_run_recognises_the_held_out_actor_per_condition(finished_run):
    run_dir = finished_run.run_dir
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
    classifier = keras.models.load_model(finished_run.run_dir / "classifier.keras")
    data = finished_run.data()
    assert data.shapes == {"audio": (212, 13), "visible": (16, 16, 16, 3)}
    inputs, _ = next(iter(data.batches("test", 24)))
    assert (inputs["present"].numpy() == 0).any(axis=0).all()
    expected = keras.ops.convert_to_numpy(classifier(inputs, training=False))
    served = load_serving(finished_run.saved_model)(**{k: inputs[k] for k in ("audio", "visible", "present")})
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, atol=1e-5)


def test_a_second_call_finds_the_finished_run(finished_run, capsys):
    before = (finished_run.run_dir / "results.json").read_text()
    capsys.readouterr()
    finished_run.main()
    out = capsys.readouterr().out
    assert "Strict protocol" in out
    after = json.loads((finished_run.run_dir / "results.json").read_text())
    assert after == json.loads(before)
    assert (finished_run.run_dir / "results.md").read_text().count("Strict protocol") == 1


def test_paper_selection_reports_the_labelled_best_test_epoch(registry):
    run = registry.run("cfn_sr-paper")
    run_dir = run.run_dir
    results = run.results()
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
