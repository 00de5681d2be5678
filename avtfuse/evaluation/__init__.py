"""evaluation: per-condition accuracy, WA/UA/WF1/UF1, AUILC and missing-rate sweeps, result reports and plots."""

from avtfuse.evaluation.accuracy import TABLE1_CONDITIONS, per_condition_accuracy
from avtfuse.evaluation.metrics import auilc, classification_metrics
from avtfuse.evaluation.plots import plot_confusion_matrix, plot_robustness_curves
from avtfuse.evaluation.report import markdown_table, write_results
from avtfuse.evaluation.robustness import rate_sweep_markdown, rate_sweep_summary

__all__ = [
    "TABLE1_CONDITIONS",
    "auilc",
    "classification_metrics",
    "markdown_table",
    "per_condition_accuracy",
    "plot_confusion_matrix",
    "plot_robustness_curves",
    "rate_sweep_markdown",
    "rate_sweep_summary",
    "write_results",
]
