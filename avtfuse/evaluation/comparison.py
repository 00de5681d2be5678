"""Compares finished runs across variants and seeds: the paper's Table 1, Table 2 and a robustness plot.

Input is a list of runs, each a dict
    {"variant": "prop", "modalities": ["audio", "visible", "thermal"], "protocol": "paper", "seed": 0,
     "ablation": "paper", "results": <the run's results.json>, "config": <the run's config.json>}
("ablation", the training copies, defaults to "paper"), where results["conditions"] maps condition names (complete, missing_<m>, only_<m>, ..., average) to
{"accuracy": fraction in [0, 1], ...}. `summarise` turns them into one entry per (variant, modalities,
protocol, ablation) with the mean and standard deviation over seeds, in percent; the writers format that summary.
"""

import csv
import json
import pathlib

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from avtfuse.contract import AVERAGE, MODALITIES, canonical_modalities, condition_order, headline_conditions
from avtfuse.evaluation.accuracy import TABLE1_CONDITIONS
from avtfuse.evaluation.report import json_safe, markdown_table

# Standard deviation over seeds is the sample standard deviation (np.std with ddof=1);
# with a single seed it is undefined and reported as None (an empty cell).
STD_DDOF = 1

PROTOCOL_NOTES = {
    "paper": "Samples split at random after ablation; copies of one recording may cross the split, as in the paper",
    "strict": "Every ablated copy of a recording on one side of the split",
}

# Table 2 compares the trimodal reference variant with its bimodal runs.
TABLE2_VARIANT = "prop"
# The paper's ablation; a variant trained on other copies is labelled with them.
PAPER_ABLATION = "paper"


def variant_label(variant, ablation):
    """A variant's name in the tables: "prop" under the paper's ablation, "prop [subsets]" under another."""
    return variant if ablation == PAPER_ABLATION else f"{variant} [{ablation}]"


def modality_initials(modalities):
    """("audio", "visible") -> "AV"; canonical order."""
    return "".join(name[0].upper() for name in canonical_modalities(modalities))


def _table1_order(name):
    """Sort key: Table-1 conditions, the average, then only_<m> and the rest."""
    if name == AVERAGE:
        return (0, len(TABLE1_CONDITIONS), name)
    return condition_order(name)


def _check_run(index, run):
    for key in ("variant", "modalities", "protocol", "seed", "results"):
        if key not in run:
            raise ValueError(f"runs[{index}]: missing key {key!r}")
    conditions = run["results"].get("conditions") if isinstance(run["results"], dict) else None
    if not isinstance(conditions, dict) or not conditions:
        raise ValueError(f"runs[{index}] ({run['variant']}, {run['protocol']}, seed {run['seed']}): "
                         "results has no 'conditions' dict")
    for name, entry in conditions.items():
        if not isinstance(entry, dict) or "accuracy" not in entry:
            raise ValueError(f"runs[{index}] ({run['variant']}, {run['protocol']}, seed {run['seed']}): "
                             f"condition {name!r} has no 'accuracy'")


def _sampler(run):
    """The run's batch sampler: results["sampler"], else config["train"]["sampler"], else None."""
    return run["results"].get("sampler") or ((run.get("config") or {}).get("train") or {}).get("sampler")


