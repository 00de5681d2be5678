"""One robustness report across systems: per-condition tables, missing-rate curves, AUILC, MultiBench's relative
and effective robustness, and each system's cost, from finished runs of several seeds.

A cell is one finished run: {"entry": a name for the system and its settings, "seed": int, "results": the run's
results.json, "timing": its timing.json} where results holds "conditions" ({condition: {"accuracy": fraction}}),
"rate_sweep" (a `rate_sweep_summary`) and "parameters", and timing "training_seconds" and "latency"
({"median_ms": ...}).

MultiBench (pliang279/MultiBench, eval_scripts/robustness.py) scores a performance-imperfection curve f over levels
r_0 < ... < r_K two ways: relative robustness, the area under the curve (trapezoids); effective robustness, the sum
over levels of f_i - (g_i + f_0 - g_0), the gap to a reference method's curve g moved to start at f's clean score
(MultiBench's reference is late fusion). Both are then max-min normalised over the methods compared, so 1 is the
best method of this report and 0 the worst.
"""

import numpy as np

from avtfuse.contract import condition_order
from avtfuse.evaluation.comparison import STD_DDOF
from avtfuse.evaluation.metrics import auilc
from avtfuse.evaluation.report import markdown_table
from avtfuse.evaluation.robustness import RATE_SWEEP_METRICS


def relative_robustness(rates, scores):
    """MultiBench's relative robustness of one curve: the trapezoid area under `scores` over `rates`."""
    return auilc(rates, scores, normalize=False)


def effective_robustness(scores, reference_scores):
    """MultiBench's effective robustness: sum_i f_i - (g_i + f_0 - g_0), f = `scores`, g = `reference_scores`
    (both over the same ascending levels, the clean level first)."""
    scores = np.asarray(scores, np.float64)
    reference = np.asarray(reference_scores, np.float64)
    if scores.shape != reference.shape or scores.ndim != 1 or not scores.size:
        raise ValueError(f"scores and reference_scores: need two curves over the same levels, got shapes "
                         f"{scores.shape} and {reference.shape}")
    return float(np.sum(scores - (reference + scores[0] - reference[0])))


def max_min_normalize(values):
    """{name: (v - min) / (max - min)} over the names whose value is not None; None where all values are equal."""
    known = {name: value for name, value in values.items() if value is not None}
    if not known:
        return {name: None for name in values}
    low, high = min(known.values()), max(known.values())
    return {name: None if value is None or high == low else (value - low) / (high - low)
            for name, value in values.items()}


def spread(values):
    """{"mean", "std" (sample; None for one value), "n"} of a list of numbers."""
    values = np.asarray(values, np.float64)
    return {"mean": float(values.mean()), "std": float(values.std(ddof=STD_DDOF)) if values.size > 1 else None,
            "n": int(values.size)}


def _measured_spread(values):
    """`spread` of values measured in every run; None when a run has no measurement (--no-latency, or no
    complete test sample)."""
    return None if None in values else spread(values)


