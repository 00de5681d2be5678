"""The robustness benchmark across systems: its line-up (which experiment, with which flags, makes each entry),
the data settings every run shares, and its report (report.md, summary.json, robustness.png and, under
corruptions, degraded-<modality>.png)."""

import json
import os

from avtfuse.evaluation.robustness import RATE_SWEEP_METRICS as METRICS  # noqa: F401  (the --metric choices)
from avtfuse.files import atomic_text

# name: (experiment module, its flags that make the system), one line of description.
LINEUP = {
    "avtnet-e2e": ("avtnet", ["--variant", "e2e"], ("AVTNet's end-to-end baseline: branch features concatenated, "
                   "cross-entropy (the default reference of effective robustness, as MultiBench's late fusion)")),
    "avtnet": ("avtnet", ["--variant", "prop"], "AVTNet: per-modality and joint embeddings, then the recogniser"),
    "avtnet-jer-1": ("avtnet", ["--variant", "jer-1"], "AVTNet's JER-1 baseline: one dense joint embedding"),
    "sa_fusion": ("sa_fusion", ["--fusion", "ia", "--heads", "1", "--dropout", "softhard"],
                  "SA-fusion IA1 with softhard modality dropout (the paper's best)"),
    "sa_fusion-none": ("sa_fusion", ["--fusion", "ia", "--heads", "1", "--dropout", "none"],
                       "SA-fusion IA1 without modality dropout"),
    "sa_fusion-late": ("sa_fusion", ["--fusion", "ia", "--heads", "1", "--dropout", "none", "--single-sensor",
                                     "confidence"], "late fusion: SA-fusion's single-sensor specialists, their "
                       "probabilities weighted by each one's confidence (MultiBench's kind of reference)"),
    "mct_hfr": ("mct_hfr", ["--variant", "mct_hfr"], "MCT-HFR*: dynamic incomplete training, LFI + GFA"),
    "mct": ("mct_hfr", ["--variant", "mct"], "MCT: complete training data, no reconstruction"),
    "cfn_sr": ("cfn_sr", ["--variant", "cfn_sr"], "CFN-SR: audio-guided attention over the video, two stages"),
    "cfn_sr-softhard": ("cfn_sr", ["--variant", "cfn_sr", "--dropout", "softhard"],
                        "CFN-SR with softhard modality dropout (ours)"),
}
DEFAULT_SYSTEMS = ("avtnet-e2e", "avtnet", "sa_fusion", "mct_hfr", "cfn_sr")
DEFAULT_RATES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
# Data settings every run gets unless the flags after `--` say otherwise: the synthetic RAVDESS layout with thermal
# videos (6 actors, 8 emotions), actor folds.
SHARED_DATA_FLAGS = ["--synthetic", "ravdess", "--synthetic-subjects", "6", "--label", "emotion", "--protocol",
                     "folds"]

# Flags the benchmark sets for every run itself (`run_flags`), refused after `--`.
RESERVED_FLAGS = ("--variant", "--fusion", "--heads", "--dropout", "--single-sensor", "--modalities", "--fold", "--seed",
                  "--missing-rates", "--corruptions", "--run-name", "--output-dir", "--saved-models-dir", "--fresh",
                  "--plan", "--redo", "--check-data")


def run_flags(entry, seed, modalities, fold, rates, output_dir, passthrough=(), corruptions=()):
    """The flags of one (entry, seed) run of the benchmark in `output_dir`: the entry's, the shared data settings,
    the benchmark's sensors, fold, seed, rates and corruptions ("modality/name" keys; none: no corrupted
    evaluation), its run name and folders, then `passthrough`."""
    from avtfuse.runs.config import default_run_name

    corrupted = ["--corruptions", ",".join(corruptions)] if corruptions else []
    return [*LINEUP[entry][1], *SHARED_DATA_FLAGS, "--modalities", modalities, "--fold", str(fold), "--seed",
            str(seed), "--missing-rates", ",".join(f"{rate:g}" for rate in rates), *corrupted, "--run-name",
            default_run_name(entry, seed=seed), "--output-dir", os.path.join(output_dir, "runs"),
            "--saved-models-dir", os.path.join(output_dir, "saved_models"), *passthrough]


def lineup_text():
    """The line-up, one entry a line (for --help)."""
    return "\n".join(f"  {name:<16} {description}" for name, (_, _, description) in LINEUP.items())


def setup_text(config, passthrough=()):
    """The report's line on the data and settings every run shared (config: one run's ExperimentConfig)."""
    data = config.data
    source = data.source or "the built-in synthetic RAVDESS layout (thermal videos added)"
    flags = f"; flags for every run: {' '.join(passthrough)}" if passthrough else ""
    return (f"Data: {source}; sensors {','.join(data.modalities)}; label {data.label}, protocol {data.protocol}, "
            f"fold {data.fold}; preset {config.preset}{flags}. ")


def run_benchmark(cells, configure, output_dir, metric="WA", reference=None, passthrough=(), verbose=2):
    """Runs (or reads back) the run of each (entry, seed) cell (configure(cell) -> its ExperimentConfig) and writes
    the report (`write_benchmark`; `passthrough`: the flags every run was given); returns its markdown."""
    from avtfuse.runs import read_timing
    from avtfuse.training.table import run_each

    done = run_each(cells, configure, lambda cell: "{} seed {}".format(*cell), verbose)
    finished = [{"entry": entry, "seed": seed, "results": results, "timing": read_timing(config)}
                for (entry, seed), config, results in done]
    return write_benchmark(finished, output_dir, metric, reference, setup_text(done[0][1], passthrough))


def write_benchmark(finished, output_dir, metric="WA", reference=None, setup=""):
    """Summarises the finished runs ([{"entry", "seed", "results", "timing"}]) and writes report.md, summary.json,
    robustness.png (the mean curve per entry) and, where the runs were evaluated under corruptions,
    degraded-<modality>.png (accuracy against severity, a panel per corruption) into `output_dir`; returns the
    report's markdown."""
    from avtfuse.evaluation.degraded_benchmark import degraded_figure_curves, modality_title
    from avtfuse.evaluation.plots import plot_robustness_curves, plot_severity_curves
    from avtfuse.evaluation.robustness_benchmark import benchmark_markdown, benchmark_summary, mean_curves

    summary = benchmark_summary(finished, metric=metric, reference=reference)
    markdown = benchmark_markdown(summary, setup=setup)
    os.makedirs(output_dir, exist_ok=True)
    atomic_text(os.path.join(output_dir, "report.md"), markdown)
    atomic_text(os.path.join(output_dir, "summary.json"), json.dumps(summary, indent=2) + "\n")
    plot_robustness_curves(mean_curves(summary), os.path.join(output_dir, "robustness.png"), metric=metric)
    degraded = summary["degraded"] or {"corruptions": {}}
    for modality in degraded["corruptions"]:
        plot_severity_curves(degraded_figure_curves(degraded, modality), degraded["severities"],
                             os.path.join(output_dir, f"degraded-{modality}.png"),
                             title=f"accuracy, {modality_title(modality)}")
    return markdown
