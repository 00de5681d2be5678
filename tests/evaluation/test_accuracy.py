"""Tests for avtfuse.evaluation.accuracy against a plain NumPy loop over rows."""

import numpy as np
import pytest

from avtfuse.evaluation.accuracy import TABLE1_CONDITIONS, headline_rows, per_condition_accuracy
from avtfuse.contract import MODALITIES

# Presence rows and the name each should get, written out by hand.
TRIMODAL_ROWS = {
    (1, 1, 1): "complete",
    (0, 1, 1): "missing_audio",
    (1, 0, 1): "missing_visible",
    (1, 1, 0): "missing_thermal",
    (1, 0, 0): "only_audio",
    (0, 1, 0): "only_visible",
    (0, 0, 1): "only_thermal",
}


def reference_accuracy(y_true, y_pred, present):
    """Per-condition accuracy by looping over rows one at a time."""
    hits, counts = {}, {}
    for truth, guess, row in zip(y_true, y_pred, present):
        name = TRIMODAL_ROWS[tuple(int(v) for v in row)]
        counts[name] = counts.get(name, 0) + 1
        hits[name] = hits.get(name, 0) + int(truth == guess)
    return {name: (hits[name] / counts[name], counts[name]) for name in counts}


def random_trimodal(rng, n, rows):
    present = np.array([rows[i] for i in rng.integers(0, len(rows), size=n)], dtype=np.float32)
    y_true = rng.integers(0, 5, size=n)
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, 5, size=n))
    return y_true, y_pred, present


def test_matches_row_loop_and_average():
    rng = np.random.default_rng(0)
    y_true, y_pred, present = random_trimodal(rng, 200, list(TRIMODAL_ROWS))
    results = per_condition_accuracy(y_true, y_pred, present, MODALITIES)
    expected = reference_accuracy(y_true, y_pred, present)

    assert set(results) == set(expected) | {"average"}
    for name, (accuracy, count) in expected.items():
        assert results[name]["count"] == count
        assert results[name]["accuracy"] == pytest.approx(accuracy, abs=1e-12)
    table1 = [expected[name][0] for name in TABLE1_CONDITIONS]
    assert results["average"]["accuracy"] == pytest.approx(np.mean(table1), abs=1e-12)
    assert results["average"]["count"] == sum(expected[name][1] for name in TABLE1_CONDITIONS)
    assert results["average"]["conditions"] == list(TABLE1_CONDITIONS)
    # Report order: Table 1 in paper order, then only_* in canonical order, average last.
    assert list(results) == list(TABLE1_CONDITIONS) + ["only_audio", "only_visible", "only_thermal", "average"]


def test_average_uses_only_table1_conditions_present():
    rng = np.random.default_rng(1)
    rows = [(1, 1, 1), (1, 1, 0), (0, 0, 1)]
    y_true, y_pred, present = random_trimodal(rng, 60, rows)
    results = per_condition_accuracy(y_true, y_pred, present, MODALITIES)
    expected = reference_accuracy(y_true, y_pred, present)
    assert set(results) == {"complete", "missing_thermal", "only_thermal", "average"}
    assert results["average"]["accuracy"] == pytest.approx(
        (expected["complete"][0] + expected["missing_thermal"][0]) / 2, abs=1e-12
    )


def test_scores_are_reduced_with_argmax():
    rng = np.random.default_rng(2)
    y_true, y_pred, present = random_trimodal(rng, 50, list(TRIMODAL_ROWS))
    scores = rng.random((50, 5))
    scores[np.arange(50), y_pred] += 2.0
    assert per_condition_accuracy(y_true, scores, present, MODALITIES) == per_condition_accuracy(
        y_true, y_pred, present, MODALITIES
    )


def test_bimodal_run_names_and_average():
    y_true = np.array([0, 1, 2, 0, 1, 2])
    y_pred = np.array([0, 1, 0, 0, 2, 2])
    present = np.array([[1, 1], [1, 1], [1, 0], [1, 0], [0, 1], [0, 1]])
    results = per_condition_accuracy(y_true, y_pred, present, ("audio", "thermal"))
    assert list(results) == ["complete", "only_audio", "only_thermal", "average"]
    assert results["complete"]["accuracy"] == 1.0
    assert results["only_audio"]["accuracy"] == 0.5
    assert results["only_thermal"]["accuracy"] == 0.5
    assert results["average"]["accuracy"] == pytest.approx(2.0 / 3.0)


def test_headline_rows_leave_out_single_modality_copies_of_a_trimodal_run():
    present = np.array([[1, 1, 1], [0, 1, 1], [1, 0, 0], [0, 0, 1], [1, 1, 0]])
    np.testing.assert_array_equal(headline_rows(present, MODALITIES), [True, True, False, False, True])
    # In a bimodal run the single-modality views are the headline conditions.
    np.testing.assert_array_equal(headline_rows(present[:, :2], ("audio", "visible")), [True, True, True, False, True])


@pytest.mark.parametrize(
    "y_true, y_pred, present, modalities, argument",
    [
        ([], [], np.zeros((0, 3)), MODALITIES, "y_true"),
        ([0, 1], [0], np.ones((2, 3)), MODALITIES, "y_pred"),
        ([0, 1], [0, 1], np.ones((3, 3)), MODALITIES, "present"),
        ([0, 1], [0, 1], np.ones((2, 2)), MODALITIES, "present"),
        ([0, 1], [0, 1], np.ones((2, 2)), ("thermal", "audio"), "modalities"),
    ],
)
def test_bad_inputs_name_the_argument(y_true, y_pred, present, modalities, argument):
    with pytest.raises(ValueError, match=argument):
        per_condition_accuracy(y_true, y_pred, present, modalities)
