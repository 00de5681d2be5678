"""Tests for avtfuse.evaluation.comparison on a hand-made set of results."""

import csv
import json

import matplotlib.image
import numpy as np
import pytest

from avtfuse.evaluation import comparison
from avtfuse.evaluation.accuracy import TABLE1_CONDITIONS
from avtfuse.evaluation.report import json_safe
from avtfuse.contract import MODALITIES

VARIANTS = ("prop", "e2e", "jer-1")
SEEDS = (0, 1)
PROTOCOLS = ("paper", "strict")
PAIRS = (("audio", "visible"), ("audio", "thermal"), ("visible", "thermal"))
TRIMODAL_CONDITIONS = TABLE1_CONDITIONS + ("only_audio", "only_visible", "only_thermal")


def fake_results(conditions, rng, sampler="random"):
    """A results.json-like dict with random accuracies; the average over the run's single-drop views."""
    accuracies = {name: float(rng.uniform(0.4, 1.0)) for name in conditions}
    averaged = [name for name in conditions if name == "complete" or name.startswith("missing_")] \
        if "missing_audio" in conditions else list(conditions)
    results = {name: {"accuracy": value, "count": 30} for name, value in accuracies.items()}
    results["average"] = {"accuracy": float(np.mean([accuracies[name] for name in averaged])), "count": 120,
                          "conditions": averaged}
    return {"conditions": results, "sampler": sampler}


@pytest.fixture(scope="module")
def runs():
    rng = np.random.default_rng(7)
    made = []
    for protocol in PROTOCOLS:
        for seed in SEEDS:
            for variant in VARIANTS:
                made.append({"variant": variant, "modalities": list(MODALITIES), "protocol": protocol, "seed": seed,
                             "results": fake_results(TRIMODAL_CONDITIONS, rng), "config": {"seed": seed}})
            for pair in PAIRS:
                conditions = ("complete",) + tuple(f"only_{name}" for name in pair)
                made.append({"variant": "prop", "modalities": list(pair), "protocol": protocol, "seed": seed,
                             "results": fake_results(conditions, rng), "config": {"seed": seed}})
    # The best trimodal variant of the paper protocol on "complete": certain, for the bold check.
    made[0]["results"]["conditions"]["complete"]["accuracy"] = 1.0
    made[len(VARIANTS) + len(PAIRS)]["results"]["conditions"]["complete"]["accuracy"] = 1.0
    return made


@pytest.fixture(scope="module")
def summary(runs):
    return comparison.summarise(runs)


def accuracies(runs, variant, modalities, protocol, condition):
    """Per-seed accuracies in percent, seed order, straight from the fake runs."""
    chosen = sorted((run for run in runs if run["variant"] == variant and tuple(run["modalities"]) == modalities
                     and run["protocol"] == protocol), key=lambda run: run["seed"])
    return np.array([100 * run["results"]["conditions"][condition]["accuracy"] for run in chosen])


def markdown_sections(text):
    """{section heading: {first cell: [other cells]}} for every table row under each '## ' heading."""
    sections, current = {}, None
    for line in text.splitlines():
        if line.startswith("## "):
            current = sections.setdefault(line[3:], {})
        elif line.startswith("| ") and current is not None:
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            current[cells[0]] = cells[1:]
    return sections


def test_mean_and_std_match_numpy(runs, summary):
    # One entry per trimodal variant and per bimodal pair, for each protocol.
    assert len(summary) == len(PROTOCOLS) * (len(VARIANTS) + len(PAIRS))
    for entry in summary:
        modalities = tuple(entry["modalities"])
        assert entry["seeds"] == list(SEEDS) and entry["sampler"] == "random"
        for name, stats in entry["conditions"].items():
            values = accuracies(runs, entry["variant"], modalities, entry["protocol"], name)
            np.testing.assert_allclose(stats["mean"], np.mean(values), rtol=1e-12)
            # Sample standard deviation over seeds (ddof=1).
            np.testing.assert_allclose(stats["std"], np.std(values, ddof=1), rtol=1e-12)
            assert stats["n"] == len(SEEDS)
    labels = {entry["label"] for entry in summary}
    assert labels == set(VARIANTS) | {"prop (AV)", "prop (AT)", "prop (VT)"}


def test_single_seed_has_no_std_and_duplicates_are_refused(runs):
    single = comparison.summarise([run for run in runs if run["seed"] == 0])
    assert all(stats["std"] is None for entry in single for stats in entry["conditions"].values())
    with pytest.raises(ValueError, match="given twice"):
        comparison.summarise(runs + runs[:1])
    with pytest.raises(ValueError, match="conditions"):
        comparison.summarise([dict(runs[0], results={})])


