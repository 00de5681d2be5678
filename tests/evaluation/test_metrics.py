"""Tests for avtfuse.evaluation.metrics against explicit NumPy loops."""

import numpy as np
import pytest

from avtfuse.evaluation.metrics import auilc, classification_metrics


def reference_metrics(y_true, y_pred):
    """WA, UA, WF1, UF1 computed class by class."""
    classes_true = sorted(set(y_true.tolist()))
    classes_any = sorted(set(y_true.tolist()) | set(y_pred.tolist()))
    recalls, f1s, supports = {}, {}, {}
    for c in classes_any:
        tp = np.sum((y_true == c) & (y_pred == c))
        fp = np.sum((y_true != c) & (y_pred == c))
        fn = np.sum((y_true == c) & (y_pred != c))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        recalls[c] = recall
        f1s[c] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        supports[c] = np.sum(y_true == c)
    return {
        "WA": np.mean(y_true == y_pred),
        "UA": np.mean([recalls[c] for c in classes_true]),
        "WF1": sum(f1s[c] * supports[c] for c in classes_any) / len(y_true),
        "UF1": np.mean([f1s[c] for c in classes_any]),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classification_metrics_match_loops(seed):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 4, size=40)
    y_pred = np.where(rng.random(40) < 0.5, y_true, rng.integers(0, 5, size=40))  # class 4 never true
    got = classification_metrics(y_true, y_pred)
    want = reference_metrics(y_true, y_pred)
    assert set(got) == {"WA", "UA", "WF1", "UF1"}
    for key in want:
        assert isinstance(got[key], float)
        assert got[key] == pytest.approx(want[key], abs=1e-12), key


def test_classification_metrics_accepts_scores():
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 3, size=20)
    scores = rng.random((20, 3))
    assert classification_metrics(y_true, scores) == classification_metrics(y_true, scores.argmax(axis=1))


def test_classification_metrics_errors():
    with pytest.raises(ValueError, match="y_true"):
        classification_metrics([], [])
    with pytest.raises(ValueError, match="y_pred"):
        classification_metrics([0, 1, 2], [0, 1])


def test_auilc_matches_hand_trapezoid():
    rates = [0.0, 0.1, 0.2, 0.4, 0.9]
    scores = [0.95, 0.9, 0.7, 0.65, 0.3]
    area = sum((rates[i + 1] - rates[i]) * (scores[i] + scores[i + 1]) / 2 for i in range(len(rates) - 1))
    assert auilc(rates, scores) == pytest.approx(area / (rates[-1] - rates[0]), abs=1e-12)
    # Order of the points does not matter.
    assert auilc(rates[::-1], scores[::-1]) == pytest.approx(auilc(rates, scores), abs=1e-12)


def test_auilc_of_flat_curve_is_its_height():
    assert auilc(np.linspace(0.0, 0.9, 10), np.full(10, 0.8)) == pytest.approx(0.8)


def test_auilc_unnormalised_of_flat_curve_is_span_times_height():
    rates = np.linspace(0.0, 0.9, 10)
    assert auilc(rates, np.full(10, 0.8), normalize=False) == pytest.approx(0.72, abs=1e-12)
    assert auilc(rates, np.full(10, 0.8), normalize=True) == pytest.approx(0.8, abs=1e-12)


def test_auilc_unnormalised_matches_hand_trapezoid_and_public_code():
    rates = [0.0, 0.1, 0.2, 0.4, 0.9]
    scores = [0.95, 0.9, 0.7, 0.65, 0.3]
    area = sum((rates[i + 1] - rates[i]) * (scores[i] + scores[i + 1]) / 2 for i in range(len(rates) - 1))
    assert auilc(rates, scores, normalize=False) == pytest.approx(area, abs=1e-12)
    assert auilc(rates, scores, normalize=False) == pytest.approx(0.9 * auilc(rates, scores), abs=1e-12)
    # MCT-HFR src/test.py cal_AUILC over rates 0.0..0.9: (sum s[:-1] + sum s[1:]) * 0.1 / 2.
    curve = np.random.default_rng(0).random(10)
    code = (curve[:-1].sum() + curve[1:].sum()) * 0.1 / 2
    assert auilc(np.round(np.arange(10) * 0.1, 1), curve, normalize=False) == pytest.approx(code, abs=1e-12)


@pytest.mark.parametrize(
    "rates, scores, argument",
    [([0.0], [1.0], "missing_rates"), ([0.0, 0.5], [1.0], "scores"), ([0.1, 0.1], [1.0, 0.5], "missing_rates")],
)
def test_auilc_errors(rates, scores, argument):
    with pytest.raises(ValueError, match=argument):
        auilc(rates, scores)
