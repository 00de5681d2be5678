"""The epoch-selection protocol of a run in its report (CFN-SR's `selection`): the protocol's label under the title
of results.md and each phase's per-epoch curve and kept epoch in results.json["selection"]."""

import csv
import json
import os

from avtfuse.files import atomic_text

PHASES_FILE = "{}_epochs.csv"
SELECTION_LABELS = {
    "strict": "Strict protocol: validation actors chose each phase's epoch; the test split was read once.",
    "paper": "Paper protocol: best test epoch (optimistic).",
}
PAPER_NOTE = ("No validation actors: every actor outside the test fold trained, and the test actors' complete "
              "recordings chose each phase's epoch; every number below is of those epochs, read on the split that "
              "chose them: an upper bound, comparable with the paper's 75.76 %, not with a strict run. (The "
              "per-epoch curve was scored with the batch-norm statistics of training; the tables, after their "
              "refresh on the training batches.)")


def phase_curves(run_dir):
    """{phase: {"epochs": [1, 2, ...], "val_accuracy": [...], "best_epoch", "best_accuracy"}} from the run's
    <phase>_epochs.csv logs (the later row of an epoch logged twice standing) and each phase's best.json."""
    curves = {}
    suffix = PHASES_FILE.format("")
    for name in sorted(os.listdir(run_dir)):
        if not name.endswith(suffix):
            continue
        phase = name[:-len(suffix)]
        with open(os.path.join(run_dir, name)) as handle:
            rows = {int(row["epoch"]) + 1: float(row["val_accuracy"]) for row in csv.DictReader(handle)
                    if row.get("val_accuracy")}
        best_path = os.path.join(run_dir, "checkpoints", phase, "best.json")
        best = {"epoch": 0, "value": None}
        if os.path.exists(best_path):
            with open(best_path) as handle:
                best = json.load(handle)
        curves[phase] = {"epochs": sorted(rows), "val_accuracy": [rows[epoch] for epoch in sorted(rows)],
                         "best_epoch": best["epoch"], "best_accuracy": best["value"]}
    return curves


def label_selection(run_dir, selection):
    """Puts the protocol's label under the title of the run's results.md (once) and its per-phase epoch curves in
    results.json["selection"]; returns the label's markdown."""
    curves = phase_curves(run_dir)
    chooser = "test accuracy (complete test recordings)" if selection == "paper" else "validation accuracy"
    lines = [f"**{SELECTION_LABELS[selection]}**"] + ([PAPER_NOTE] if selection == "paper" else [])
    for phase, curve in curves.items():
        values = ", ".join(f"{epoch}: {100 * value:.2f}" for epoch, value in zip(curve["epochs"],
                                                                                   curve["val_accuracy"]))
        lines.append(f"- {phase}: kept epoch {curve['best_epoch']}; {chooser} per epoch (%): {values}")
    section = "\n".join(lines) + "\n"
    markdown_path = os.path.join(run_dir, "results.md")
    with open(markdown_path) as handle:
        title, _, rest = handle.read().partition("\n")
    if SELECTION_LABELS[selection] not in rest:
        atomic_text(markdown_path, f"{title}\n\n{section}{rest}")
    results_path = os.path.join(run_dir, "results.json")
    with open(results_path) as handle:
        results = json.load(handle)
    results["selection"] = {"protocol": selection, "label": SELECTION_LABELS[selection], "chosen_by": chooser,
                            "phases": curves}
    atomic_text(results_path, json.dumps(results, indent=2) + "\n")
    return section