def benchmark_summary(cells, metric="WA", reference=None):
    """Summarises finished runs by entry: mean and sample standard deviation over seeds.

    cells: the list of cells (module docstring); every entry must have the same seeds and rates.
    metric: the curve's metric, one of UA, UF1, WA (accuracy), WF1.
    reference: the entry whose curve effective robustness compares against (default: the first entry).

    Returns {"metric", "reference", "seeds", "rates", "entries": {entry: {"conditions": {condition: spread of
    accuracy}, "curve": [spread per rate], "auilc", "auilc_paper", "drop", "relative_robustness",
    "effective_robustness": spreads over seeds, "relative_normalized", "effective_normalized" (of the means),
    "parameters", "training_seconds", "latency_ms": spreads}}, "degraded": the corrupted sensors' axis
    (`avtfuse.evaluation.degraded_benchmark.degraded_summary`; None when no run was evaluated under corruptions)}
    (fractions, not percent).
    """
    if metric not in RATE_SWEEP_METRICS:
        raise ValueError(f"metric: expected one of {RATE_SWEEP_METRICS}, got {metric!r}")
    if not cells:
        raise ValueError("cells: no finished run to summarise")
    by_entry, timings = {}, {}
    for cell in cells:
        by_entry.setdefault(cell["entry"], {})[cell["seed"]] = cell["results"]
        timings.setdefault(cell["entry"], {})[cell["seed"]] = cell["timing"]
    reference = reference or next(iter(by_entry))
    if reference not in by_entry:
        raise ValueError(f"reference: {reference!r} is not among the entries {sorted(by_entry)}")
    seeds = sorted(by_entry[reference])
    rates = by_entry[reference][seeds[0]]["rate_sweep"]["rates"]
    for entry, runs in by_entry.items():
        if sorted(runs) != seeds:
            raise ValueError(f"cells: {entry} has seeds {sorted(runs)}, {reference} has {seeds}")
        for seed, results in runs.items():
            if results.get("rate_sweep", {}).get("rates") != rates:
                raise ValueError(f"cells: {entry} seed {seed} was not swept over the rates {rates}")

    def curve(results):
        return results["rate_sweep"]["metrics"][metric]

    entries = {}
    for entry, runs in by_entry.items():
        ordered = [runs[seed] for seed in seeds]
        conditions = sorted({name for results in ordered for name in results["conditions"]}, key=condition_order)
        entries[entry] = {
            "conditions": {name: spread([results["conditions"][name]["accuracy"] for results in ordered])
                           for name in conditions if all(name in results["conditions"] for results in ordered)},
            "curve": [spread([curve(results)[index] for results in ordered]) for index in range(len(rates))],
            "auilc": spread([auilc(rates, curve(results)) for results in ordered]),
            "auilc_paper": spread([auilc(rates, curve(results), normalize=False) for results in ordered]),
            "drop": spread([curve(results)[0] - curve(results)[-1] for results in ordered]),
            "relative_robustness": spread([relative_robustness(rates, curve(results)) for results in ordered]),
            "effective_robustness": spread([effective_robustness(curve(runs[seed]), curve(by_entry[reference][seed]))
                                             for seed in seeds]),
            "parameters": spread([results["parameters"] for results in ordered]),
            "training_seconds": spread([timings[entry][seed]["training_seconds"] for seed in seeds]),
            "latency_ms": _measured_spread([(timings[entry][seed]["latency"] or {}).get("median_ms")
                                            for seed in seeds]),
        }
    for key in ("relative", "effective"):
        normalized = max_min_normalize({entry: values[f"{key}_robustness"]["mean"]
                                        for entry, values in entries.items()})
        for entry, value in normalized.items():
            entries[entry][f"{key}_normalized"] = value
    # the degraded axis builds on this module's scores, hence imported here
    from avtfuse.evaluation.degraded_benchmark import degraded_summary

    return {"metric": metric, "reference": reference, "seeds": seeds, "rates": rates, "entries": entries,
            "degraded": degraded_summary(by_entry, seeds, reference)}


def mean_curves(summary):
    """{entry: a rate_sweep-like summary of the mean curve} for `avtfuse.evaluation.plots.plot_robustness_curves`."""
    metric = summary["metric"]
    return {entry: {"rates": summary["rates"], "metrics": {metric: [point["mean"] for point in values["curve"]]},
                    "auilc_paper": {metric: values["auilc_paper"]["mean"]}}
            for entry, values in summary["entries"].items()}


def percent(measured):
    """A `spread` as 'mean ± std' in percent with 2 decimals (the mean alone for one seed)."""
    return _plain({key: None if measured[key] is None else 100.0 * measured[key] for key in ("mean", "std")}, 2)


def _plain(measured, digits):
    """A `spread` as 'mean ± std' with `digits` decimals (the mean alone for one seed); a rounding residue prints as
    0, not -0; "not measured" for None."""
    if measured is None:
        return "not measured"
    mean = round(measured["mean"], digits) + 0.0
    if measured["std"] is None:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {measured['std']:.{digits}f}"


