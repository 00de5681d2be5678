"""Confusion-matrix, missing-rate robustness, corruption-severity and DET plots written as PNGs (matplotlib's Agg
canvas, no display)."""

import pathlib

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy.stats import norm
from sklearn.metrics import confusion_matrix

from avtfuse.evaluation.metrics import as_label_arrays
from avtfuse.evaluation.robustness import RATE_SWEEP_METRICS
from avtfuse.evaluation.verification_metrics import det_points, equal_error_rate
from avtfuse.files import atomic_write

# Above this many classes the cells are too small to carry their numbers.
MAX_ANNOTATED_CLASSES = 20
# DET axes run over these error rates (fractions); rates of 0 or 1 are drawn on the frame.
DET_TICKS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99, 0.999)
DET_LIMITS = (0.0005, 0.9995)
# One marker per model of a curve plot, in turn.
MARKERS = "os^Dv<>ph*"


def plot_confusion_matrix(y_true, y_pred, class_names, path, title=None, normalize=True):
    """Plots the confusion matrix of `y_pred` against `y_true` and saves it as a PNG at `path`.

    y_true: [N] integer labels in 0..P-1; y_pred: [N] labels or [N, P] scores.
    class_names: P names, one per label, used for both axes (rows: true,
    columns: predicted). normalize=True divides each row by its class count
    (rows of absent classes stay 0), so cells are per-class recall in [0, 1];
    False plots raw counts. Cells are annotated when there are at most
    MAX_ANNOTATED_CLASSES classes. The figure grows with P so labels stay
    readable. Creates missing parent folders; returns the path as pathlib.Path.
    """
    y_true, y_pred = as_label_arrays(y_true, y_pred)
    class_names = [str(name) for name in class_names]
    count = len(class_names)
    if count == 0:
        raise ValueError("class_names: empty; need one name per class")
    for argument, labels in (("y_true", y_true), ("y_pred", y_pred)):
        if labels.min() < 0 or labels.max() >= count:
            raise ValueError(f"{argument}: labels must lie in 0..{count - 1} for {count} class_names")

    matrix = confusion_matrix(y_true, y_pred, labels=np.arange(count)).astype(np.float64)
    if normalize:
        totals = matrix.sum(axis=1, keepdims=True)
        matrix = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)

    side = min(4.0 + 0.35 * count, 40.0)
    label_size = max(4.0, min(10.0, 240.0 / count))
    figure = Figure(figsize=(side + 1.5, side), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(matrix, interpolation="nearest", cmap="Blues", vmin=0.0, vmax=1.0 if normalize else None)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    axes.set_xticks(np.arange(count), labels=class_names, rotation=90, fontsize=label_size)
    axes.set_yticks(np.arange(count), labels=class_names, fontsize=label_size)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title or ("confusion matrix (row-normalised)" if normalize else "confusion matrix (counts)"))
    if count <= MAX_ANNOTATED_CLASSES:
        threshold = 0.5 if normalize else max(matrix.max(), 1.0) / 2.0
        for row in range(count):
            for column in range(count):
                value = matrix[row, column]
                text = f"{value:.2f}" if normalize else f"{int(value)}"
                axes.text(column, row, text, ha="center", va="center", fontsize=label_size,
                          color="white" if value > threshold else "black")
    figure.tight_layout()

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda temporary: figure.savefig(temporary, format="png"))
    return path


