"""Tests for avtfuse.evaluation.plots."""

import matplotlib.image
import numpy as np
import pytest

from avtfuse.evaluation.plots import plot_confusion_matrix, plot_det_curves, plot_robustness_curves
from avtfuse.evaluation.robustness import rate_sweep_summary


@pytest.mark.parametrize("normalize", [True, False])
def test_confusion_png_is_written(tmp_path, normalize):
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 4, size=30)
    y_pred = np.where(rng.random(30) < 0.6, y_true, rng.integers(0, 4, size=30))
    path = plot_confusion_matrix(y_true, y_pred, ["p0", "p1", "p2", "p3"], tmp_path / "plots" / "cm.png",
                                 title="test", normalize=normalize)
    assert path.exists() and path.stat().st_size > 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100 and image.shape[2] in (3, 4)
    assert image[..., :3].std() > 0  # not a blank canvas


def test_many_classes_and_scores(tmp_path):
    rng = np.random.default_rng(1)
    scores = rng.random((80, 30))
    y_true = rng.integers(0, 30, size=80)
    path = plot_confusion_matrix(y_true, scores, [f"person_{i}" for i in range(30)], tmp_path / "cm.png")
    assert matplotlib.image.imread(path).shape[0] > 500


def test_labels_out_of_range(tmp_path):
    with pytest.raises(ValueError, match="y_pred"):
        plot_confusion_matrix([0, 1], [0, 2], ["a", "b"], tmp_path / "cm.png")
    with pytest.raises(ValueError, match="class_names"):
        plot_confusion_matrix([0, 1], [0, 1], [], tmp_path / "cm.png")


def robustness_summaries():
    rng = np.random.default_rng(2)
    rates = np.round(np.arange(10) * 0.1, 1)
    labels = rng.integers(0, 4, size=40)
    curves = {}
    for name, slope in (("MCT-HFR", 0.3), ("MulT", 0.8)):
        predicted = [np.where(rng.random(40) < 0.9 - slope * rate, labels, rng.integers(0, 4, size=40))
                     for rate in rates]
        curves[name] = rate_sweep_summary(rates, [labels] * 10, predicted)
    return curves


@pytest.mark.parametrize("metric", ["UA", "WF1"])
def test_robustness_png_is_written(tmp_path, metric):
    path = plot_robustness_curves(robustness_summaries(), tmp_path / "plots" / "rates.png", metric=metric)
    assert path.exists() and path.stat().st_size > 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image[..., :3].std() > 0


def test_robustness_plot_errors(tmp_path):
    with pytest.raises(ValueError, match="metric"):
        plot_robustness_curves(robustness_summaries(), tmp_path / "rates.png", metric="accuracy")
    with pytest.raises(ValueError, match="curves"):
        plot_robustness_curves({}, tmp_path / "rates.png")
    with pytest.raises(ValueError, match="curves"):
        plot_robustness_curves({"a": {"rates": [0.0]}}, tmp_path / "rates.png")
    assert not (tmp_path / "rates.png").exists()


def test_det_png_is_written(tmp_path):
    rng = np.random.default_rng(3)
    targets = rng.random(200) < 0.3
    curves = {
        "audio": (np.where(targets, rng.normal(0.7, 0.2, 200), rng.normal(0.3, 0.2, 200)), targets),
        "perfect": (np.where(targets, 0.9, 0.1), targets),  # rates of 0 land on the frame, not at infinity
    }
    path = plot_det_curves(curves, tmp_path / "plots" / "det.png", title="test")
    assert path.exists() and path.stat().st_size > 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image[..., :3].std() > 0
    with pytest.raises(ValueError, match="curves"):
        plot_det_curves({}, tmp_path / "empty.png")
    with pytest.raises(ValueError, match="curves"):
        plot_det_curves({"a": np.zeros(3)}, tmp_path / "bad.png")
