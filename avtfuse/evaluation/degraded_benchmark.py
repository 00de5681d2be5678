"""The robustness benchmark's degraded axis: each system's accuracy (and EER) against the severity of each
corruption of each sensor, the other sensors clean, and of every sensor at once, summarised by MultiBench's
relative and effective robustness.

Its input is each run's results["corruptions"] (the corrupted evaluation's output): {"severities": [0, 1, ..., 5]
(0 = the clean test recordings), "curves": {modality: {corruption: {"accuracy": [fraction per severity], "eer":
[fraction per severity] or None}}}}, the modality "all" holding the curve of every sensor corrupted at once.

Relative robustness is the trapezoid area under a curve over x = severity / the highest severity, so x runs over
[0, 1] as MultiBench's noise levels do (its helper adds trapezoids of width 0.1 over levels 0, 0.1, ..., 1): the
area is then the curve's mean height, in the metric's units, whatever the number of severities, and reads like the
rate axis's AUILC (mean height). Effective robustness is the sum over severities of the curve minus the reference
entry's curve moved to the same clean score. Both are computed per seed, then spread over seeds; the accuracy's are
max-min normalised over entries per (modality, corruption) (of the means), and each entry's totals per modality and
over every curve are means over the corruptions. An EER curve (lower is better) gets the same two raw scores,
not normalised.
"""

import numpy as np

from avtfuse.contract import MODALITIES
from avtfuse.evaluation.report import markdown_table
from avtfuse.evaluation.robustness_benchmark import (effective_robustness, max_min_normalize, percent, ratio,
                                                     relative_robustness, spread)

# The curves' modalities in report order: the sensors, then "all" (every sensor corrupted at once).
CORRUPTED_MODALITIES = (*MODALITIES, "all")
CURVE_METRICS = ("accuracy", "eer")
# The severities of the report's tables (ImageNet-C's middle and worst); the full curves are in summary.json and
# the figures.
TABLE_SEVERITIES = (3, 5)
# The robustness tables' totals columns: {key: header}.
TOTALS_HEADERS = {"relative": "relative robustness", "relative_normalized": "relative (norm.)",
                  "effective": "effective robustness", "effective_normalized": "effective (norm.)"}


def _grid(corruptions):
    """{modality: [corruption names]} of one run's results["corruptions"], modalities in report order."""
    curves = corruptions["curves"]
    unknown = sorted(set(curves) - set(CORRUPTED_MODALITIES))
    if unknown:
        raise ValueError(f"corruptions: unknown modalities {unknown}; expected some of {CORRUPTED_MODALITIES}")
    return {modality: list(curves[modality]) for modality in CORRUPTED_MODALITIES if modality in curves}


def _grid_text(grid):
    return ",".join(f"{modality}/{name}" for modality, names in grid.items() for name in sorted(names)) or "none"


def _shared_grid(by_entry, seeds, reference):
    """(severities, {modality: [corruption names]}) every run shares, in the reference's order; (None, None) when no
    run was evaluated under corruptions. Raises ValueError naming the first run that differs."""
    runs = [(entry, seed, by_entry[entry][seed].get("corruptions")) for entry in by_entry for seed in seeds]
    evaluated = [(entry, seed, corruptions) for entry, seed, corruptions in runs if corruptions]
    if not evaluated:
        return None, None
    first_entry, first_seed, first = ([run for run in evaluated if run[0] == reference] or evaluated)[0]
    severities, grid = list(first["severities"]), _grid(first)
    if not grid:
        raise ValueError(f"cells: {first_entry} seed {first_seed} has no corruption curve (its sensors have none of "
                         "the chosen corruptions)")
    if len(severities) < 2 or severities[0] != 0 or sorted(set(severities)) != severities:
        raise ValueError(f"cells: {first_entry} seed {first_seed} has severities {severities}; expected ascending "
                         "levels from 0 (clean)")
    for entry, seed, corruptions in runs:
        if not corruptions:
            raise ValueError(f"cells: {entry} seed {seed} was not evaluated under corruptions (--corruptions); "
                             f"{first_entry} seed {first_seed} was")
        if list(corruptions["severities"]) != severities:
            raise ValueError(f"cells: {entry} seed {seed} has severities {corruptions['severities']}, "
                             f"{first_entry} seed {first_seed} has {severities}")
        if _grid_text(_grid(corruptions)) != _grid_text(grid):
            raise ValueError(f"cells: {entry} seed {seed} has corruptions {_grid_text(_grid(corruptions))}, "
                             f"{first_entry} seed {first_seed} has {_grid_text(grid)}")
    return severities, grid