def test_table1_markdown_bolds_the_best_mean_per_column(runs, summary, tmp_path):
    markdown_path, _ = comparison.write_table1(summary, tmp_path)
    text = markdown_path.read_text()
    assert "Batch sampler: random" in text
    sections = markdown_sections(text)
    columns = list(TABLE1_CONDITIONS) + ["average", "only_audio", "only_visible", "only_thermal"]
    for protocol in PROTOCOLS:
        (heading,) = [name for name in sections if name.startswith(protocol)]
        table = sections[heading]
        assert table["variant"] == ["seeds"] + [name.replace("_", " ") for name in columns]
        assert set(table) == {"variant", *VARIANTS}  # no bimodal rows in Table 1
        for column, name in enumerate(columns, start=1):
            means = {variant: np.mean(accuracies(runs, variant, MODALITIES, protocol, name)) for variant in VARIANTS}
            best = max(round(value, 2) for value in means.values())
            for variant in VARIANTS:
                cell = table[variant][column]
                std = np.std(accuracies(runs, variant, MODALITIES, protocol, name), ddof=1)
                text_value = f"{means[variant]:.2f} ± {std:.2f}"
                expected = f"**{text_value}**" if round(means[variant], 2) == best else text_value
                assert cell == expected, (protocol, variant, name)
    # The forced 100 % on "complete" of prop (paper) is the bold one.
    assert sections[next(name for name in sections if name.startswith("paper"))]["prop"][1].startswith("**100.00")


def test_table1_csv_round_trip(summary, tmp_path):
    _, csv_path = comparison.write_table1(summary, tmp_path)
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["protocol"], row["variant"]) for row in rows] == [(p, v) for p in PROTOCOLS for v in VARIANTS]
    for row in rows:
        (entry,) = [entry for entry in summary if entry["protocol"] == row["protocol"]
                    and entry["label"] == row["variant"]]
        assert int(row["seeds"]) == len(SEEDS) and row["sampler"] == "random"
        for name in list(TABLE1_CONDITIONS) + ["average", "only_audio"]:
            assert float(row[f"{name}_mean"]) == entry["conditions"][name]["mean"]
            assert float(row[f"{name}_std"]) == entry["conditions"][name]["std"]


def test_table2_rows_and_markdown(runs, summary, tmp_path):
    for protocol in PROTOCOLS:
        rows = comparison.table2_rows(summary, protocol)
        assert [row["modalities"] for row in rows] == ["AVT", "AV", "AT", "VT"]
        for row, modalities in zip(rows, [MODALITIES] + list(PAIRS)):
            for name in ("complete", "average"):
                values = accuracies(runs, "prop", tuple(modalities), protocol, name)
                np.testing.assert_allclose(row[f"{name}_mean"], np.mean(values), rtol=1e-12)
                np.testing.assert_allclose(row[f"{name}_std"], np.std(values, ddof=1), rtol=1e-12)
        assert rows[1]["averaged"] == "complete, only audio, only visible"
    path = comparison.write_table2(summary, tmp_path)
    sections = markdown_sections(path.read_text())
    assert len(sections) == len(PROTOCOLS)
    for table in sections.values():
        assert set(table) == {"modalities", "AVT", "AV", "AT", "VT"}
        assert sum(cells[1].startswith("**") for cells in table.values()) >= 1
    assert comparison.write_table2([e for e in summary if len(e["modalities"]) == 3], tmp_path / "none") is None


def test_robustness_png_is_an_image(summary, tmp_path):
    path = comparison.plot_robustness(summary, tmp_path / "plots" / "robustness.png")
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 600 and image.shape[2] in (3, 4)
    assert image[..., :3].std() > 0
    with pytest.raises(ValueError, match="three modalities"):
        comparison.plot_robustness([e for e in summary if len(e["modalities"]) == 2], tmp_path / "x.png")


def test_comparison_json_round_trip(runs, summary, tmp_path):
    path = comparison.write_comparison_json(runs, summary, tmp_path / "comparison.json")
    document = json.loads(path.read_text())
    assert document["std_ddof"] == 1
    assert document["summary"] == json_safe(summary)
    assert document["runs"] == json_safe(runs)


def test_each_ablation_is_its_own_row_of_both_tables(runs):
    rng = np.random.default_rng(3)
    subsets = [{**run, "ablation": "subsets",
                "results": fake_results([name for name in run["results"]["conditions"] if name != "average"], rng)}
               for run in runs if run["variant"] == "prop"]
    summary = comparison.summarise(runs + subsets)
    strict = {row["variant"]: row for row in comparison.table1_rows(summary, "strict")}
    assert set(strict) == {*VARIANTS, "prop [subsets]"} and strict["prop [subsets]"]["ablation"] == "subsets"
    expected = np.mean([100 * run["results"]["conditions"]["only_audio"]["accuracy"] for run in subsets
                        if run["protocol"] == "strict" and len(run["modalities"]) == 3])
    assert strict["prop [subsets]"]["only_audio_mean"] == pytest.approx(expected)
    assert strict["prop"]["only_audio_mean"] == pytest.approx(
        np.mean(accuracies(runs, "prop", MODALITIES, "strict", "only_audio")))
    rows = comparison.table2_rows(summary, "strict")
    assert [row["modalities"] for row in rows] == ["AVT", "AV", "AT", "VT", "AVT [subsets]", "AV [subsets]",
                                                   "AT [subsets]", "VT [subsets]"]
