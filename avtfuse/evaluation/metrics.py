"""Classification metrics (WA, UA, WF1, UF1) and the area under the incomplete-learning curve."""

import numpy as np
from sklearn import metrics as sk_metrics


def as_label_arrays(y_true, y_pred):
    """Validates a pair of label sequences and returns them as int64 arrays [N].

    `y_pred` may also be class scores [N, P] (probabilities or logits); it is
    then reduced to labels with argmax. Raises ValueError naming the argument
    for an empty input, a wrong rank or mismatched lengths.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.ndim != 1:
        raise ValueError(f"y_true: expected labels of shape [N], got shape {y_true.shape}")
    if y_pred.ndim == 2:
        y_pred = np.argmax(y_pred, axis=-1)
    if y_pred.ndim != 1:
        raise ValueError(f"y_pred: expected labels [N] or scores [N, P], got shape {y_pred.shape}")
    if y_true.size == 0:
        raise ValueError("y_true: empty; need at least one sample")
    if y_pred.shape[0] != y_true.shape[0]:
        raise ValueError(f"y_pred: {y_pred.shape[0]} entries for {y_true.shape[0]} entries of y_true")
    return y_true.astype(np.int64), y_pred.astype(np.int64)


def classification_metrics(y_true, y_pred):
    """Returns {"WA", "UA", "WF1", "UF1"} as floats in [0, 1].

    WA is the plain (weighted) accuracy, UA the unweighted accuracy (mean
    per-class recall over the classes in `y_true`), WF1 the support-weighted F1
    and UF1 the unweighted (macro) F1 over the classes in either array. A class
    never predicted counts with precision 0. `y_true` [N] integer labels;
    `y_pred` [N] labels or [N, P] scores.
    """
    y_true, y_pred = as_label_arrays(y_true, y_pred)
    return {
        "WA": float(sk_metrics.accuracy_score(y_true, y_pred)),
        "UA": float(sk_metrics.recall_score(y_true, y_pred, labels=np.unique(y_true), average="macro")),
        "WF1": float(sk_metrics.f1_score(y_true, y_pred, average="weighted", zero_division=0)),
        "UF1": float(sk_metrics.f1_score(y_true, y_pred, average="macro", zero_division=0)),
    }


def auilc(missing_rates, scores, normalize=True):
    """Area under the incomplete-learning curve (MCT-HFR eq. 19), by default normalised by the span of rates.

    `missing_rates` [K >= 2] distinct rates (e.g. 0.0, 0.1, ..., 0.9, in any
    order); `scores` [K] the metric measured at each rate. The curve is
    integrated with the trapezoid rule over the sorted rates,
    sum_i (s_i + s_{i+1}) / 2 * (r_{i+1} - r_i). normalize=True divides by
    (max rate - min rate), giving the curve's mean height in the units of
    `scores` (s at every rate gives s); normalize=False returns the area
    itself, as the MCT-HFR paper and code report it (s at every rate over
    0.0..0.9 gives 0.9 s).
    """
    rates = np.asarray(missing_rates, dtype=np.float64)
    values = np.asarray(scores, dtype=np.float64)
    if rates.ndim != 1 or rates.size < 2:
        raise ValueError(f"missing_rates: need at least two rates in a 1-D sequence, got shape {rates.shape}")
    if values.shape != rates.shape:
        raise ValueError(f"scores: shape {values.shape} does not match missing_rates shape {rates.shape}")
    if not (np.all(np.isfinite(rates)) and np.all(np.isfinite(values))):
        raise ValueError("missing_rates/scores: values must be finite")
    order = np.argsort(rates, kind="stable")
    rates, values = rates[order], values[order]
    if np.any(np.diff(rates) == 0):
        raise ValueError(f"missing_rates: repeated rate in {rates.tolist()}")
    area = float(np.sum(np.diff(rates) * (values[1:] + values[:-1]) / 2.0))
    return area / (rates[-1] - rates[0]) if normalize else area
