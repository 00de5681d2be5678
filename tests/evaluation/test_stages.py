"""The report stage on a small fake run: per condition of the test split, how many samples arrived holding it and
how many the run's ablation made (results.json and a line of results.md), and the specialists' lacking classes."""

import json
import os
import types

import numpy as np

from avtfuse.contract import save_class_names
from avtfuse.evaluation import stages
from avtfuse.evaluation.accuracy import per_condition_accuracy
from avtfuse.evaluation.metrics import classification_metrics
from avtfuse.evaluation.specialists import specialist_comparison, specialist_markdown

MODALITIES = ("audio", "visible", "thermal")


class Folder:
    def __init__(self, root):
        self.root = root

    def path(self, *names):
        return os.path.join(self.root, *names)


class FakeRun:
    """The parts of a RunState the report reads: a test split of `present` samples, predictions, stage outputs."""

    def __init__(self, root, present, sources):
        rng = np.random.default_rng(0)
        labels = rng.integers(0, 3, len(present))
        predicted = np.where(rng.random(len(present)) < 0.7, labels, (labels + 1) % 3)
        self.folder = Folder(root)
        os.makedirs(self.folder.path("evaluation"))
        np.savez(self.folder.path(stages.PREDICTIONS_FILE), labels=labels, predicted=predicted, present=present)
        save_class_names(["a", "b", "c"], self.folder.path("labels.json"))
        self.config = types.SimpleNamespace(
            system="avtnet", variant="prop", run_name="fake", run_dir=root,
            data=types.SimpleNamespace(protocol="strict", fold=1, missing_fill="zeros"),
            train=types.SimpleNamespace(sampler="random"))
        self.resolved = types.SimpleNamespace(train=types.SimpleNamespace(replication="none"),
                                              model=types.SimpleNamespace())
        self.runtime = types.SimpleNamespace(device="cpu", precision="float32")
        self.training_seconds = 0.0
        self.outputs = {
            "data": {"modalities": list(MODALITIES), "train_samples": 10, "valid_samples": 2,
                     "test_samples": len(present), "skipped_recordings": 0, "test_condition_sources": sources},
            "evaluate": {"conditions": per_condition_accuracy(labels, predicted, present, MODALITIES),
                         "metrics": classification_metrics(labels, predicted)},
            "export": {"saved_model": "saved", "parameters": 1}}

    def stage_outputs(self, name):
        return self.outputs[name]

    def has_stage(self, name):
        return False

    def elapsed(self):
        return 1.0


def test_the_report_says_how_many_test_samples_arrived_in_each_condition_and_how_many_the_run_ablated(tmp_path):
    present = np.array([[1, 1, 1]] * 4 + [[1, 1, 0]] * 5 + [[0, 1, 1]] * 3, np.float32)
    # Of the 5 missing_thermal samples 2 are recordings without thermal, 3 the run's copies.
    sources = {"complete": {"arrived": 4, "ablated": 0}, "missing_thermal": {"arrived": 2, "ablated": 3},
               "missing_audio": {"arrived": 0, "ablated": 3}}
    stages.report(FakeRun(str(tmp_path), present, sources))
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["condition_sources"] == sources
    for name, entry in sources.items():  # the sources add up to the counts scored per condition
        assert entry["arrived"] + entry["ablated"] == results["conditions"][name]["count"]
    report = (tmp_path / "results.md").read_text()
    assert "complete 4 + 0; missing_thermal 2 + 3; missing_audio 0 + 3." in report


def test_the_specialist_table_counts_the_classes_a_specialist_lacks():
    conditions = {"only_thermal": {"accuracy": 0.5, "count": 4}, "only_audio": {"accuracy": 0.75, "count": 4}}
    specialists = {m: {"complete": {"accuracy": 0.25, "count": 4}} for m in ("audio", "thermal")}
    comparison = specialist_comparison(conditions, {}, specialists, MODALITIES, classes_lacked={"audio": 0,
                                                                                                "thermal": 2})
    assert comparison["only_thermal"]["classes_lacked"] == 2 and comparison["only_audio"]["classes_lacked"] == 0
    lines = specialist_markdown(comparison).splitlines()
    column = [cell.strip() for cell in lines[2].split("|")].index("classes lacked (people without the sensor)")
    assert {line.split("|")[1].strip(): line.split("|")[column].strip() for line in lines[4:] if line} == {
        "only_audio": "0", "only_thermal": "2"}
    assert "classes lacked" not in specialist_markdown(specialist_comparison(conditions, {}, specialists, MODALITIES))
