"""Tests for avtfuse.evaluation.report."""

import json

import numpy as np
import pytest

from avtfuse.evaluation.accuracy import TABLE1_CONDITIONS, per_condition_accuracy
from avtfuse.evaluation.report import json_safe, markdown_table, write_results
from avtfuse.contract import MODALITIES


def table_rows(markdown):
    """Cells of every table row in a markdown text, keyed by the first cell."""
    rows = {}
    for line in markdown.splitlines():
        if line.startswith("| "):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def test_markdown_table_layout():
    rows = [{"name": "a", "score": 0.123456, "n": 3}, {"name": "b|c", "n": 4, "extra": "x"}]
    text = markdown_table(rows, headers={"score": "Score"})
    lines = text.splitlines()
    assert lines[0] == "| name | Score | n | extra |"
    assert lines[1] == "|---|---:|---:|---|"
    assert lines[2] == "| a | 0.12 | 3 |  |"
    assert lines[3] == "| b\\|c |  | 4 | x |"
    assert markdown_table(rows, columns=["n"], float_format="{:.1f}").splitlines()[2] == "| 3 |"
    with pytest.raises(ValueError, match="rows"):
        markdown_table([])


def test_json_safe_converts_numpy_and_non_finite():
    value = {"a": np.float32(0.5), 3: np.arange(3), "t": (np.int64(2), float("nan")), "b": np.bool_(True)}
    assert json_safe(value) == {"a": 0.5, "3": [0, 1, 2], "t": [2, None], "b": True}


def test_write_results_files(tmp_path):
    rng = np.random.default_rng(0)
    rows = [(1, 1, 1), (0, 1, 1), (1, 0, 1), (1, 1, 0), (1, 0, 0), (0, 0, 1)]
    present = np.array([rows[i] for i in rng.integers(0, len(rows), size=120)])
    y_true = rng.integers(0, 4, size=120)
    y_pred = np.where(rng.random(120) < 0.7, y_true, rng.integers(0, 4, size=120))
    conditions = per_condition_accuracy(y_true, y_pred, present, MODALITIES)
    results = {"conditions": conditions, "metrics": {"WA": np.float64(0.75)}, "protocol": "strict"}

    json_path, markdown_path = write_results(results, tmp_path / "run")
    assert json.loads(json_path.read_text()) == json_safe(results)

    markdown = markdown_path.read_text()
    table = table_rows(markdown)
    expected_order = list(TABLE1_CONDITIONS) + ["only_audio", "only_thermal", "average"]
    body = [name for name in table if name in conditions]
    assert body == expected_order
    for name in expected_order:
        # Accuracy in percent to two decimals, then the sample count.
        assert table[name] == [f"{100 * conditions[name]['accuracy']:.2f}", str(conditions[name]["count"])]
    mean = np.mean([conditions[name]["accuracy"] for name in TABLE1_CONDITIONS])
    assert table["average"][0] == f"{100 * mean:.2f}"
    assert table["WA"] == ["0.7500"]
    assert table["protocol"] == ["strict"]


def test_write_results_accepts_bare_conditions(tmp_path):
    conditions = per_condition_accuracy([0, 1, 1], [0, 1, 0], [[1, 1], [1, 1], [1, 0]], ("audio", "visible"))
    _, markdown_path = write_results(conditions, tmp_path)
    table = table_rows(markdown_path.read_text())
    assert table["complete"] == ["100.00", "2"]
    assert table["only_audio"] == ["0.00", "1"]
    assert table["average"] == ["50.00", "3"]


def test_write_results_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="results"):
        write_results({}, tmp_path)
    with pytest.raises(ValueError, match="results"):
        write_results({"complete": {"count": 3}}, tmp_path)


def test_the_reference_stands_beside_its_condition_with_the_margin(tmp_path):
    conditions = {"complete": {"accuracy": 0.9, "count": 10}, "only_audio": {"accuracy": 0.6, "count": 10},
                  "only_visible": {"accuracy": 0.8, "count": 10}}
    reference = {"only_audio": {"accuracy": 0.75, "model_accuracy": 0.6, "description": "MFCC stats", "train": 30,
                                "test": 10, "test_seen_in_training": 4}}
    write_results({"conditions": conditions, "reference": reference}, tmp_path)
    lines = (tmp_path / "results.md").read_text().splitlines()
    assert "| condition | accuracy (%) | samples | reference (%) | model - reference |" in lines
    assert "| only_audio | 60.00 | 10 | 75.00 | -15.00 |" in lines
    assert "| only_visible | 80.00 | 10 |  |  |" in lines  # no reference, no margin
    assert any("only_audio: MFCC stats (30 train / 10 test recordings, 4 of them also in training)" in line
               for line in lines)
