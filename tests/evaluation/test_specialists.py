"""The specialist comparison: each single-sensor condition of a fused run beside its specialist and reference."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from avtfuse.evaluation import per_condition_accuracy
from avtfuse.evaluation.specialists import specialist_comparison, specialist_markdown

MODALITIES = ("audio", "visible", "thermal")


def fused_and_specialists(seed=0):
    """A fused run's per-condition accuracy on random predictions, and two specialists' (audio, thermal)."""
    rng = np.random.default_rng(seed)
    present = np.array([[1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]] * 25, np.float32)
    labels = rng.integers(0, 4, len(present))
    predicted = np.where(rng.random(len(present)) < 0.6, labels, (labels + 1) % 4)
    fused = per_condition_accuracy(labels, predicted, present, MODALITIES)
    specialists, truth = {}, {}
    for modality in ("audio", "thermal"):
        alone_labels = rng.integers(0, 4, 30)
        alone_predicted = np.where(rng.random(30) < 0.7, alone_labels, (alone_labels + 2) % 4)
        specialists[modality] = per_condition_accuracy(alone_labels, alone_predicted, np.ones((30, 1)), (modality,))
        truth[modality] = accuracy_score(alone_labels, alone_predicted)
    rows = {m: present.tolist().index([float(m == n) for n in MODALITIES]) for m in MODALITIES}
    fused_truth = {m: accuracy_score(labels[i::4], predicted[i::4]) for m, i in rows.items()}
    return fused, specialists, truth, fused_truth


def test_each_single_sensor_condition_meets_its_specialist_and_reference():
    fused, specialists, truth, fused_truth = fused_and_specialists()
    references = {"only_audio": {"accuracy": 0.5}}
    comparison = specialist_comparison(fused, references, specialists, MODALITIES)
    assert list(comparison) == ["only_audio", "only_thermal"]  # no visible specialist: no row
    for name, modality in (("only_audio", "audio"), ("only_thermal", "thermal")):
        entry = comparison[name]
        assert entry["modality"] == modality
        assert entry["fused"] == pytest.approx(fused_truth[modality])
        assert entry["specialist"] == pytest.approx(truth[modality])
        assert entry["fused_minus_specialist"] == pytest.approx(fused_truth[modality] - truth[modality])
        assert entry["fused_count"] == 25 and entry["specialist_count"] == 30
    assert comparison["only_audio"]["reference"] == 0.5 and comparison["only_thermal"]["reference"] is None


def test_markdown_gives_percentages_and_the_gap():
    fused, specialists, truth, fused_truth = fused_and_specialists(seed=1)
    comparison = specialist_comparison(fused, {"only_thermal": {"accuracy": 0.25}}, specialists, MODALITIES)
    text = specialist_markdown(comparison)
    assert text.startswith("## Single-sensor specialists")
    thermal = next(line for line in text.splitlines() if line.startswith("| only_thermal"))
    cells = [cell.strip() for cell in thermal.strip("|").split("|")]
    assert cells == ["only_thermal", f"{100 * fused_truth['thermal']:.2f}", f"{100 * truth['thermal']:.2f}",
                     "25.00", f"{100 * (fused_truth['thermal'] - truth['thermal']):.2f}", "25 / 30"]
    audio = next(line for line in text.splitlines() if line.startswith("| only_audio"))
    assert [cell.strip() for cell in audio.strip("|").split("|")][3] == ""  # no reference: an empty cell


def test_with_a_fallback_the_fused_model_alone_stands_beside_the_served_one():
    fused, specialists, truth, fused_truth = fused_and_specialists(seed=2)
    alone, _, _, alone_truth = fused_and_specialists(seed=3)
    comparison = specialist_comparison(fused, {}, specialists, MODALITIES, fused_alone=alone)
    assert comparison["only_audio"]["fused_alone"] == pytest.approx(alone_truth["audio"])
    assert specialist_comparison(fused, {}, specialists, MODALITIES)["only_audio"]["fused_alone"] is None
    lines = specialist_markdown(comparison).splitlines()
    header = next(line for line in lines if line.startswith("| condition"))
    header = [cell.strip() for cell in header.strip("|").split("|")]
    assert header[1:4] == ["served, specialist fallback (%)", "specialist (%)", "fused model alone (%)"]
    assert "served - specialist" in header
    thermal = next(line for line in lines if line.startswith("| only_thermal"))
    assert [cell.strip() for cell in thermal.strip("|").split("|")][3] == f"{100 * alone_truth['thermal']:.2f}"
