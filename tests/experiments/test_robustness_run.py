"""A tiny run of `python -m experiments.robustness`: two systems, one seed, two rates, on a tiny RAVDESS tree (the
registry's robustness entry: tests/registry.py)."""

import json

import numpy as np
import pytest

from avtfuse.evaluation.metrics import auilc
from experiments import robustness
from tests.registry import ROBUSTNESS_CORRUPTIONS, ROBUSTNESS_SYSTEMS as SYSTEMS
from tests.registry import robustness_argv


@pytest.fixture(scope="module")
def benchmark(registry):
    folder = registry.build("robustness")
    return folder / "bench", robustness_argv(registry, folder)


def test_every_system_runs_on_one_split_and_the_report_gathers_them(benchmark):
    bench, _ = benchmark
    summary = json.loads((bench / "summary.json").read_text())
    assert list(summary["entries"]) == SYSTEMS.split(",") and summary["reference"] == "sa_fusion-none"
    subsets = {"complete", "missing_audio", "missing_visible", "missing_thermal", "only_audio", "only_visible",
               "only_thermal"}
    for system in SYSTEMS.split(","):
        results = json.loads((bench / "runs" / f"{system}-seed0" / "results.json").read_text())
        assert (results["protocol"], results["fold"], results["modalities"]) == (
            "folds", 1, ["audio", "visible", "thermal"])
        assert subsets <= set(results["conditions"])  # every non-empty subset tested
        assert all(results["conditions"][name]["count"] == 8 for name in subsets)
        entry = summary["entries"][system]
        assert entry["conditions"]["complete"]["mean"] == results["conditions"]["complete"]["accuracy"]
        curve = results["rate_sweep"]["metrics"]["WA"]
        assert [point["mean"] for point in entry["curve"]] == curve
        assert entry["auilc_paper"]["mean"] == pytest.approx(auilc([0.0, 0.5], curve, normalize=False))
        assert entry["parameters"]["mean"] == results["parameters"] > 1000
        timing = json.loads((bench / "runs" / f"{system}-seed0" / "timing.json").read_text())
        assert entry["latency_ms"]["mean"] == timing["latency"]["median_ms"] > 0
        assert entry["training_seconds"]["mean"] == timing["training_seconds"] <= timing["seconds"]
        realised = results["rate_sweep"]["realised"]
        assert all(share == 0 for share in realised["0.0"].values())
        assert set(realised["0.5"]) == {"audio", "visible", "thermal"}
        assert 0.3 < realised["0.5"]["audio"] < 0.7
    realised = [json.loads((bench / "runs" / f"{system}-seed0" / "results.json").read_text())["rate_sweep"]["realised"]
                for system in SYSTEMS.split(",")]
    assert realised[0] == realised[1]  # the same static masks for every system
    report = (bench / "report.md").read_text()
    assert "## Cost" in report and "effective robustness" in report and (bench / "robustness.png").stat().st_size


def test_the_degraded_axis_gathers_every_runs_corrupted_curves(benchmark):
    """--corruptions: each run's corrupted curves (the same corrupted inputs for both systems) summarised per
    corruption against hand computations of MultiBench's relative (trapezoids over severity / 5) and effective
    robustness, one figure per modality and its report sections."""
    bench, _ = benchmark
    summary = json.loads((bench / "summary.json").read_text())
    degraded = summary["degraded"]
    chosen = [key.split("/") for key in ROBUSTNESS_CORRUPTIONS.split(",")]
    assert degraded["corruptions"] == {**{m: [name] for m, name in chosen}, "all": ["every-sensor"]}
    runs = {system: json.loads((bench / "runs" / f"{system}-seed0" / "results.json").read_text())["corruptions"]
            for system in SYSTEMS.split(",")}
    reference = runs[degraded["reference"]]["curves"]
    levels = np.arange(6) / 5
    for system, section in runs.items():
        assert section["severities"] == [0, 1, 2, 3, 4, 5] and section["samples"] == 8
        for modality, names in degraded["corruptions"].items():
            for name in names:
                curve = section["curves"][modality][name]["accuracy"]
                scores = degraded["entries"][system]["curves"][modality][name]["accuracy"]
                assert [point["mean"] for point in scores["curve"]] == curve
                area = sum((levels[i + 1] - levels[i]) * (curve[i] + curve[i + 1]) / 2 for i in range(5))
                assert scores["relative_robustness"]["mean"] == pytest.approx(area)
                moved = np.array(reference[modality][name]["accuracy"])
                moved += curve[0] - moved[0]
                assert scores["effective_robustness"]["mean"] == pytest.approx(float(np.sum(curve - moved)))
    for modality in degraded["corruptions"]:
        assert (bench / f"degraded-{modality}.png").stat().st_size > 0
    report = (bench / "report.md").read_text()
    assert "### audio corrupted, the other sensors clean" in report
    assert "### Robustness over every corruption" in report