def summarise(runs):
    """Mean and standard deviation over seeds of every condition's accuracy, in percent.

    runs: list of run dicts (see the module docstring). Returns a list with one
    entry per (variant, modalities, protocol), in order of first appearance:
        {"variant", "modalities" (list, canonical order), "label" ("prop" or "prop (AV)" for a
         subset of the modalities), "protocol", "seeds" (sorted list), "sampler" (the batch
         samplers of the runs, from results["sampler"] or config["train"]["sampler"], joined by
         "+", or "not recorded"),
         "conditions": {name: {"mean": %, "std": % or None, "n": seeds with that condition,
                               "values": per-seed % in seed order}}}
    with conditions ordered Table 1, average, then only_<m> and the rest. std is
    np.std(values, ddof=STD_DDOF) (the sample standard deviation; None for one value).
    Raises ValueError for malformed runs or a seed given twice for the same entry.
    """
    runs = list(runs)
    if not runs:
        raise ValueError("runs: empty; need at least one finished run")
    groups = {}
    for index, run in enumerate(runs):
        _check_run(index, run)
        key = (run["variant"], canonical_modalities(run["modalities"]), run["protocol"],
               run.get("ablation", PAPER_ABLATION))
        members = groups.setdefault(key, [])
        if any(member["seed"] == run["seed"] for member in members):
            raise ValueError(f"runs[{index}]: seed {run['seed']} of {variant_label(key[0], key[3])} "
                             f"{modality_initials(key[1])} {key[2]} given twice")
        members.append(run)

    summary = []
    for (variant, modalities, protocol, ablation), members in groups.items():
        members = sorted(members, key=lambda run: run["seed"])
        names = sorted({name for run in members for name in run["results"]["conditions"]}, key=_table1_order)
        conditions = {}
        for name in names:
            values = [100.0 * float(run["results"]["conditions"][name]["accuracy"])
                      for run in members if name in run["results"]["conditions"]]
            std = float(np.std(values, ddof=STD_DDOF)) if len(values) > STD_DDOF else None
            conditions[name] = {"mean": float(np.mean(values)), "std": std, "n": len(values), "values": values}
        samplers = sorted({str(sampler) for sampler in map(_sampler, members) if sampler})
        label = variant_label(variant, ablation)
        if len(modalities) < len(MODALITIES):
            label = f"{label} ({modality_initials(modalities)})"
        summary.append({
            "variant": variant, "modalities": list(modalities), "label": label, "protocol": protocol,
            "ablation": ablation,
            "seeds": [run["seed"] for run in members], "sampler": "+".join(samplers) or "not recorded",
            "conditions": conditions,
        })
    return summary


def protocols(summary):
    """Protocol names in order of first appearance."""
    return list(dict.fromkeys(entry["protocol"] for entry in summary))


def _trimodal(summary, protocol):
    return [entry for entry in summary
            if entry["protocol"] == protocol and len(entry["modalities"]) == len(MODALITIES)]


def table1_conditions(summary, protocol):
    """Table 1 columns of `protocol`: the paper's four conditions, the average, then every
    single-modality (only_<m>) condition that any trimodal entry has."""
    seen = {name for entry in _trimodal(summary, protocol) for name in entry["conditions"]}
    extra = sorted((name for name in seen if name.startswith("only_")), key=condition_order)
    return list(TABLE1_CONDITIONS) + [AVERAGE] + extra


def table1_rows(summary, protocol):
    """One row per trimodal variant of `protocol`, numeric, as written to table1.csv:
    {"protocol", "variant" (`variant_label`), "ablation", "seeds" (count), "sampler", "<condition>_mean",
    "<condition>_std"}
    for each of `table1_conditions` (None where a variant lacks the condition or std is undefined)."""
    rows = []
    for entry in _trimodal(summary, protocol):
        row = {"protocol": protocol, "variant": entry["label"], "ablation": entry["ablation"],
               "seeds": len(entry["seeds"]), "sampler": entry["sampler"]}
        for name in table1_conditions(summary, protocol):
            stats = entry["conditions"].get(name, {})
            row[f"{name}_mean"] = stats.get("mean")
            row[f"{name}_std"] = stats.get("std")
        rows.append(row)
    return rows


def _mark_best(rows, names, label_key):
    """Markdown rows with "mean ± std" cells; the highest mean of each column (as shown, 2 decimals) in bold."""
    cells = [{label_key: row[label_key]} for row in rows]
    for name in names:
        shown = [None if row[f"{name}_mean"] is None else round(row[f"{name}_mean"], 2) for row in rows]
        best = max((value for value in shown if value is not None), default=None)
        for row, value, out in zip(rows, shown, cells):
            if value is None:
                continue
            std = row[f"{name}_std"]
            text = f"{value:.2f}" if std is None else f"{value:.2f} ± {std:.2f}"
            out[name] = f"**{text}**" if value == best else text
    return cells


