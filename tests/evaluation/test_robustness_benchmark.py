"""The cross-system robustness summary against NumPy references of MultiBench's formulas."""

import numpy as np
import pytest

from avtfuse.evaluation.robustness_benchmark import (
    benchmark_markdown,
    benchmark_summary,
    effective_robustness,
    max_min_normalize,
    mean_curves,
    relative_robustness,
)

RATES = [0.0, 0.3, 0.6, 0.9]


def results(curve, complete, parameters=1000):
    return {"conditions": {"complete": {"accuracy": complete}, "only_audio": {"accuracy": complete / 2}},
            "rate_sweep": {"rates": RATES, "metrics": {"WA": list(curve), "UA": list(curve)[::-1]}},
            "parameters": parameters}


def timing(seconds=10.0, latency=2.0):
    return {"seconds": seconds + 5, "training_seconds": seconds, "latency": {"median_ms": latency}}


def multibench_effective(f, g):
    """eval_scripts/robustness.py's effective_robustness_helper, written out as a loop."""
    total = 0.0
    for i in range(len(f)):
        total += f[i] - (g[i] + (f[0] - g[0]))
    return total


CURVES = {
    ("late", 0): [0.9, 0.7, 0.5, 0.3], ("late", 1): [0.8, 0.6, 0.5, 0.2],
    ("robust", 0): [0.8, 0.78, 0.75, 0.7], ("robust", 1): [0.85, 0.8, 0.7, 0.6],
    ("weak", 0): [0.5, 0.3, 0.2, 0.1], ("weak", 1): [0.6, 0.2, 0.1, 0.1],
}


def cells():
    return [{"entry": entry, "seed": seed, "results": results(curve, curve[0]), "timing": timing(latency=1.0 + seed)}
            for (entry, seed), curve in CURVES.items()]


def test_relative_and_effective_robustness_follow_multibench():
    f, g = [0.8, 0.78, 0.75, 0.7], [0.9, 0.7, 0.5, 0.3]
    assert relative_robustness(RATES, f) == pytest.approx(np.trapz(f, RATES))
    assert effective_robustness(f, g) == pytest.approx(multibench_effective(f, g))
    assert effective_robustness(g, g) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="same levels"):
        effective_robustness(f, g[:3])


def test_max_min_normalisation():
    assert max_min_normalize({"a": 2.0, "b": 4.0, "c": 3.0}) == {"a": 0.0, "b": 1.0, "c": 0.5}
    assert max_min_normalize({"a": 1.0, "b": 1.0}) == {"a": None, "b": None}
    assert max_min_normalize({"a": None, "b": 1.0, "c": 3.0}) == {"a": None, "b": 0.0, "c": 1.0}


def test_summary_means_and_spreads_over_seeds():
    summary = benchmark_summary(cells(), metric="WA")
    assert summary["reference"] == "late" and summary["seeds"] == [0, 1] and summary["rates"] == RATES
    robust = summary["entries"]["robust"]
    for index in range(4):
        values = [CURVES[("robust", seed)][index] for seed in (0, 1)]
        assert robust["curve"][index]["mean"] == pytest.approx(np.mean(values))
        assert robust["curve"][index]["std"] == pytest.approx(np.std(values, ddof=1))
    effective = [multibench_effective(CURVES[("robust", s)], CURVES[("late", s)]) for s in (0, 1)]
    assert robust["effective_robustness"]["mean"] == pytest.approx(np.mean(effective))
    assert summary["entries"]["late"]["effective_robustness"]["mean"] == pytest.approx(0.0, abs=1e-12)
    areas = {entry: np.mean([np.trapz(CURVES[(entry, s)], RATES) for s in (0, 1)]) for entry in ("late", "robust",
                                                                                               "weak")}
    assert robust["relative_robustness"]["mean"] == pytest.approx(areas["robust"])
    assert robust["auilc"]["mean"] == pytest.approx(areas["robust"] / 0.9)
    low, high = min(areas.values()), max(areas.values())
    assert robust["relative_normalized"] == pytest.approx((areas["robust"] - low) / (high - low))
    assert summary["entries"]["weak"]["relative_normalized"] == 0.0
    assert robust["conditions"]["only_audio"]["mean"] == pytest.approx(np.mean([0.4, 0.425]))
    assert robust["latency_ms"] == {"mean": 1.5, "std": pytest.approx(np.std([1.0, 2.0], ddof=1)), "n": 2}
    # another metric and reference
    by_ua = benchmark_summary(cells(), metric="UA", reference="weak")
    assert by_ua["entries"]["robust"]["curve"][0]["mean"] == pytest.approx(np.mean([0.7, 0.6]))
    assert by_ua["entries"]["weak"]["effective_robustness"]["mean"] == pytest.approx(0.0, abs=1e-12)


def test_summary_refuses_unequal_cells():
    broken = cells()[:-1]
    with pytest.raises(ValueError, match="weak has seeds"):
        benchmark_summary(broken)
    other = cells()
    other[-1]["results"]["rate_sweep"]["rates"] = [0.0, 0.5]
    with pytest.raises(ValueError, match="not swept"):
        benchmark_summary(other)
    with pytest.raises(ValueError, match="reference"):
        benchmark_summary(cells(), reference="nobody")
    with pytest.raises(ValueError, match="metric"):
        benchmark_summary(cells(), metric="AUC")


def test_markdown_and_mean_curves():
    summary = benchmark_summary(cells())
    text = benchmark_markdown(summary, setup="Data: x. ")
    for heading in ("## Accuracy per condition", "## WA against the share of steps missing", "## Robustness over",
                    "## Cost"):
        assert heading in text
    assert f"{100 * np.mean([0.8, 0.85]):.2f} ± {100 * np.std([0.8, 0.85], ddof=1):.2f}" in text
    # the reference's own effective robustness is a rounding residue (here -1e-16), printed as 0
    curve = [0.4666666666666667, 0.26666666666666666, 0.26666666666666666, 0.21666666666666667]
    alone = benchmark_summary([{"entry": "e2e", "seed": 0, "results": results(curve, curve[0]), "timing": timing()}])
    assert alone["entries"]["e2e"]["effective_robustness"]["mean"] < 0
    assert "-0.00" not in benchmark_markdown(alone)
    curves = mean_curves(summary)
    assert curves["weak"]["metrics"]["WA"] == pytest.approx([0.55, 0.25, 0.15, 0.1])
    assert curves["weak"]["auilc_paper"]["WA"] == pytest.approx(summary["entries"]["weak"]["auilc_paper"]["mean"])


def test_a_run_without_latency_leaves_its_entry_not_measured():
    unmeasured = cells()
    unmeasured[0]["timing"] = {**timing(), "latency": None}  # --no-latency, or no complete test sample
    summary = benchmark_summary(unmeasured)
    assert summary["entries"]["late"]["latency_ms"] is None
    assert summary["entries"]["robust"]["latency_ms"]["n"] == 2
    assert "not measured" in benchmark_markdown(summary)