def _per_seed(curves, reference_curves, levels):
    """One entry's per-seed scores of one (modality, corruption, metric): curves and reference_curves are per-seed
    curves (the same seeds; None where a seed has none, e.g. an EER without the verification protocol). Returns
    {"curves", "relative": [per seed], "effective": [per seed] or None without reference curves}, or None without
    curves."""
    if curves is None:
        return None
    return {"curves": curves, "relative": [relative_robustness(levels, curve) for curve in curves],
            "effective": None if reference_curves is None else [
                effective_robustness(curve, reference) for curve, reference in zip(curves, reference_curves)]}


def _scores(per_seed):
    """{"curve": [spread per severity], "relative_robustness", "effective_robustness": spreads over seeds} of a
    `_per_seed` result (None stays None)."""
    if per_seed is None:
        return None
    return {"curve": [spread(values) for values in zip(*per_seed["curves"])],
            "relative_robustness": spread(per_seed["relative"]),
            "effective_robustness": None if per_seed["effective"] is None else spread(per_seed["effective"])}


def _mean_known(values):
    """The mean of the values that are not None; None when none is known."""
    known = [value for value in values if value is not None]
    return float(np.mean(known)) if known else None


def degraded_summary(by_entry, seeds, reference):
    """The degraded axis of a benchmark summary.

    by_entry: {entry: {seed: the run's results.json}}; seeds: the seeds every entry has; reference: the entry
    effective robustness compares against. Every run must share the severities and the corruptions (ValueError
    naming the entry otherwise).

    Returns None when no run was evaluated under corruptions, else {"reference", "severities", "levels" (the x of the
    areas: severity / highest severity), "corruptions": {modality: [names]}, "entries": {entry: {"curves":
    {modality: {corruption: {"accuracy": scores with "relative_normalized" and "effective_normalized", "eer":
    scores or None}}}, "modalities": {modality: totals}, "overall": totals}}}, scores as `_scores` returns them and
    totals {"relative_robustness", "effective_robustness": spreads over seeds of the mean over the corruptions,
    "relative_normalized", "effective_normalized": the mean of the corruptions' normalised values, "curves": how
    many corruptions}. Fractions, not percent.
    """
    severities, grid = _shared_grid(by_entry, seeds, reference)
    if grid is None:
        return None
    levels = [severity / severities[-1] for severity in severities]
    keys = [(modality, name) for modality, names in grid.items() for name in names]

    def curves(entry, modality, name, metric):
        found = [by_entry[entry][seed]["corruptions"]["curves"][modality][name].get(metric) for seed in seeds]
        for seed, curve in zip(seeds, found):
            if curve is not None and len(curve) != len(severities):
                raise ValueError(f"cells: {entry} seed {seed}: {modality}/{name} {metric} has {len(curve)} values for "
                                 f"{len(severities)} severities")
        return None if None in found else found

    per_seed = {(entry, modality, name, metric): _per_seed(curves(entry, modality, name, metric),
                                                           curves(reference, modality, name, metric), levels)
                for entry in by_entry for modality, name in keys for metric in CURVE_METRICS}
    entries = {entry: {"curves": {modality: {name: {metric: _scores(per_seed[entry, modality, name, metric])
                                                    for metric in CURVE_METRICS} for name in names}
                                  for modality, names in grid.items()}} for entry in by_entry}
    for modality, name in keys:
        accuracy = {entry: values["curves"][modality][name]["accuracy"] for entry, values in entries.items()}
        for key in ("relative", "effective"):
            normalized = max_min_normalize({entry: scores[f"{key}_robustness"]["mean"]
                                            for entry, scores in accuracy.items()})
            for entry, value in normalized.items():
                accuracy[entry][f"{key}_normalized"] = value

    def totals(entry, chosen):
        """Means over the corruptions `chosen` ([(modality, name)]) of one entry's accuracy scores."""
        accuracy = [entries[entry]["curves"][modality][name]["accuracy"] for modality, name in chosen]
        result = {f"{key}_robustness": spread(np.mean([per_seed[entry, modality, name, "accuracy"][key]
                                                       for modality, name in chosen], axis=0))
                  for key in ("relative", "effective")}
        result.update({f"{key}_normalized": _mean_known([scores[f"{key}_normalized"] for scores in accuracy])
                       for key in ("relative", "effective")})
        return {**result, "curves": len(chosen)}

    for entry, values in entries.items():
        values["modalities"] = {modality: totals(entry, [(modality, name) for name in names])
                                for modality, names in grid.items()}
        values["overall"] = totals(entry, keys)
    return {"reference": reference, "severities": severities, "levels": levels, "corruptions": grid,
            "entries": entries}


def degraded_figure_curves(degraded, modality, metric="accuracy"):
    """{corruption: {entry: [spread per severity]}} of one modality (the entries with that metric), for
    `avtfuse.evaluation.plots.plot_severity_curves`."""
    return {name: {entry: values["curves"][modality][name][metric]["curve"]
                   for entry, values in degraded["entries"].items() if values["curves"][modality][name][metric]}
            for name in degraded["corruptions"][modality]}


