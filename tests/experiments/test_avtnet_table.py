"""Tests for `python -m experiments.avtnet_table` with the single run replaced by a fake."""

import csv
import json
import os
import zlib

import matplotlib.image
import numpy as np
import pytest

from avtfuse.contract import MODALITIES, headline_conditions
from avtfuse.training import table as table_module
from experiments import avtnet_table
from tests.registry import fake_finished_run

VARIANTS = ("prop", "e2e")
SEEDS = (0, 1)
PROTOCOLS = ("paper", "strict")
ABLATIONS = ("paper", "subsets")
PAIRS = (("audio", "visible"), ("audio", "thermal"), ("visible", "thermal"))
PASSTHROUGH = ["--", "--epochs-embed", "3", "--image-size", "16", "--synthetic-subjects", "4", "--verbose", "0"]


class FakeRun:
    """Stands in for run_experiment: leaves a finished run (identity, results.json, the report stage's record:
    `fake_finished_run`) and records the call."""

    def __init__(self):
        self.configs = []

    def __call__(self, config, verbose=2):
        assert verbose == 0
        self.configs.append(config)
        rng = np.random.default_rng(zlib.crc32(config.run_name.encode()))
        modalities = tuple(config.data.modalities)
        names = headline_conditions(modalities)
        conditions = {name: {"accuracy": float(rng.uniform(0.5, 1.0)), "count": 10} for name in names}
        conditions["average"] = {"accuracy": float(np.mean([conditions[n]["accuracy"] for n in names])),
                                 "count": 10 * len(names), "conditions": names}
        results = {"conditions": conditions, "protocol": config.data.protocol, "sampler": config.train.sampler,
                   "modalities": list(modalities)}
        return fake_finished_run(config, results)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """Runs the table twice with the fake; returns (output dir, fake, calls after the first invocation)."""
    out = tmp_path_factory.mktemp("table")
    fake = FakeRun()
    patch = pytest.MonkeyPatch()
    patch.setattr(table_module, "run_experiment", fake)
    flags = ["--variants", ",".join(VARIANTS), "--seeds", ",".join(map(str, SEEDS)), "--protocols",
             ",".join(PROTOCOLS), "--output-dir", str(out)] + PASSTHROUGH
    try:
        avtnet_table.main(flags)
        first_calls = len(fake.configs)
        avtnet_table.main(flags)
    finally:
        patch.undo()
    return out, fake, first_calls, flags


def test_every_run_once_and_resume_repeats_none(table):
    _, fake, first_calls, _ = table
    expected = {(variant, MODALITIES, protocol, ablation, seed) for variant in VARIANTS for protocol in PROTOCOLS
                for ablation in ABLATIONS for seed in SEEDS}
    expected |= {("prop", pair, protocol, ablation, seed) for pair in PAIRS for protocol in PROTOCOLS
                 for ablation in ABLATIONS for seed in SEEDS}
    done = [(config.variant, tuple(config.data.modalities), config.data.protocol, config.data.ablation,
             config.data.seed) for config in fake.configs]
    assert first_calls == len(expected) == len(done)  # the second invocation ran nothing
    assert set(done) == expected


def test_passthrough_flags_reach_every_config(table):
    out, fake, _, _ = table
    for config in fake.configs:
        assert config.train.epochs_embed == 3
        assert tuple(config.data.features.image_size) == (16, 16)
        assert config.data.synthetic_subjects == 4
        assert config.train.seed == config.data.seed
        assert config.output_dir == os.path.join(str(out), "runs")
        assert config.saved_models_dir == os.path.join(str(out), "saved_models")
        initials = "".join(name[0] for name in config.data.modalities)
        ablation = "" if config.data.ablation == "paper" else f"-{config.data.ablation}"
        assert config.run_name.endswith(f"-{initials}-{config.data.protocol}{ablation}-seed{config.data.seed}")


def test_outputs_are_written(table):
    out, fake, _, _ = table
    table1 = (out / "table1.md").read_text()
    assert "Batch sampler: random" in table1 and "## paper protocol" in table1 and "## strict protocol" in table1
    with open(out / "table1.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted((row["protocol"], row["variant"], row["ablation"]) for row in rows) == sorted(
        (protocol, variant if ablation == "paper" else f"{variant} [{ablation}]", ablation)
        for protocol in PROTOCOLS for variant in VARIANTS for ablation in ABLATIONS)
    assert all(int(row["seeds"]) == len(SEEDS) for row in rows)
    table2 = (out / "table2.md").read_text()
    assert all(f"| {name} |" in table2 for name in ("AVT", "AV", "AT", "VT", "AVT [subsets]", "VT [subsets]"))
    assert matplotlib.image.imread(out / "robustness.png").shape[2] in (3, 4)
    document = json.loads((out / "comparison.json").read_text())
    assert len(document["runs"]) == len(fake.configs)
    by_name = {config.run_name: config for config in fake.configs}
    for run in document["runs"]:
        config = by_name[os.path.basename(run["run_dir"])]
        assert run["config"] == json.loads(json.dumps(config.to_dict()))
        assert run["results"] == json.loads((out / "runs" / config.run_name / "results.json").read_text())


def test_finished_run_with_other_settings_is_refused(table, monkeypatch):
    out, fake, _, flags = table
    monkeypatch.setattr(table_module, "run_experiment", fake)
    changed = flags + ["--epochs-embed", "4"]  # the last value of a repeated flag wins
    with pytest.raises(SystemExit, match="other settings"):
        avtnet_table.main(changed)


def test_flags_are_checked(capsys):
    variants = tuple(avtnet_table.VARIANTS)
    specs = table_module.table_runs(variants, (0, 1, 2), ("paper", "strict"), "prop")
    assert len(specs) == 3 * 2 * (len(variants) + 3) and len(set(specs)) == len(specs)
    assert len(table_module.table_runs(("prop",), (0,), ("paper",))) == 1
    both = table_module.table_runs(("prop",), (0,), ("strict",), ablations=("paper", "subsets"))
    assert [run.name for run in both] == ["prop-avt-strict-seed0", "prop-avt-strict-subsets-seed0"]
    for bad in (["--variants", "prop,nope"], ["--seeds", "a"], ["--protocols", "loose"], ["--ablations", "complete"],
                ["--", "--seed", "3"], ["--", "--run-name", "x"], ["--", "--ablation", "subsets"]):
        with pytest.raises(SystemExit):
            avtnet_table.parse_args(bad)
    with pytest.raises(SystemExit):
        avtnet_table.main(["--help"])
    text = capsys.readouterr().out
    for flag in ("--variants", "--seeds", "--protocols", "--ablations", "--bimodal", "--no-bimodal", "--output-dir"):
        assert flag in text


def test_progress_is_logged(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(table_module, "run_experiment", FakeRun())
    flags = ["--variants", "e2e", "--seeds", "5", "--protocols", "strict", "--ablations", "paper", "--no-bimodal",
             "--output-dir", str(tmp_path)] + PASSTHROUGH
    with caplog.at_level("INFO", logger="avtfuse.training.table"):
        avtnet_table.main(flags)
        avtnet_table.main(flags)
    assert "run 1/1: e2e strict seed 5" in caplog.text
    assert "run 1/1: e2e strict seed 5 already finished" in caplog.text
    assert not (tmp_path / "table2.md").exists()  # no bimodal runs, no Table 2
