"""Missing-rate sweep: UA, UF1, WA, WF1 per test rate, their AUILC both ways, and a markdown table."""

import numpy as np

from avtfuse.evaluation.metrics import auilc, classification_metrics
from avtfuse.evaluation.report import markdown_table

# Column order of MCT-HFR Tables 2 and 3.
RATE_SWEEP_METRICS = ("UA", "UF1", "WA", "WF1")


def rate_sweep_summary(rates, labels_per_rate, predicted_per_rate):
    """Scores a model tested at several missing rates (MCT-HFR section 6.1, global over folds).

    Args:
        rates: [K >= 2] distinct missing rates, e.g. 0.0, 0.1, ..., 0.9, any order.
        labels_per_rate: K integer label arrays [N_k], one per rate (the test
            set, all folds concatenated).
        predicted_per_rate: K arrays [N_k] of predicted labels or [N_k, C] scores.

    Returns:
        {"rates": the K rates ascending,
         "metrics": {"UA", "UF1", "WA", "WF1": K fractions in [0, 1], by rate},
         "auilc": {metric: mean height of the curve (`auilc`, normalised)},
         "auilc_paper": {metric: un-normalised area, as the paper reports it},
         "drop": {metric: score at the lowest rate minus score at the highest}}.
    """
    rates = np.asarray(rates, dtype=np.float64)
    if rates.ndim != 1 or rates.size < 2:
        raise ValueError(f"rates: need at least two rates in a 1-D sequence, got shape {rates.shape}")
    if not np.all(np.isfinite(rates)) or np.unique(rates).size != rates.size:
        raise ValueError(f"rates: expected distinct finite values, got {rates.tolist()}")
    for name, per_rate in (("labels_per_rate", labels_per_rate), ("predicted_per_rate", predicted_per_rate)):
        if len(per_rate) != rates.size:
            raise ValueError(f"{name}: {len(per_rate)} entries for {rates.size} rates")
    order = np.argsort(rates)
    scores = {metric: [] for metric in RATE_SWEEP_METRICS}
    for index in order:
        try:
            measured = classification_metrics(labels_per_rate[index], predicted_per_rate[index])
        except ValueError as error:
            raise ValueError(f"labels_per_rate/predicted_per_rate at rate {rates[index]:g}: {error}") from None
        for metric in RATE_SWEEP_METRICS:
            scores[metric].append(measured[metric])
    rates = rates[order].tolist()
    return {
        "rates": rates,
        "metrics": scores,
        "auilc": {metric: auilc(rates, values) for metric, values in scores.items()},
        "auilc_paper": {metric: auilc(rates, values, normalize=False) for metric, values in scores.items()},
        "drop": {metric: values[0] - values[-1] for metric, values in scores.items()},
    }


def rate_sweep_markdown(summary, title=None):
    """Markdown table of a `rate_sweep_summary`: one row per rate, then AUILC both ways and the drop.

    Columns UA, UF1, WA, WF1 in % (2 decimals). The un-normalised AUILC row is
    the one to set beside the paper's Tables 2-3 (mean height x rate span,
    e.g. x 0.9 over 0.0-0.9). `title` adds a level-3 heading. Ends with a newline.
    """
    missing = {"rates", "metrics", "auilc", "auilc_paper", "drop"} - set(summary)
    if missing:
        raise ValueError(f"summary: missing keys {sorted(missing)}; expected a rate_sweep_summary result")
    lowest, highest = summary["rates"][0], summary["rates"][-1]
    span = f"{lowest:g}-{highest:g}"
    rows = [
        {"rate": f"{rate:g}", **{metric: 100.0 * summary["metrics"][metric][index] for metric in RATE_SWEEP_METRICS}}
        for index, rate in enumerate(summary["rates"])
    ]
    labelled = (
        (f"AUILC (mean height over {span})", "auilc"),
        (f"AUILC (paper, un-normalised = mean height x {highest - lowest:g} over {span})", "auilc_paper"),
        (f"drop ({lowest:g} -> {highest:g})", "drop"),
    )
    for label, key in labelled:
        rows.append({"rate": label, **{metric: 100.0 * summary[key][metric] for metric in RATE_SWEEP_METRICS}})
    headers = {"rate": "missing rate", **{metric: f"{metric} (%)" for metric in RATE_SWEEP_METRICS}}
    table = markdown_table(rows, columns=["rate", *RATE_SWEEP_METRICS], headers=headers)
    return f"### {title}\n\n{table}" if title else table