def modality_title(modality):
    """What a modality's curves hold, as a title: "audio corrupted, the other sensors clean"."""
    return "every sensor corrupted at once" if modality == "all" else f"{modality} corrupted, the other sensors clean"


def _severity_rows(degraded, modality, metric):
    """One modality's table rows: the clean score (severity 0: the same recordings for every corruption), then
    each corruption at TABLE_SEVERITIES (the highest severity when none of them was run)."""
    entries, names, severities = degraded["entries"], degraded["corruptions"][modality], degraded["severities"]
    shown = [severity for severity in TABLE_SEVERITIES if severity in severities] or severities[-1:]

    def cells(name, severity):
        found = {entry: values["curves"][modality][name][metric] for entry, values in entries.items()}
        return {entry: "" if scores is None else percent(scores["curve"][severities.index(severity)])
                for entry, scores in found.items()}

    return [{"corruption": "clean", "severity": f"{severities[0]:g}", **cells(names[0], severities[0])},
            *({"corruption": name, "severity": f"{severity:g}", **cells(name, severity)}
              for name in names for severity in shown)]


def _totals_row(entry, totals):
    return {"entry": entry, "relative": percent(totals["relative_robustness"]),
            "relative_normalized": ratio(totals["relative_normalized"]),
            "effective": percent(totals["effective_robustness"]),
            "effective_normalized": ratio(totals["effective_normalized"])}


def _normalized_pair(scores):
    """'relative / effective' normalised of one corruption's accuracy scores ('-' where all entries tie)."""
    return f"{ratio(scores['relative_normalized']) or '-'} / {ratio(scores['effective_normalized']) or '-'}"


def _modality_section(degraded, modality):
    """One modality's section: accuracy (and EER) at the table severities, then each entry's robustness."""
    entries, names = degraded["entries"], degraded["corruptions"][modality]
    columns = ["corruption", "severity", *entries]
    text = (f"### {modality_title(modality)}\n\nAccuracy (%), figure `degraded-{modality}.png`:\n\n"
            + markdown_table(_severity_rows(degraded, modality, "accuracy"), columns=columns))
    if any(values["curves"][modality][name]["eer"] for values in entries.values() for name in names):
        text += "\nEER (%, lower is better):\n\n" + markdown_table(_severity_rows(degraded, modality, "eer"),
                                                                      columns=columns)
    corruption_columns = {f"corruption {name}": name for name in names}
    rows = [{**_totals_row(entry, values["modalities"][modality]),
             **{column: _normalized_pair(values["curves"][modality][name]["accuracy"])
                for column, name in corruption_columns.items()}} for entry, values in entries.items()]
    text += (f"\nRobustness: per corruption, relative / effective normalised; then the means over its {len(names)} "
             "corruption(s):\n\n" + markdown_table(rows, columns=["entry", *corruption_columns, *TOTALS_HEADERS],
                                                headers={**TOTALS_HEADERS, **corruption_columns}))
    return text


def degraded_markdown(summary):
    """The degraded axis of a `benchmark_summary` (with "degraded") as markdown: a section per modality, then each
    entry's robustness over every corruption beside the rate axis's AUILC."""
    degraded = summary["degraded"]
    reference, severities = degraded["reference"], degraded["severities"]
    rows = [{**_totals_row(entry, values["overall"]), "auilc": percent(summary["entries"][entry]["auilc"])}
            for entry, values in degraded["entries"].items()]
    curves = sum(len(names) for names in degraded["corruptions"].values())
    return "\n".join([
        f"## Degraded sensors: severities {severities[0]:g}-{severities[-1]:g} (accuracy)\n\n"
        f"Each corruption at severities {severities[1]:g}-{severities[-1]:g} ({severities[0]:g}: the clean complete "
        "test recordings), mean ± sample standard deviation over seeds, in percent. Relative robustness: the area "
        f"under the accuracy curve over severity / {severities[-1]:g} (its mean height); effective robustness: the "
        f"sum over severities of the curve minus {reference}'s moved to the same clean score ({reference} scores "
        "0). Normalised: max-min over this report's entries per corruption (1 best, 0 worst). Every curve: "
        "summary.json.\n",
        *(_modality_section(degraded, modality) for modality in degraded["corruptions"]),
        f"### Robustness over every corruption (the mean over {curves} curves), beside the missing-rate AUILC\n\n"
        + markdown_table(rows, columns=["entry", "auilc", *TOTALS_HEADERS],
                         headers={**TOTALS_HEADERS, "auilc": "AUILC (rates, mean height)"}),
    ])
