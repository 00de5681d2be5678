"""--sweep: one run per value on one split, every run kept, validation chooses (the registry's `avtnet-sweep`: AVTNet
on the tones swept over --augment none and strong)."""

import json

import pytest

from avtfuse.runs.sweep import run_sweep, sweep_configs, sweep_markdown
from experiments import avtnet


@pytest.fixture(scope="module")
def swept(registry):
    return registry.run("avtnet-sweep")


def test_every_run_is_kept_on_one_split_and_validation_names_the_choice(swept):
    summary = json.loads((swept.runs / "sweep-tones-augment.json").read_text())
    assert summary["setting"] == "--augment" and [row["value"] for row in summary["runs"]] == ["none", "strong"]
    splits, configs = [], []
    for row in summary["runs"]:
        run_dir = swept.runs / f"tones-augment-{row['value']}"
        assert row["run_dir"] == str(run_dir)
        results = json.loads((run_dir / "results.json").read_text())
        assert row["validation"] == results["validation"]["metrics"]["WA"]
        assert row["test"] == results["metrics"]["WA"]
        assert results["validation"]["conditions"]["average"]["count"] == results["validation_samples"] > 0
        splits.append((run_dir / "split.csv").read_text())
        configs.append(json.loads((run_dir / "config.json").read_text()))
    assert splits[0] == splits[1]  # one split: same recordings, copies and roles
    assert [config["train"]["augment"] for config in configs] == ["none", "strong"]
    configs[1]["train"]["augment"] = "none"
    for config in configs:
        config.pop("run_name")
    assert configs[0] == configs[1]  # nothing else differs
    best = max(summary["runs"], key=lambda row: row["validation"])
    assert summary["chosen"] == best["run_dir"]
    assert f"Validation chose --augment {best['value']}" in sweep_markdown(summary)


def test_the_sweep_of_a_finished_run_reads_it_back(swept):
    """Running the sweep again trains nothing: both runs resume finished, with the same numbers."""
    before = (swept.runs / "sweep-tones-augment.json").read_text()
    swept.main()
    assert (swept.runs / "sweep-tones-augment.json").read_text() == before


@pytest.mark.parametrize("text, message", [
    ("no-such-flag=1,2", "--no-such-flag is not a setting"), ("augment=light", "two values or more"),
    ("augment=light,loud", "choose from"), ("fresh=1,2", "--fresh is not a setting"),
    ("epochs-embed=1,x", "--epochs-embed"),
])
def test_a_bad_sweep_is_named(text, message, capsys):
    with pytest.raises(SystemExit):
        avtnet.parse_args(["--sweep", text])
    assert message in capsys.readouterr().err


def test_a_sweep_that_changes_the_split_is_refused_before_anything_trains(tmp_path):
    def config(protocol):
        args = avtnet.parse_args(["--protocol", protocol, "--output-dir", str(tmp_path)])
        return protocol, avtnet.experiment_config(args)

    with pytest.raises(ValueError, match="--sweep: --protocol paper changes the data or its split"):
        run_sweep("--protocol", [config("strict"), config("paper")], pytest.fail, "run")
    with pytest.raises(ValueError, match="would share a folder"):
        sweep_configs("--seed", [config("strict"), config("strict")])
