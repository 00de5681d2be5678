"""A table over folds: rows (variants) x settings x conditions, mean and standard deviation over folds, with a
published figure beside each cell.

    table = fold_table(runs, conditions=("complete", "only_audio", "only_visible", "average"))
    markdown = fold_table_markdown(table, published, condition_labels={"complete": "AV", ...})

`runs`: dicts {"row", "setting", "fold", "results"} (results.json of a run). A cell is the accuracy in percent of
each condition per fold; with every fold's test split of one size the mean over folds equals the accuracy of the
pooled predictions (SYSTEMS.md 1.3).
"""

import json

import numpy as np

from avtfuse.files import atomic_text


def fold_table(runs, conditions):
    """{(row, setting): {"folds": [fold, ...], condition: {"mean", "std", "values"}}}: accuracy in percent, std
    over folds with ddof 0 (0 for one fold). A condition a run lacks is left out of that cell."""
    cells = {}
    for run in runs:
        cells.setdefault((run["row"], run["setting"]), []).append(run)
    table = {}
    for key, members in cells.items():
        members = sorted(members, key=lambda run: run["fold"])
        cell = {"folds": [run["fold"] for run in members]}
        for condition in conditions:
            values = [100.0 * run["results"]["conditions"][condition]["accuracy"] for run in members
                      if condition in run["results"]["conditions"]]
            if values:
                cell[condition] = {"mean": float(np.mean(values)), "std": float(np.std(values)), "values": values}
        table[key] = cell
    return table


def _cell_text(cell, conditions):
    parts = []
    for condition in conditions:
        entry = cell.get(condition)
        if entry is None:
            parts.append("—")
        elif len(entry["values"]) > 1:
            parts.append(f"{entry['mean']:.2f} ± {entry['std']:.2f}")
        else:
            parts.append(f"{entry['mean']:.2f}")
    return " / ".join(parts)


def fold_table_markdown(table, rows, settings, conditions, published=None, condition_labels=None, title=None):
    """Markdown: one line per row, for each setting our cell ("AV / A / V / M", mean ± std over folds) and,
    when `published` {(row, setting): [numbers in condition order]} has it, the published cell beside it."""
    labels = " / ".join((condition_labels or {}).get(c, c) for c in conditions)
    headers = ["variant"]
    for setting in settings:
        headers += [f"{setting}: ours ({labels})"] + ([f"{setting}: paper"] if published else [])
    lines = ([f"# {title}", ""] if title else []) + ["| " + " | ".join(headers) + " |",
                                                    "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        cells = [row]
        for setting in settings:
            cell = table.get((row, setting))
            cells.append(_cell_text(cell, conditions) + f" ({len(cell['folds'])} folds)" if cell else "not run")
            if published:
                numbers = published.get((row, setting))
                cells.append(" / ".join(f"{n:.2f}" for n in numbers) if numbers else "—")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_fold_table(table, markdown, markdown_path, json_path):
    """Writes the markdown and the table as JSON (keys "row|setting")."""
    atomic_text(markdown_path, markdown)
    atomic_text(json_path, json.dumps({f"{row}|{setting}": cell for (row, setting), cell in table.items()},
                                      indent=2) + "\n")
    return markdown_path, json_path