def _header(title, summary):
    samplers = sorted({entry["sampler"] for entry in summary})
    return (f"# {title}\n\nAccuracy (%) per missing-sensor condition: mean ± standard deviation over seeds "
            f"(sample std, ddof={STD_DDOF}; none shown for a single seed). Best mean per column in bold.\n\n"
            f"Batch sampler: {', '.join(samplers)}.\n")


def _protocol_heading(protocol, entries):
    note = PROTOCOL_NOTES.get(protocol)
    seeds = sorted({seed for entry in entries for seed in entry["seeds"]})
    return (f"## {protocol} protocol\n\n" + (f"{note}. " if note else "")
            + f"Seeds: {', '.join(str(seed) for seed in seeds)}.\n")


def _condition_header(name):
    return name.replace("_", " ")


def table1_markdown(summary):
    """Table 1 as markdown: a section per protocol, one row per trimodal variant."""
    sections = [_header("AVTNet variants under missing sensors (Table 1)", summary)]
    for protocol in protocols(summary):
        rows = table1_rows(summary, protocol)
        if not rows:
            continue
        names = table1_conditions(summary, protocol)
        cells = _mark_best(rows, names, "variant")
        for cell, row in zip(cells, rows):
            cell["seeds"] = row["seeds"]
        sections += [_protocol_heading(protocol, _trimodal(summary, protocol)), markdown_table(
            cells, columns=["variant", "seeds"] + names, headers={name: _condition_header(name) for name in names})]
    return "\n".join(sections)


