"""The fold table: mean and std over folds per cell, its markdown with the published numbers beside."""

import json

import numpy as np

from avtfuse.evaluation.fold_table import fold_table, fold_table_markdown, write_fold_table

CONDITIONS = ("complete", "only_audio", "average")


def run(row, setting, fold, accuracies):
    return {"row": row, "setting": setting, "fold": fold,
            "results": {"conditions": {c: {"accuracy": a} for c, a in zip(CONDITIONS, accuracies)}}}


def test_mean_and_std_over_folds_per_cell():
    runs = [run("ia1", "none", 2, (0.5, 0.1, 0.3)), run("ia1", "none", 1, (0.7, 0.3, 0.5)),
            run("ia1", "softhard", 1, (0.8, 0.6, 0.7))]
    table = fold_table(runs, CONDITIONS)
    cell = table[("ia1", "none")]
    assert cell["folds"] == [1, 2]
    np.testing.assert_allclose(cell["complete"]["values"], [70.0, 50.0])
    np.testing.assert_allclose(cell["complete"]["mean"], 60.0)
    np.testing.assert_allclose(cell["only_audio"]["std"], np.std([30.0, 10.0]))
    assert table[("ia1", "softhard")]["average"]["std"] == 0.0


def test_markdown_puts_the_published_cell_beside_ours(tmp_path):
    runs = [run("ia1", "none", 1, (0.7, 0.3, 0.5)), run("ia1", "none", 2, (0.5, 0.1, 0.3))]
    table = fold_table(runs, CONDITIONS)
    markdown = fold_table_markdown(table, ["ia1", "lt1"], ["none"], CONDITIONS,
                                   {("ia1", "none"): (76.0, 18.58, 39.13)}, {"complete": "AV", "only_audio": "A",
                                                                             "average": "M"}, title="T")
    lines = markdown.splitlines()
    assert lines[0] == "# T"
    assert "none: ours (AV / A / M)" in lines[2]
    assert lines[4] == "| ia1 | 60.00 ± 10.00 / 20.00 ± 10.00 / 40.00 ± 10.00 (2 folds) | 76.00 / 18.58 / 39.13 |"
    assert lines[5] == "| lt1 | not run | — |"
    md_path, json_path = write_fold_table(table, markdown, tmp_path / "t.md", tmp_path / "t.json")
    assert json.loads(open(json_path).read())["ia1|none"]["folds"] == [1, 2]
