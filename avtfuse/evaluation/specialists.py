"""Single-sensor specialists beside the fused model: each single-sensor condition of the fused run against the same
system trained on that sensor alone (same data, split and settings) and against the scikit-learn reference."""

from avtfuse.contract import COMPLETE, condition_name
from avtfuse.evaluation.report import markdown_table

SPECIALISTS_TITLE = "Single-sensor specialists (the same system trained on one sensor alone, same split)"


def specialist_comparison(conditions, references, specialist_conditions, modalities, fused_alone=None,
                          seen_in_training=None, classes_lacked=None):
    """One entry per single-sensor condition of the fused run that has a specialist.

    conditions: the fused run's `per_condition_accuracy`; references: its
    results["reference"] ({"only_<m>": {"accuracy", ...}}); specialist_conditions:
    {modality: the specialist run's `per_condition_accuracy`} (its "complete"
    condition is the sensor alone); modalities: the fused run's (canonical order);
    fused_alone: when the run's model falls back on the specialists
    (`SpecialistFallback`), the fused model's own `per_condition_accuracy`;
    seen_in_training: {modality: the specialist's test recordings that it also
    read in training (the paper protocol's copy-level leak, and a file shared
    by a training recording; 0 under the others)};
    classes_lacked: {modality: the run's classes its specialist lacks (people
    with no recording of its sensor)}.
    Returns {"only_<m>": {"modality", "fused" (the run's model), "specialist",
    "reference" (None without one), "fused_minus_specialist", "fused_alone"
    (None without a fallback), "fused_count", "specialist_count",
    "test_seen_in_training", "classes_lacked" (None when not given)}},
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
            "fused_alone": None if fused_alone is None else fused_alone[name]["accuracy"],
            "fused_count": fused["count"], "specialist_count": alone["count"],
            "test_seen_in_training": (seen_in_training or {}).get(modality),
            "classes_lacked": (classes_lacked or {}).get(modality)}
    return comparison


def specialist_markdown(comparison):
    """The comparison of `specialist_comparison` as a markdown section, accuracies in %; with a fallback on the
    specialists, the run's model is "served" and the fused model's own accuracy stands beside it; where a
    specialist was tested on recordings it trained on (the paper protocol), their count stands beside it; where
    a specialist lacks classes (people never recorded by its sensor), their count."""
    fallback = any(entry["fused_alone"] is not None for entry in comparison.values())
    leak = any(entry.get("test_seen_in_training") for entry in comparison.values())
    lacking = any(entry.get("classes_lacked") for entry in comparison.values())
    rows = [{"condition": name, "fused": 100.0 * entry["fused"], "specialist": 100.0 * entry["specialist"],
             **({"fused_alone": 100.0 * entry["fused_alone"]} if fallback else {}),
             "reference": None if entry["reference"] is None else 100.0 * entry["reference"],
             "gap": 100.0 * entry["fused_minus_specialist"],
             "samples": f"{entry['fused_count']} / {entry['specialist_count']}",
             **({"seen": entry["test_seen_in_training"]} if leak else {}),
             **({"lacked": entry["classes_lacked"]} if lacking else {})}
            for name, entry in comparison.items()]
    model, gap = ("served, specialist fallback (%)", "served - specialist") if fallback else (
        "fused model (%)", "fused - specialist")
    table = markdown_table(rows, headers={"fused": model, "specialist": "specialist (%)",
                                          "fused_alone": "fused model alone (%)", "reference": "reference (%)",
                                          "gap": gap, "samples": "test samples (fused / specialist)",
                                          "seen": "test recordings seen in training (paper protocol)",
                                          "lacked": "classes lacked (people without the sensor)"})
    return f"## {SPECIALISTS_TITLE}\n\n{table}"