def write_table1(summary, out_dir):
    """Writes table1.md (see `table1_markdown`) and table1.csv (the rows of `table1_rows` for
    every protocol; empty cells for None) into `out_dir`. Returns (md_path, csv_path)."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown_path, csv_path = out_dir / "table1.md", out_dir / "table1.csv"
    markdown_path.write_text(table1_markdown(summary))
    rows = [row for protocol in protocols(summary) for row in table1_rows(summary, protocol)]
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows([{key: "" if value is None else value for key, value in row.items()} for row in rows])
    return markdown_path, csv_path


def table2_rows(summary, protocol, variant=TABLE2_VARIANT):
    """Rows of Table 2 for `protocol`: `variant` on all modalities, then on each subset (AV, AT, VT), under
    each ablation, {"modalities" (initials, with the ablation when not the paper's: "AVT [subsets]"), "seeds", "complete_mean", "complete_std", "average_mean",
    "average_std", "averaged" (the conditions in the average)}."""
    entries = [entry for entry in summary if entry["protocol"] == protocol and entry["variant"] == variant]
    entries.sort(key=lambda entry: (entry["ablation"] != PAPER_ABLATION, -len(entry["modalities"]),
                                    [MODALITIES.index(name) for name in entry["modalities"]]))
    rows = []
    for entry in entries:
        initials = modality_initials(entry["modalities"])
        row = {"modalities": initials if entry["ablation"] == PAPER_ABLATION else f"{initials} [{entry['ablation']}]",
               "seeds": len(entry["seeds"])}
        for name in ("complete", AVERAGE):
            stats = entry["conditions"].get(name, {})
            row[f"{name}_mean"] = stats.get("mean")
            row[f"{name}_std"] = stats.get("std")
        averaged = [name for name in entry["conditions"] if name in headline_conditions(entry["modalities"])]
        row["averaged"] = ", ".join(_condition_header(name) for name in averaged)
        rows.append(row)
    return rows


def write_table2(summary, out_dir, variant=TABLE2_VARIANT):
    """Writes table2.md into `out_dir`: `variant` trimodal against its bimodal runs, complete accuracy
    and the average, a section per protocol. Returns the path, or None when no protocol has any
    bimodal run of `variant` (nothing is written)."""
    sections = []
    for protocol in protocols(summary):
        entries = [entry for entry in summary if entry["protocol"] == protocol and entry["variant"] == variant]
        if not any(len(entry["modalities"]) < len(MODALITIES) for entry in entries):
            continue
        rows = table2_rows(summary, protocol, variant)
        cells = _mark_best(rows, ["complete", AVERAGE], "modalities")
        for cell, row in zip(cells, rows):
            cell.update(seeds=row["seeds"], averaged=row["averaged"])
        sections += [_protocol_heading(protocol, entries), markdown_table(
            cells, columns=["modalities", "seeds", "complete", AVERAGE, "averaged"],
            headers={AVERAGE: "average", "averaged": "average over"})]
    if not sections:
        return None
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "table2.md"
    title = f"Trimodal {variant} against its bimodal variants (Table 2)"
    path.write_text("\n".join([_header(title, summary)] + sections))
    return path


def plot_robustness(summary, path):
    """Plots accuracy (%) per condition for each trimodal variant as a PNG at `path`.

    One panel per protocol; x: the Table 1 columns (see `table1_conditions`), separated by light
    lines; one marker per variant and condition, side by side within a condition so that the
    error bars (± std over seeds) do not overlap. Creates missing parent
    folders; returns the path as pathlib.Path. Raises ValueError when there is no trimodal entry.
    """
    panels = [protocol for protocol in protocols(summary) if _trimodal(summary, protocol)]
    if not panels:
        raise ValueError("summary: no run on all three modalities to plot")
    names = list(dict.fromkeys(name for protocol in panels for name in table1_conditions(summary, protocol)))
    labels = list(dict.fromkeys(entry["label"] for protocol in panels for entry in _trimodal(summary, protocol)))
    colours = {label: f"C{index % 10}" for index, label in enumerate(labels)}
    markers = "os^Dv<>ph*"
    spread = 0.75

    figure = Figure(figsize=(max(6.0, 1.1 * len(names)) * len(panels) + 2.5, 4.8), dpi=100)
    FigureCanvasAgg(figure)
    axes_list = figure.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    for axes, protocol in zip(axes_list, panels):
        for entry in _trimodal(summary, protocol):
            index = labels.index(entry["label"])
            offset = (index - (len(labels) - 1) / 2) * spread / max(len(labels), 1)
            xs, means, stds = [], [], []
            for position, name in enumerate(names):
                stats = entry["conditions"].get(name)
                if stats is not None:
                    xs.append(position + offset)
                    means.append(stats["mean"])
                    stds.append(stats["std"] or 0.0)
            axes.errorbar(xs, means, yerr=stds, color=colours[entry["label"]], marker=markers[index % len(markers)],
                          linestyle="none", markersize=6, capsize=3, label=entry["label"])
        for boundary in np.arange(len(names) - 1) + 0.5:
            axes.axvline(boundary, color="0.85", linewidth=0.8)
        axes.set_xticks(np.arange(len(names)), labels=[_condition_header(name) for name in names],
                        rotation=30, ha="right")
        axes.set_title(f"{protocol} protocol")
        axes.grid(axis="y", alpha=0.3)
    axes_list[0].set_ylabel("accuracy (%), mean ± std over seeds")
    handles, legend_labels = axes_list[-1].get_legend_handles_labels()
    figure.legend(handles, legend_labels, loc="center right", title="variant")
    figure.tight_layout(rect=(0, 0, 1 - 2.2 / figure.get_figwidth(), 1))

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def write_comparison_json(runs, summary, path):
    """Writes {"std_ddof", "summary", "runs"} as JSON at `path` (runs keep their results and config).
    Returns the path as pathlib.Path."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"std_ddof": STD_DDOF, "summary": summary, "runs": list(runs)}
    path.write_text(json.dumps(json_safe(document), indent=2, allow_nan=False) + "\n")
    return path
