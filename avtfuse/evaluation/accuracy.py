"""Accuracy per missing-sensor condition (the paper's Table 1 columns and more)."""

import numpy as np

from avtfuse.contract import (
    AVERAGE, MODALITIES, canonical_modalities, condition_name, condition_order, headline_conditions)
from avtfuse.evaluation.metrics import as_label_arrays

# The paper's Table 1 columns, in the paper's order.
TABLE1_CONDITIONS = tuple(headline_conditions(MODALITIES))


def predict_batches(classifier, batches):
    """Labels, predicted labels and presence bits of every sample of a dataset of (inputs, labels) batches (such
    as `SplitData.batches(split, ...)`): ([N], [N], [N, M]). `classifier(inputs, training=False)` gives
    probabilities [B, P]."""
    labels, predicted, present = [], [], []
    for inputs, label in batches:
        predicted.append(np.asarray(classifier(inputs, training=False)).argmax(-1))
        labels.append(np.asarray(label))
        present.append(np.asarray(inputs["present"]))
    return np.concatenate(labels), np.concatenate(predicted), np.concatenate(present)


def per_condition_accuracy(y_true, y_pred, present, modalities):
    """Accuracy of each missing-sensor condition found in the data.

    y_true: [N] integer labels. y_pred: [N] labels or [N, P] class scores
    (argmax is taken). present: [N, M] presence bits (1 real, 0 missing)
    aligned with `modalities`, the run's modalities in canonical order.

    Returns a dict in report order (see `avtfuse.contract.condition_order`) mapping each
    condition name from `avtfuse.contract.condition_name` (complete,
    missing_<m>, only_<m>, ...) to {"accuracy": float in [0, 1], "count": int},
    plus, when any of them is present, "average": the unweighted mean accuracy
    over the run's full view and its one-modality-dropped views found in the
    data (for a trimodal run: the Table 1 conditions, i.e. the paper's avg
    column), stored as {"accuracy", "count" (samples in those conditions),
    "conditions" (the names averaged)}.
    """
    y_true, y_pred = as_label_arrays(y_true, y_pred)
    names = canonical_modalities(modalities)
    if not isinstance(modalities, str) and tuple(modalities) != names:
        raise ValueError(f"modalities: must be in canonical order {names}, got {tuple(modalities)}")
    present = np.asarray(present)
    if present.ndim != 2 or present.shape[1] != len(names):
        raise ValueError(f"present: expected shape [N, {len(names)}] for modalities {names}, got {present.shape}")
    if present.shape[0] != y_true.shape[0]:
        raise ValueError(f"present: {present.shape[0]} rows for {y_true.shape[0]} entries of y_true")

    bits = present > 0.5
    conditions = np.array([condition_name(row, names) for row in bits])
    correct = y_true == y_pred
    results = {}
    for name in sorted(set(conditions.tolist()), key=condition_order):
        selected = conditions == name
        results[name] = {"accuracy": float(np.mean(correct[selected])), "count": int(np.sum(selected))}

    averaged = [name for name in headline_conditions(names) if name in results]
    if averaged:
        results[AVERAGE] = {
            "accuracy": float(np.mean([results[name]["accuracy"] for name in averaged])),
            "count": int(sum(results[name]["count"] for name in averaged)),
            "conditions": averaged,
        }
    return results


def headline_rows(present, modalities):
    """Bool [N]: the samples in the run's headline conditions (`avtfuse.contract.headline_conditions`).

    The headline metrics and the confusion matrix are computed over these
    rows alone; single-modality copies of a trimodal run are reported apart.
    """
    names = canonical_modalities(modalities)
    wanted = set(headline_conditions(names))
    return np.array([condition_name(row, names) in wanted for row in np.asarray(present) > 0.5], dtype=bool)
