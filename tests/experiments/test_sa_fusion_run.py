"""Short end-to-end runs of `python -m experiments.sa_fusion` on a tiny synthetic RAVDESS tree (the registry's sa_fusion
runs, and the three-sensor run of its robustness benchmark: tests/registry.py), and its table over fake runs."""

import itertools
import json
import os
import zlib

import keras
import numpy as np
import pytest

from avtfuse.export import load_serving
from avtfuse.runs import ExperimentConfig
from avtfuse.training import table as table_module
from experiments import sa_fusion, sa_fusion_table
from pipelines.dataset import prepare
from tests.registry import fake_finished_run


@pytest.fixture(scope="module")
def finished_run(registry):
    return registry.run("sa_fusion")


def test_run_reports_av_a_v_and_their_mean_on_the_held_out_actor(finished_run):
    results = finished_run.results()
    conditions = results["conditions"]
    assert {name: conditions[name]["count"] for name in ("complete", "only_audio", "only_visible")} == \
        {"complete": 8, "only_audio": 8, "only_visible": 8}
    mean = np.mean([conditions[name]["accuracy"] for name in ("complete", "only_audio", "only_visible")])
    assert conditions["average"]["accuracy"] == pytest.approx(mean)
    assert (results["system"], results["variant"], results["protocol"], results["fold"]) == \
        ("sa_fusion", "ia1", "folds", 1)
    assert results["replication"] == "softhard" and results["train_samples"] == 32
    assert finished_run.read_json("labels.json") == ["happy", "sad"]
    # chance is 1/2: the complete recordings of the unseen actor are recognised
    assert conditions["complete"]["accuracy"] >= 0.75, results


def test_fold_keeps_every_actor_on_one_side(finished_run):
    data = finished_run.data()
    actors = {split: {recording.split("-")[-1] for recording, row in zip(data.recordings, data.assignment)
                      if (row == index).any()} for index, split in enumerate(("train", "test", "valid"))}
    assert actors == {"train": {"03", "04", "05", "06"}, "test": {"01"}, "valid": {"02"}}



def test_noise_setting_serves_noise_for_the_missing_modality(registry):
    run = registry.run("sa_fusion-noise")
    results = run.results()
    assert (results["variant"], results["replication"], results["missing_fill"]) == ("lt4", "noise", "noise")
    assert results["train_samples"] == 32  # recordings; each batch is replicated 3x in training
    classifier = keras.models.load_model(run.run_dir / "classifier.keras")
    assert classifier.missing_fill == "noise"
    serve = load_serving(run.saved_model)
    audio, visible = np.ones((1, 156, 10), np.float32), np.zeros((1, 15, 16, 16, 3), np.float32)
    only_audio = serve(audio=audio, visible=visible, present=np.array([[1, 0]], np.float32))["probabilities"]
    features = {"audio": audio, "visible": visible}
    zeros = keras.ops.convert_to_numpy(classifier(features, training=False))
    assert np.abs(only_audio.numpy() - zeros).max() > 1e-4  # the missing video became noise, not zeros


def test_a_lone_sensor_is_answered_by_its_specialist(finished_run):
    """--single-sensor specialist on a system trained end to end: with two sensors, each view with one missing is a
    lone sensor, scored and served by that sensor's SA-fusion specialist; the fused model's own score is kept."""
    results = finished_run.results()
    assert set(results["specialists"]) == {"only_audio", "only_visible"}
    for name, entry in results["specialists"].items():
        assert entry["fused"] == results["conditions"][name]["accuracy"] == entry["specialist"]
        assert entry["fused_alone"] is not None and entry["fused_count"] == entry["specialist_count"] == 8
    inputs, _ = next(iter(finished_run.data().batches("test", 24)))
    served = load_serving(finished_run.saved_model)(**{k: inputs[k] for k in ("audio", "visible", "present")})
    audio_alone = inputs["present"].numpy().tolist().index([1.0, 0.0])
    specialist = load_serving(finished_run.saved / "ia1-specialist-audio")(
        audio=inputs["audio"][audio_alone:audio_alone + 1], present=np.ones((1, 1), np.float32))
    np.testing.assert_allclose(served["probabilities"].numpy()[audio_alone], specialist["probabilities"].numpy()[0],
                               atol=1e-5)



def test_the_audio_only_folder(registry):
    run = registry.run("sa_fusion-speech")
    results = run.results()
    assert results["modalities"] == ["audio"] and results["conditions"]["complete"]["count"] == 8
    assert results["replication"] == "none" and "needs two modalities" in run.log()