def ratio(value):
    """A max-min normalised value with 2 decimals; empty for None."""
    return "" if value is None else f"{value:.2f}"


def benchmark_markdown(summary, title="Robustness benchmark", setup=""):
    """The report of a `benchmark_summary` as markdown: conditions, the rate curve, robustness, cost, then the
    degraded axis where there is one."""
    entries = summary["entries"]
    names = list(entries)
    metric = summary["metric"]
    seeds = ", ".join(str(seed) for seed in summary["seeds"])
    conditions = sorted({name for values in entries.values() for name in values["conditions"]}, key=condition_order)
    condition_rows = [{"condition": name, **{entry: percent(entries[entry]["conditions"][name])
                                             if name in entries[entry]["conditions"] else "" for entry in names}}
                      for name in conditions]
    rate_rows = [{"rate": f"{rate:g}", **{entry: percent(entries[entry]["curve"][index]) for entry in names}}
                 for index, rate in enumerate(summary["rates"])]
    span = f"{summary['rates'][0]:g}-{summary['rates'][-1]:g}"
    robustness_rows = [{
        "entry": entry,
        "auilc": percent(values["auilc"]), "auilc_paper": percent(values["auilc_paper"]),
        "drop": percent(values["drop"]),
        "relative": percent(values["relative_robustness"]), "relative_normalized": ratio(values["relative_normalized"]),
        "effective": percent(values["effective_robustness"]),
        "effective_normalized": ratio(values["effective_normalized"]),
    } for entry, values in entries.items()]
    cost_rows = [{"entry": entry, "parameters": f"{values['parameters']['mean']:,.0f}",
                  "training": _plain(values["training_seconds"], 0), "latency": _plain(values["latency_ms"], 2)}
                 for entry, values in entries.items()]
    sections = [
        f"# {title}\n\n{setup}Seeds {seeds}; mean ± sample standard deviation over seeds, in percent.\n",
        "## Accuracy per condition (test split; absent sensors as each system's missing fill)\n\n"
        + markdown_table(condition_rows, columns=["condition", *names]),
        f"## {metric} against the share of steps missing (complete test recordings, static masks; a single frame "
        "is one step)\n\n" + markdown_table(rate_rows, columns=["rate", *names]),
        f"## Robustness over rates {span} ({metric})\n\n"
        f"AUILC: the curve's mean height, and as MCT-HFR reports it (un-normalised: x {summary['rates'][-1] - summary['rates'][0]:g}). "
        "Relative robustness (MultiBench): the trapezoid area, = the un-normalised AUILC; effective robustness "
        f"(MultiBench): sum over rates of the curve minus {summary['reference']}'s moved to the same clean score "
        f"({summary['reference']} scores 0). Normalised: max-min over this report's entries (1 best, 0 worst).\n\n"
        + markdown_table(robustness_rows, columns=["entry", "auilc", "auilc_paper", "drop", "relative",
                                                   "relative_normalized", "effective", "effective_normalized"],
                         headers={"entry": "entry", "auilc": "AUILC (mean height)",
                                  "auilc_paper": "AUILC (un-normalised)", "drop": f"drop {span}",
                                  "relative": "relative robustness", "relative_normalized": "relative (norm.)",
                                  "effective": "effective robustness", "effective_normalized": "effective (norm.)"}),
        "## Cost\n\nParameters of the trained classifier; training time of the recipe (seconds, this machine); "
        "latency: median wall time of one sample through the exported SavedModel (batch 1, ms).\n\n"
        + markdown_table(cost_rows, columns=["entry", "parameters", "training", "latency"],
                         headers={"entry": "entry", "parameters": "parameters", "training": "training (s)",
                                  "latency": "latency (ms / sample)"}),
    ]
    if summary["degraded"]:
        from avtfuse.evaluation.degraded_benchmark import degraded_markdown

        sections.append(degraded_markdown(summary))
    return "\n".join(sections)
