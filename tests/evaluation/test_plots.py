"""Tests for avtfuse.evaluation.plots."""

import matplotlib.image
import numpy as np
import pytest

from avtfuse.evaluation.plots import plot_confusion_matrix


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
