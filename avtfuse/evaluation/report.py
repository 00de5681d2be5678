"""Writes evaluation results as results.json and a markdown summary (results.md)."""

import dataclasses
import json
import math
import numbers
import os
import pathlib

import numpy as np

from avtfuse.contract import AVERAGE, condition_order
from avtfuse.files import atomic_text


def json_safe(value):
    """Returns `value` converted to plain JSON types.

    NumPy scalars and arrays become Python numbers and lists, tuples and sets
    lists, dataclasses dicts, paths strings, mapping keys strings; NaN and
    infinities become None (strict JSON has no such numbers); anything else
    unknown becomes its str().
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json_safe(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(item) for item in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


def _format_cell(value, float_format):
    if value is None:
        return ""
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        text = float_format.format(value)
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(rows, columns=None, headers=None, float_format="{:.2f}"):
    """Formats a list of dicts as a GitHub markdown table and returns it as a string.

    rows: list of dicts, one per table row. columns: the keys to show, in
    order (default: every key in order of first appearance). headers: optional
    dict key -> column title (default: the key). Floats are formatted with
    `float_format`; missing keys and None give empty cells; columns whose cells
    are all numbers are right-aligned. Ends with a newline.
    """
    rows = list(rows)
    if not rows:
        raise ValueError("rows: empty; need at least one row for a table")
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    columns = list(columns)
    if not columns:
        raise ValueError("columns: no columns to show")
    headers = headers or {}

    def is_numeric(column):
        cells = [row.get(column) for row in rows if row.get(column) is not None]
        return bool(cells) and all(isinstance(c, numbers.Real) and not isinstance(c, bool) for c in cells)

    lines = [
        "| " + " | ".join(_format_cell(headers.get(c, c), float_format) for c in columns) + " |",
        "|" + "|".join("---:" if is_numeric(c) else "---" for c in columns) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_format_cell(row.get(c), float_format) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def condition_rows(per_condition, references=None):
    """Rows {"condition", "accuracy_percent", "count"} in report order, "average" last; a condition with an
    entry in `references` ({condition: {"accuracy", ...}}) also gets "reference_percent" and "versus_reference"
    (model minus reference, in points).

    per_condition: the dict returned by `per_condition_accuracy`.
    """
    names = sorted((name for name in per_condition if name != AVERAGE), key=condition_order)
    if AVERAGE in per_condition:
        names.append(AVERAGE)
    rows = []
    for name in names:
        entry = per_condition[name]
        if not isinstance(entry, dict) or "accuracy" not in entry:
            raise ValueError(f"results: condition {name!r} has no 'accuracy' entry")
        accuracy_percent = 100.0 * float(entry["accuracy"])
        row = {"condition": name, "accuracy_percent": accuracy_percent, "count": int(entry.get("count", 0))}
        if name in (references or {}):
            row["reference_percent"] = 100.0 * float(references[name]["accuracy"])
            row["versus_reference"] = accuracy_percent - row["reference_percent"]
        rows.append(row)
    return rows


def write_results(results, out_dir, title="Results", appendix=()):
    """Writes results.json and results.md into `out_dir` (created if needed).

    results: either the dict returned by `per_condition_accuracy`, or a dict
    holding that dict under "conditions" next to any other entries (metrics,
    config, timings, ...). results.json gets everything, made JSON-safe with
    `json_safe`. results.md gets a table with one row per condition (Table 1
    order, then only_<m>, then the rest, then the average) giving the accuracy
    in percent to 2 decimals and the sample count, with the scikit-learn
    reference's accuracy beside each condition that results["reference"]
    covers; other top-level entries that are numbers or strings, or flat dicts
    of them, follow as tables; `appendix`, markdown sections, ends it.
    Returns (json_path, markdown_path) as pathlib.Path.
    """
    if not isinstance(results, dict) or not results:
        raise ValueError("results: expected a non-empty dict")
    nested = "conditions" in results
    per_condition = results["conditions"] if nested else results
    extras = {key: value for key, value in results.items() if key != "conditions"} if nested else {}

    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "results.json"
    markdown_path = out_dir / "results.md"

    safe = json_safe(results)
    atomic_text(json_path, json.dumps(safe, indent=2, allow_nan=False) + "\n")

    references = extras.get("reference") or {}
    condition_table = markdown_table(
        condition_rows(per_condition, references),
        columns=["condition", "accuracy_percent", "count"] + (["reference_percent", "versus_reference"]
                                                              if references else []),
        headers={"accuracy_percent": "accuracy (%)", "count": "samples", "reference_percent": "reference (%)",
                 "versus_reference": "model - reference"},
    )
    sections = [f"# {title}\n", "## Accuracy per condition\n", condition_table]
    if references:
        sections.append("Reference: " + "; ".join(
            f"{name}: {entry['description']} ({entry['train']} train / {entry['test']} test recordings"
            + (f", {entry['test_seen_in_training']} of them also in training" if entry.get("test_seen_in_training")
               else "") + ")" for name, entry in references.items()) + ".\n")
    plain = (str, int, float)
    scalars = [{"entry": k, "value": v} for k, v in safe.items() if k in extras and isinstance(v, plain)]
    if scalars:
        sections += ["## Summary\n", markdown_table(scalars, float_format="{:.4f}")]
    for key, value in safe.items():
        if key in extras and isinstance(value, dict) and value and all(isinstance(v, plain) for v in value.values()):
            rows = [{"name": name, "value": item} for name, item in value.items()]
            sections += [f"## {key}\n", markdown_table(rows, float_format="{:.4f}")]
    atomic_text(markdown_path, "\n".join([*sections, *appendix]))
    return json_path, markdown_path