def plot_robustness_curves(curves, path, metric="UA"):
    """Plots one metric (%) against the test missing rate, one line per model, and saves a PNG at `path`.

    curves: {label: summary}, each summary a `rate_sweep_summary` result; the
    legend gives each label with its un-normalised (paper) AUILC in %.
    metric: one of "UA", "UF1", "WA", "WF1". Creates missing parent folders;
    returns the path as pathlib.Path.
    """
    if metric not in RATE_SWEEP_METRICS:
        raise ValueError(f"metric: expected one of {RATE_SWEEP_METRICS}, got {metric!r}")
    if not curves:
        raise ValueError("curves: empty; need at least one {label: rate_sweep_summary}")
    for label, summary in curves.items():
        if not {"rates", "metrics", "auilc_paper"} <= set(summary):
            raise ValueError(f"curves[{label!r}]: expected a rate_sweep_summary result")

    figure = Figure(figsize=(7.0, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for index, (label, summary) in enumerate(curves.items()):
        values = 100.0 * np.asarray(summary["metrics"][metric], dtype=np.float64)
        axes.plot(summary["rates"], values, marker=MARKERS[index % len(MARKERS)], color=f"C{index % 10}",
                  label=f"{label} ({100.0 * summary['auilc_paper'][metric]:.2f})")
    axes.set_xlabel("test missing rate")
    axes.set_ylabel(f"{metric} (%)")
    axes.set_title(f"{metric} against test missing rate")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left", fontsize=8, title="model (AUILC %, un-normalised)", title_fontsize=8)
    figure.tight_layout()

    path = pathlib.Path(path)
    atomic_write(path, lambda temporary: figure.savefig(temporary, format="png"))
    return path


def plot_severity_curves(panels, severities, path, title, ylabel="accuracy (%)"):
    """Plots a metric (%) against corruption severity, one subplot per corruption with one line per model (its
    mean over seeds, shaded mean ± sample standard deviation where there are several), and saves a PNG at `path`.

    panels: {corruption: {label: [{"mean", "std" (None for one seed)} per severity]}}, fractions; severities: the x
    values. Creates missing parent folders; returns the path as pathlib.Path.
    """
    if not panels or not all(panels.values()):
        raise ValueError("panels: need at least one corruption, each with at least one {label: curve}")
    for name, curves in panels.items():
        for label, curve in curves.items():
            if len(curve) != len(severities):
                raise ValueError(f"panels[{name!r}][{label!r}]: {len(curve)} points for {len(severities)} severities")

    columns = min(len(panels), 4)
    rows = -(-len(panels) // columns)
    legend_inches = 0.4
    figure = Figure(figsize=(3.4 * columns, 3.0 * rows + legend_inches), dpi=100)
    FigureCanvasAgg(figure)
    grid = figure.subplots(rows, columns, sharex=True, sharey=True, squeeze=False)
    labels = list(dict.fromkeys(label for curves in panels.values() for label in curves))
    for axes, (name, curves) in zip(grid.flat, panels.items()):
        for label, curve in curves.items():
            index = labels.index(label)
            mean = 100.0 * np.array([point["mean"] for point in curve])
            std = [point["std"] for point in curve]
            axes.plot(severities, mean, marker=MARKERS[index % len(MARKERS)], color=f"C{index % 10}", label=label)
            if None not in std:
                axes.fill_between(severities, mean - 100.0 * np.array(std), mean + 100.0 * np.array(std),
                                  color=f"C{index % 10}", alpha=0.15, linewidth=0)
        axes.set_title(name, fontsize=10)
        axes.grid(alpha=0.3)
    for axes in grid.flat[len(panels):]:
        axes.set_visible(False)
    for axes in grid[-1]:
        axes.set_xlabel("severity")
    for axes in grid[:, 0]:
        axes.set_ylabel(ylabel)
    handles = {label: handle for axes in grid.flat for handle, label in zip(*axes.get_legend_handles_labels())}
    figure.legend(handles.values(), handles.keys(), loc="lower center", ncol=min(len(handles), 5), fontsize=8)
    figure.suptitle(title)
    figure.tight_layout(rect=(0, legend_inches / figure.get_figheight(), 1, 1))

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda temporary: figure.savefig(temporary, format="png"))
    return path


def plot_det_curves(curves, path, title=""):
    """Plots DET curves (FRR against FAR on normal-deviate axes, ticks in %) and saves a PNG at `path`.

    curves: {label: (scores [n], targets [n])}, trials as in
    verification_metrics (True = same person, accept score >= threshold); the
    legend gives each label with its EER in %. The dashed diagonal is FAR = FRR,
    which each curve crosses at its EER. Creates missing parent folders;
    returns the path as pathlib.Path.
    """
    if not curves:
        raise ValueError("curves: empty; need at least one {label: (scores, targets)}")
    for label, trials in curves.items():
        if not isinstance(trials, (tuple, list)) or len(trials) != 2:
            raise ValueError(f"curves[{label!r}]: expected a (scores, targets) pair")

    figure = Figure(figsize=(6.0, 6.0), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    deviates = norm.ppf(DET_LIMITS)
    axes.plot(deviates, deviates, linestyle="--", color="0.6", linewidth=1.0)
    for index, (label, (scores, targets)) in enumerate(curves.items()):
        far, frr = det_points(scores, targets)
        eer = equal_error_rate(scores, targets)["eer"]
        axes.plot(norm.ppf(np.clip(far, *DET_LIMITS)), norm.ppf(np.clip(frr, *DET_LIMITS)),
                  marker="o" if far.size == 1 else None,  # a perfect split is one point, in the corner
                  color=f"C{index % 10}", label=f"{label} (EER {100.0 * eer:.2f} %)")
    ticks = norm.ppf(DET_TICKS)
    tick_labels = [f"{100.0 * rate:g}" for rate in DET_TICKS]
    axes.set_xticks(ticks, labels=tick_labels, rotation=90, fontsize=8)
    axes.set_yticks(ticks, labels=tick_labels, fontsize=8)
    axes.set_xlim(*deviates)
    axes.set_ylim(*deviates)
    axes.set_xlabel("false-accept rate, FAR (%)")
    axes.set_ylabel("false-reject rate, FRR (%)")
    axes.set_title(title or "DET curves")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper right", fontsize=8)
    figure.tight_layout()

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda temporary: figure.savefig(temporary, format="png"))
    return path