def test_a_second_call_reads_the_finished_runs_back(benchmark, capsys):
    bench, argv = benchmark
    before = (bench / "summary.json").read_text()
    robustness.main(argv)
    out = capsys.readouterr().out
    assert out.count("(finished earlier)") == 2
    assert (bench / "summary.json").read_text() == before


def test_flags_the_benchmark_sets_itself_are_refused(capsys):
    with pytest.raises(SystemExit):
        robustness.parse_args(["--", "--seed", "3"])
    assert "--seed: set by this command" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        robustness.parse_args(["--systems", "avtnet", "--reference", "mct"])
    args, passthrough = robustness.parse_args(["--systems", "mct,sa_fusion", "--", "--gpus", "0"])
    flags = robustness.run_argv(args, "mct", 2, passthrough)
    assert flags[:2] == ["--variant", "mct"] and flags[-2:] == ["--gpus", "0"]
    assert flags[flags.index("--seed") + 1] == "2" and flags[flags.index("--run-name") + 1] == "mct-seed2"
    with pytest.raises(SystemExit):
        robustness.parse_args(["--", "--single-sensor", "best"])
    assert "--single-sensor: set by this command" in capsys.readouterr().err


def test_the_late_fusion_entry_serves_the_specialists_confidence_weighted():
    from experiments import sa_fusion

    args, passthrough = robustness.parse_args(["--systems", "sa_fusion-late", "--seeds", "0"])
    config = sa_fusion.experiment_config(sa_fusion.parse_args(robustness.run_argv(args, "sa_fusion-late", 0,
                                                                                  passthrough)))
    assert (config.single_sensor, config.trains_specialists, config.train.modality_dropout) == ("confidence", True, 0)


def test_corruptions_are_checked_when_parsed_and_go_to_every_run(capsys):
    from pipelines.corruptions import CORRUPTIONS

    args, passthrough = robustness.parse_args(["--systems", "mct", "--corruptions",
                                               "visible/jpeg,audio/noise,visible/jpeg"])
    flags = robustness.run_argv(args, "mct", 0, passthrough)
    assert flags[flags.index("--corruptions") + 1] == "audio/noise,visible/jpeg"  # the table's order
    keys = tuple(f"{modality}/{name}" for modality, name in CORRUPTIONS)
    assert robustness.parse_args(["--corruptions", "all"])[0].corruptions == keys
    for chosen in (["--corruptions", "none"], []):  # none by default
        args, passthrough = robustness.parse_args(chosen)
        assert "--corruptions" not in robustness.run_argv(args, "mct", 0, passthrough)
    with pytest.raises(SystemExit):
        robustness.parse_args(["--corruptions", "thermal/blur,all"])
    assert "--corruptions: unknown corruption 'all'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        robustness.parse_args(["--corruptions", "audio/hum"])
    error = capsys.readouterr().err.splitlines()[-1]
    assert "--corruptions: unknown corruption 'audio/hum': use all, none or modality/name keys" in error
    assert all(key in error for key in keys)
    with pytest.raises(SystemExit):
        robustness.parse_args(["--", "--corruptions", "all"])
    assert "--corruptions: set by this command" in capsys.readouterr().err
