"""The robustness benchmark's degraded axis against hand computations of MultiBench's formulas, its refusals, and
the report and figures it writes from hand-made runs (no training)."""

import json

import numpy as np
import pytest

from avtfuse.evaluation.robustness_benchmark import benchmark_summary
from avtfuse.training.lineup import write_benchmark

SEVERITIES = [0, 1, 2, 3, 4, 5]
# (entry, seed) -> {(modality, corruption): accuracy per severity}
ACCURACY = {
    ("late", 0): {("audio", "noise"): [0.9, 0.8, 0.6, 0.5, 0.3, 0.2],
                  ("visible", "blur"): [0.9, 0.9, 0.8, 0.8, 0.7, 0.6]},
    ("late", 1): {("audio", "noise"): [0.8, 0.8, 0.7, 0.5, 0.4, 0.2],
                  ("visible", "blur"): [0.8, 0.8, 0.8, 0.7, 0.7, 0.5]},
    ("robust", 0): {("audio", "noise"): [0.85, 0.85, 0.8, 0.75, 0.7, 0.6],
                    ("visible", "blur"): [0.85, 0.8, 0.8, 0.7, 0.6, 0.5]},
    ("robust", 1): {("audio", "noise"): [0.8, 0.8, 0.75, 0.75, 0.65, 0.6],
                    ("visible", "blur"): [0.8, 0.75, 0.7, 0.7, 0.6, 0.4]},
}
# the verification protocol's EER, for the audio noise of every run
EER = {("late", 0): [0.1, 0.15, 0.2, 0.3, 0.35, 0.4], ("late", 1): [0.1, 0.1, 0.2, 0.25, 0.35, 0.45],
       ("robust", 0): [0.1, 0.1, 0.12, 0.15, 0.2, 0.25], ("robust", 1): [0.05, 0.1, 0.1, 0.15, 0.2, 0.2]}
KEYS = [("audio", "noise"), ("visible", "blur")]


def corruptions(entry, seed):
    curves = {}
    for (modality, name), accuracy in ACCURACY[entry, seed].items():
        eer = EER[entry, seed] if (modality, name) == ("audio", "noise") else None
        curves.setdefault(modality, {})[name] = {"accuracy": accuracy, "eer": eer}
    return {"severities": SEVERITIES, "samples": 40, "seed": seed, "curves": curves}


def cells():
    """Finished runs of two systems x two seeds: a rate axis of two rates, and two corruptions."""
    return [{"entry": entry, "seed": seed, "timing": {"training_seconds": 10.0, "latency": {"median_ms": 2.0}},
             "results": {"conditions": {"complete": {"accuracy": 0.8}}, "parameters": 1000,
                         "rate_sweep": {"rates": [0.0, 0.5], "metrics": {"WA": [0.8, 0.5 + 0.1 * seed]}},
                         "corruptions": corruptions(entry, seed)}}
            for entry, seed in ACCURACY]


def trapezoids(curve):
    """MultiBench's relative robustness helper, written out, with steps of 1/5 (severities 0..5 over [0, 1])."""
    return sum((curve[i] + curve[i + 1]) * 0.2 / 2 for i in range(len(curve) - 1))


def effective(f, g):
    """MultiBench's effective robustness helper, written out as a loop."""
    return sum(f[i] - (g[i] + f[0] - g[0]) for i in range(len(f)))