class FakeRun:
    """Stands in for run_experiment: leaves a finished run with made-up accuracies for the table to read back,
    and records the configs it was called with."""

    def __init__(self):
        self.configs = []

    def __call__(self, config, verbose=2):
        self.configs.append(config)
        rng = np.random.default_rng(zlib.crc32(config.run_name.encode()))
        conditions = {name: {"accuracy": float(rng.uniform(0.5, 1.0)), "count": 8}
                      for name in ("complete", "only_audio", "only_visible")}
        conditions["average"] = {"accuracy": float(np.mean([entry["accuracy"] for entry in conditions.values()])),
                                 "count": 24}
        return fake_finished_run(config, {"conditions": conditions, "system": config.system,
                                          "variant": config.variant, "fold": config.data.fold})


def test_table_writes_the_table_ii_layout_with_the_paper_beside(registry, tmp_path, capsys, monkeypatch):
    fake = FakeRun()
    monkeypatch.setattr(table_module, "run_experiment", fake)
    flags = ["--fusions", "ia1,it1", "--dropouts", "none", "--output-dir", str(tmp_path / "table"), "--",
             "--data", str(registry.tree("ravdess-avt")), "--cache-dir", str(tmp_path / "cache"), "--image-size",
             "16", "--epochs-embed", "1", "--gpus", "0", "--verbose", "0"]
    sa_fusion_table.main(flags)
    assert [(c.variant, c.train.replication, c.data.fold) for c in fake.configs] == [("ia1", "none", 1),
                                                                                      ("it1", "none", 1)]
    assert all(c.train.epochs_embed == 1 and c.output_dir == str(tmp_path / "table" / "runs") for c in fake.configs)
    table = (tmp_path / "table" / "table2.md").read_text()
    assert "| ia1 | " in table and "| it1 | " in table
    assert "76.00 / 18.58 / 22.83 / 39.13" in table  # the paper's IA1 without dropout
    cells = json.loads((tmp_path / "table" / "table2.json").read_text())
    assert set(cells) == {"ia1|none", "it1|none"} and cells["ia1|none"]["folds"] == [1]
    sa_fusion_table.main(flags)  # read back, not rerun
    assert capsys.readouterr().out.count("(finished earlier)") == 2 and len(fake.configs) == 2


@pytest.mark.parametrize("flags, word", [(["--fusion", "xx"], "--fusion"), (["--heads", "3"], "--heads"),
                                         (["--fold", "6"], "--fold"), (["--dropout", "hard"], "--dropout")])
def test_bad_flags_are_named(flags, word, capsys):
    with pytest.raises(SystemExit):
        sa_fusion.parse_args(flags)
    assert word in capsys.readouterr().err


def test_reserved_table_flags_are_refused(capsys):
    with pytest.raises(SystemExit):
        sa_fusion_table.parse_args(["--", "--fold", "2"])
    assert "--fold" in capsys.readouterr().err


def test_run_names_differ_per_dropout_setting_and_fold():
    names = {sa_fusion.experiment_config(sa_fusion.parse_args(["--dropout", d, "--fold", str(f)])).run_name
             for d, f in itertools.product(sa_fusion.DROPOUTS, (1, 2))}
    assert len(names) == 6


# The three-sensor SA-fusion run is the robustness benchmark's (tests/experiments/test_robustness_run.py): its tests
# come last, so that the other worker, when it is training that run, has finished it by then.
def test_three_sensors(registry):
    """The three-sensor run (--modalities audio,visible,thermal --thermal-palette inferno, one epoch) is the
    robustness benchmark's SA-fusion run (tests/experiments/test_robustness_run.py)."""
    bench = registry.build("robustness") / "bench"
    results = json.loads((bench / "runs" / "sa_fusion-seed0" / "results.json").read_text())
    assert (results["system"], results["variant"], results["replication"]) == ("sa_fusion", "ia1", "softhard")
    assert results["modalities"] == ["audio", "visible", "thermal"]
    assert {"complete", "missing_audio", "only_thermal"} <= set(results["conditions"])
    assert results["train_samples"] == 32


def test_export_serves_the_trained_model_with_a_modality_missing(registry):
    """On a run that serves its fused model alone (the robustness benchmark's three-sensor SA-fusion run; the
    registry's sa_fusion run answers a lone sensor with its specialist)."""
    run_dir = registry.build("robustness") / "bench" / "runs" / "sa_fusion-seed0"
    classifier = keras.models.load_model(run_dir / "classifier.keras")
    config = ExperimentConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    assert config.single_sensor == "fused"
    inputs, _ = next(iter(prepare(config.data).batches("test", 24)))
    assert (inputs["present"].numpy() == 0).any(axis=0).all()
    expected = keras.ops.convert_to_numpy(classifier(inputs, training=False))
    served = load_serving(os.path.join(config.saved_models_dir, config.run_name))(
        **{k: inputs[k] for k in ("audio", "visible", "thermal", "present")})
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, atol=1e-5)
