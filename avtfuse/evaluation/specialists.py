"""Single-sensor specialists beside the fused model: each single-sensor condition of the fused run against the same
system trained on that sensor alone (same data, split and settings) and against the scikit-learn reference."""

from avtfuse.contract import COMPLETE, condition_name
from avtfuse.evaluation.report import markdown_table

SPECIALISTS_TITLE = "Single-sensor specialists (the same system trained on one sensor alone, same split)"


def specialist_comparison(conditions, references, specialist_conditions, modalities):
    """One entry per single-sensor condition of the fused run that has a specialist.

    conditions: the fused run's `per_condition_accuracy`; references: its
    results["reference"] ({"only_<m>": {"accuracy", ...}}); specialist_conditions:
    {modality: the specialist run's `per_condition_accuracy`} (its "complete"
    condition is the sensor alone); modalities: the fused run's (canonical order).
    Returns {"only_<m>": {"modality", "fused", "specialist", "reference" (None
    without one), "fused_minus_specialist", "fused_count", "specialist_count"}},
    accuracies as fractions, the difference in points of accuracy (fraction).
    """
    comparison = {}
    for modality, specialist in specialist_conditions.items():
        name = condition_name([int(m == modality) for m in modalities], modalities)
        if name not in conditions or COMPLETE not in specialist:
            continue
        fused, alone = conditions[name], specialist[COMPLETE]
        comparison[name] = {
            "modality": modality, "fused": fused["accuracy"], "specialist": alone["accuracy"],
            "reference": (references.get(name) or {}).get("accuracy"),
            "fused_minus_specialist": fused["accuracy"] - alone["accuracy"],
            "fused_count": fused["count"], "specialist_count": alone["count"]}
    return comparison


def specialist_markdown(comparison):
    """The comparison of `specialist_comparison` as a markdown section, accuracies in %."""
    rows = [{"condition": name, "fused": 100.0 * entry["fused"], "specialist": 100.0 * entry["specialist"],
             "reference": None if entry["reference"] is None else 100.0 * entry["reference"],
             "gap": 100.0 * entry["fused_minus_specialist"],
             "samples": f"{entry['fused_count']} / {entry['specialist_count']}"}
            for name, entry in comparison.items()]
    table = markdown_table(rows, headers={"fused": "fused model (%)", "specialist": "specialist (%)",
                                          "reference": "reference (%)", "gap": "fused - specialist",
                                          "samples": "test samples (fused / specialist)"})
    return f"## {SPECIALISTS_TITLE}\n\n{table}"