def test_relative_and_effective_robustness_per_corruption_and_their_totals():
    degraded = benchmark_summary(cells())["degraded"]
    assert degraded["severities"] == SEVERITIES and degraded["reference"] == "late"
    assert degraded["corruptions"] == {"audio": ["noise"], "visible": ["blur"]}
    relative = {(entry, key): [trapezoids(ACCURACY[entry, seed][key]) for seed in (0, 1)]
                for entry in ("late", "robust") for key in KEYS}
    gain = {(entry, key): [effective(ACCURACY[entry, seed][key], ACCURACY["late", seed][key]) for seed in (0, 1)]
            for entry in ("late", "robust") for key in KEYS}
    for (entry, (modality, name)), values in relative.items():
        scores = degraded["entries"][entry]["curves"][modality][name]["accuracy"]
        assert scores["relative_robustness"]["mean"] == pytest.approx(np.mean(values))
        assert scores["relative_robustness"]["std"] == pytest.approx(np.std(values, ddof=1))
        assert scores["effective_robustness"]["mean"] == pytest.approx(np.mean(gain[entry, (modality, name)]))
        curve = [ACCURACY[entry, seed][modality, name] for seed in (0, 1)]
        assert [point["mean"] for point in scores["curve"]] == pytest.approx(np.mean(curve, axis=0))
    noise = {entry: degraded["entries"][entry]["curves"]["audio"]["noise"]["accuracy"] for entry in ("late", "robust")}
    blur = {entry: degraded["entries"][entry]["curves"]["visible"]["blur"]["accuracy"] for entry in ("late", "robust")}
    # robust keeps more under noise, late under blur: each is 1 on one corruption and 0 on the other
    assert np.mean(relative["robust", KEYS[0]]) > np.mean(relative["late", KEYS[0]])
    assert (noise["robust"]["relative_normalized"], noise["late"]["relative_normalized"]) == (1.0, 0.0)
    assert (blur["robust"]["relative_normalized"], blur["late"]["relative_normalized"]) == (0.0, 1.0)
    assert noise["robust"]["effective_normalized"] == 1.0 and blur["robust"]["effective_normalized"] == 0.0
    overall = degraded["entries"]["robust"]["overall"]
    per_seed = np.mean([relative["robust", key] for key in KEYS], axis=0)
    assert overall["relative_robustness"]["mean"] == pytest.approx(per_seed.mean())
    assert overall["relative_robustness"]["std"] == pytest.approx(np.std(per_seed, ddof=1))
    assert overall["effective_robustness"]["mean"] == pytest.approx(np.mean([gain["robust", key] for key in KEYS]))
    assert overall["relative_normalized"] == pytest.approx(0.5) and overall["curves"] == 2
    assert degraded["entries"]["robust"]["modalities"]["audio"]["relative_robustness"]["mean"] == pytest.approx(
        np.mean(relative["robust", KEYS[0]]))
    # EER where the runs have one, None elsewhere
    eer = degraded["entries"]["robust"]["curves"]["audio"]["noise"]["eer"]
    assert eer["curve"][5]["mean"] == pytest.approx(0.225)
    assert eer["relative_robustness"]["mean"] == pytest.approx(np.mean([trapezoids(EER["robust", s]) for s in (0, 1)]))
    assert eer["effective_robustness"]["mean"] == pytest.approx(
        np.mean([effective(EER["robust", s], EER["late", s]) for s in (0, 1)]))
    assert degraded["entries"]["robust"]["curves"]["visible"]["blur"]["eer"] is None


def test_runs_that_disagree_are_refused_naming_the_entry():
    other = cells()
    other[3]["results"]["corruptions"]["curves"]["visible"]["jpeg"] = {"accuracy": [0.5] * 6, "eer": None}
    with pytest.raises(ValueError, match="robust seed 1 has corruptions audio/noise,visible/blur,visible/jpeg, "
                                         "late seed 0 has audio/noise,visible/blur"):
        benchmark_summary(other)
    other = cells()
    other[2]["results"]["corruptions"]["severities"] = [0, 1, 3, 5]
    with pytest.raises(ValueError, match=r"robust seed 0 has severities \[0, 1, 3, 5\]"):
        benchmark_summary(other)
    other = cells()
    del other[1]["results"]["corruptions"]
    with pytest.raises(ValueError, match="late seed 1 was not evaluated under corruptions"):
        benchmark_summary(other)
    other = cells()
    other[2]["results"]["corruptions"]["curves"]["audio"]["noise"]["accuracy"] = [0.8] * 5
    with pytest.raises(ValueError, match="robust seed 0: audio/noise accuracy has 5 values for 6 severities"):
        benchmark_summary(other)
    empty = cells()
    for cell in empty:
        cell["results"]["corruptions"]["curves"] = {}
    with pytest.raises(ValueError, match="late seed 0 has no corruption curve"):
        benchmark_summary(empty)
    clean = cells()
    for cell in clean:
        del cell["results"]["corruptions"]
    assert benchmark_summary(clean)["degraded"] is None


def test_the_report_and_a_figure_per_modality(tmp_path):
    markdown = write_benchmark(cells(), tmp_path)
    assert markdown == (tmp_path / "report.md").read_text()
    for modality in ("audio", "visible"):
        assert (tmp_path / f"degraded-{modality}.png").read_bytes()[:4] == b"\x89PNG"
        assert f"### {modality} corrupted, the other sensors clean" in markdown
    assert not (tmp_path / "degraded-thermal.png").exists()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["degraded"]["entries"]["robust"]["overall"]["curves"] == 2
    robust = [ACCURACY["robust", seed]["audio", "noise"] for seed in (0, 1)]
    for severity in (3, 5):  # the table's severities, mean ± sample std in percent
        values = [curve[severity] for curve in robust]
        assert f"| noise | {severity} | " in markdown
        assert f"{100 * np.mean(values):.2f} ± {100 * np.std(values, ddof=1):.2f}" in markdown
    assert "EER (%, lower is better)" in markdown  # the audio noise has EERs
    assert "| robust | 1.00 / 1.00 |" in markdown  # the normalised pair of the noise column
    assert "### Robustness over every corruption (the mean over 2 curves)" in markdown
