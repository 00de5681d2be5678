"""Tests for avtfuse.evaluation.robustness against sklearn on small hand-made sweeps."""

import numpy as np
import pytest
from sklearn import metrics as sk_metrics

from avtfuse.evaluation.robustness import rate_sweep_markdown, rate_sweep_summary

LABELS = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])
PREDICTED = {  # worse as the rate grows
    0.0: np.array([0, 0, 0, 1, 1, 2, 2, 2, 1, 3]),
    0.5: np.array([0, 0, 2, 1, 0, 2, 2, 1, 1, 3]),
    0.9: np.array([0, 2, 2, 0, 0, 2, 1, 1, 1, 2]),
}


def sklearn_scores(y_true, y_pred):
    return {
        "UA": sk_metrics.balanced_accuracy_score(y_true, y_pred),
        "WA": sk_metrics.accuracy_score(y_true, y_pred),
        "UF1": sk_metrics.f1_score(y_true, y_pred, average="macro", zero_division=0),
        "WF1": sk_metrics.f1_score(y_true, y_pred, average="weighted", zero_division=0),
    }


def test_summary_matches_sklearn_and_trapezoid():
    rates = [0.9, 0.0, 0.5]  # any order; the summary sorts
    summary = rate_sweep_summary(rates, [LABELS] * 3, [PREDICTED[r] for r in rates])
    assert summary["rates"] == [0.0, 0.5, 0.9]
    expected = {r: sklearn_scores(LABELS, PREDICTED[r]) for r in (0.0, 0.5, 0.9)}
    for metric in ("UA", "UF1", "WA", "WF1"):
        curve = [expected[r][metric] for r in (0.0, 0.5, 0.9)]
        np.testing.assert_allclose(summary["metrics"][metric], curve, atol=1e-12)
        area = 0.5 * (curve[0] + curve[1]) / 2 + 0.4 * (curve[1] + curve[2]) / 2
        assert summary["auilc_paper"][metric] == pytest.approx(area, abs=1e-12)
        assert summary["auilc"][metric] == pytest.approx(area / 0.9, abs=1e-12)
        assert summary["drop"][metric] == pytest.approx(curve[0] - curve[2], abs=1e-12)
    assert summary["drop"]["UA"] > 0


def test_scores_are_reduced_with_argmax_and_sizes_may_differ_per_rate():
    scores = np.eye(4)[PREDICTED[0.5]] + 0.01
    summary = rate_sweep_summary([0.0, 0.5], [LABELS, LABELS[:6]], [PREDICTED[0.0], scores[:6]])
    assert summary["metrics"]["WA"][1] == pytest.approx(sk_metrics.accuracy_score(LABELS[:6], PREDICTED[0.5][:6]))


def test_constant_curve_auilc_both_ways():
    rates = np.round(np.arange(10) * 0.1, 1)
    summary = rate_sweep_summary(rates, [LABELS] * 10, [PREDICTED[0.0]] * 10)
    ua = sk_metrics.balanced_accuracy_score(LABELS, PREDICTED[0.0])
    assert summary["auilc"]["UA"] == pytest.approx(ua, abs=1e-12)
    assert summary["auilc_paper"]["UA"] == pytest.approx(0.9 * ua, abs=1e-12)
    assert summary["drop"]["UA"] == 0.0


def test_markdown_lists_rates_then_auilc_both_ways():
    summary = rate_sweep_summary([0.0, 0.5, 0.9], [LABELS] * 3, [PREDICTED[r] for r in (0.0, 0.5, 0.9)])
    text = rate_sweep_markdown(summary, title="MCT-HFR, fold-global")
    lines = text.splitlines()
    assert lines[0] == "### MCT-HFR, fold-global"
    assert lines[2] == "| missing rate | UA (%) | UF1 (%) | WA (%) | WF1 (%) |"
    assert [line.split(" | ")[0] for line in lines[4:7]] == ["| 0", "| 0.5", "| 0.9"]
    assert f"| {100 * summary['metrics']['UA'][0]:.2f} |" in lines[4]
    assert lines[7].startswith("| AUILC (mean height over 0-0.9) | " + f"{100 * summary['auilc']['UA']:.2f}")
    assert lines[8].startswith("| AUILC (paper, un-normalised = mean height x 0.9 over 0-0.9) | "
                               + f"{100 * summary['auilc_paper']['UA']:.2f}")
    assert lines[9].startswith("| drop (0 -> 0.9) | " + f"{100 * summary['drop']['UA']:.2f}")
    assert text.endswith("|\n") and not rate_sweep_markdown(summary).startswith("###")


@pytest.mark.parametrize(
    "rates, labels, predicted, argument",
    [
        ([0.0], [LABELS], [LABELS], "rates"),
        ([0.0, 0.0], [LABELS] * 2, [LABELS] * 2, "rates"),
        ([0.0, 0.5], [LABELS], [LABELS] * 2, "labels_per_rate"),
        ([0.0, 0.5], [LABELS] * 2, [LABELS] * 3, "predicted_per_rate"),
        ([0.0, 0.5], [LABELS] * 2, [LABELS, LABELS[:3]], "predicted_per_rate"),
    ],
)
def test_summary_errors_name_the_argument(rates, labels, predicted, argument):
    with pytest.raises(ValueError, match=argument):
        rate_sweep_summary(rates, labels, predicted)


def test_markdown_refuses_other_dicts():
    with pytest.raises(ValueError, match="summary"):
        rate_sweep_markdown({"rates": [0.0, 0.5]})
