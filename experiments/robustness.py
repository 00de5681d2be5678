"""One robustness benchmark across systems: every chosen system on one data set and split, tested with every
non-empty subset of the sensors and with shares of their steps missing (static masks, the same for every system),
for several seeds; one report.

    python -m experiments.robustness                                  # the default line-up, seeds 0,1,2, 0.0 ... 0.9
    python -m experiments.robustness --seeds 0 --missing-rates 0,0.3,0.6,0.9 \\
        -- --epochs-embed 10 --epochs-recognizer 10                    # the small configuration (CPU)
    python -m experiments.robustness --systems sa_fusion,cfn_sr -- --data /data/RAVDESS --gpus 1

Each (system, seed) is one run of its own experiment (python -m experiments.<system>, its preset, its recipe) in
<output-dir>/runs/<system>-seed<N>/, SavedModels in <output-dir>/saved_models/. Every run gets the same data
settings: by default the built-in synthetic RAVDESS layout with thermal videos (6 actors, 8 emotions), actor
fold --fold. Flags after `--` go to every run (--data, --label, --protocol, --config, --epochs-embed, --gpus,
...). Running the same command again resumes: a finished (system, seed) run is read back, not repeated.
Writes report.md, summary.json and robustness.png (mean curve per system) into <output-dir>.

Systems (--systems):
{lineup}
"""

import argparse
import importlib
import json
import os
import sys

from avtfuse.contract import MODALITIES
from experiments import runner

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
    "mct_hfr": ("mct_hfr", ["--variant", "mct_hfr"], "MCT-HFR*: dynamic incomplete training, LFI + GFA"),
    "mct": ("mct_hfr", ["--variant", "mct"], "MCT: complete training data, no reconstruction"),
    "cfn_sr": ("cfn_sr", ["--variant", "cfn_sr"], "CFN-SR: audio-guided attention over the video, two stages"),
    "cfn_sr-softhard": ("cfn_sr", ["--variant", "cfn_sr", "--dropout", "softhard"],
                        "CFN-SR with softhard modality dropout (ours)"),
}
DEFAULT_SYSTEMS = ("avtnet-e2e", "avtnet", "sa_fusion", "mct_hfr", "cfn_sr")
DEFAULT_RATES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
# Flags this command sets for every run itself.
RESERVED_FLAGS = ("--variant", "--fusion", "--heads", "--dropout", "--modalities", "--fold", "--seed",
                  "--missing-rates", "--run-name", "--output-dir", "--saved-models-dir", "--fresh")
# Data settings every run gets unless the flags after `--` say otherwise.
SHARED_DATA_FLAGS = ["--synthetic", "ravdess", "--synthetic-subjects", "6", "--label", "emotion", "--protocol",
                     "folds"]
METRICS = ("UA", "UF1", "WA", "WF1")


def parse_args(argv=None):
    """Returns (benchmark arguments, the flags after `--`)."""
    lineup = "\n".join(f"  {name:<16} {description}" for name, (_, _, description) in LINEUP.items())
    parser = argparse.ArgumentParser(prog="python -m experiments.robustness", description=__doc__.format(
        lineup=lineup), allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--systems", type=runner.chosen_from("--systems", LINEUP), default=DEFAULT_SYSTEMS,
                        help=f"comma-separated systems (default {','.join(DEFAULT_SYSTEMS)})")
    parser.add_argument("--seeds", type=runner.chosen_from("--seeds", None, int), default=(0, 1, 2),
                        help="comma-separated seeds: each its own weights, data order and masks (default 0,1,2)")
    parser.add_argument("--missing-rates", type=runner.missing_rates, default=DEFAULT_RATES, metavar="RATES",
                        help="shares of steps missing at test (default 0,0.1,...,0.9)")
    parser.add_argument("--modalities", default=",".join(MODALITIES),
                        help="comma-separated sensors of every run (default audio,visible,thermal)")
    parser.add_argument("--fold", type=int, choices=range(1, 6), default=1, metavar="1..5",
                        help="actor fold of the split (default 1)")
    parser.add_argument("--metric", choices=METRICS, default="WA",
                        help="the rate curves' metric: WA = accuracy (default), UA, UF1, WF1")
    parser.add_argument("--reference", choices=tuple(LINEUP),
                        help="the system effective robustness compares against (default: the first of --systems)")
    parser.add_argument("--output-dir", default=os.path.join("runs", "robustness"),
                        help="where report.md, summary.json, robustness.png, runs/ and saved_models/ go "
                        "(default runs/robustness)")
    args, passthrough = runner.table_args(parser, argv, RESERVED_FLAGS,
                                          "--systems, --seeds, --missing-rates, --modalities, --fold, --output-dir")
    if args.reference and args.reference not in args.systems:
        parser.error(f"--reference: {args.reference} is not among --systems ({','.join(args.systems)})")
    return args, passthrough


def run_argv(args, system, seed, passthrough):
    """The flags of one (system, seed) run."""
    _, flags, _ = LINEUP[system]
    return [*flags, *SHARED_DATA_FLAGS, "--modalities", args.modalities, "--fold", str(args.fold), "--seed",
            str(seed), "--missing-rates", ",".join(f"{rate:g}" for rate in args.missing_rates), "--run-name",
            f"{system}-seed{seed}", "--output-dir", os.path.join(args.output_dir, "runs"), "--saved-models-dir",
            os.path.join(args.output_dir, "saved_models"), *passthrough]


def main(argv=None):
    args, passthrough = parse_args(argv)
    cells = [(system, seed) for seed in args.seeds for system in args.systems]
    run_args = [importlib.import_module(f"experiments.{LINEUP[system][0]}").parse_args(
        run_argv(args, system, seed, passthrough)) for system, seed in cells]
    from avtfuse.console import configure_output, errors_exit, keras_verbosity

    configure_output(run_args[0].verbose)
    from avtfuse.evaluation.plots import plot_robustness_curves
    from avtfuse.evaluation.robustness_benchmark import (
        benchmark_markdown,
        benchmark_summary,
        mean_curves,
    )
    from avtfuse.files import atomic_text
    from avtfuse.training.experiment import (
        finished_results,
        read_timing,
        run_experiment,
    )

    finished = []
    with errors_exit(run_args[0].debug):
        for index, ((system, seed), parsed) in enumerate(zip(cells, run_args), start=1):
            config = importlib.import_module(f"experiments.{LINEUP[system][0]}").experiment_config(parsed)
            results = finished_results(config)
            print(f"run {index}/{len(cells)}: {system} seed {seed}" + (" (finished earlier)" if results else ""),
                  flush=True)
            if results is None:
                results = run_experiment(config, verbose=keras_verbosity(parsed.verbose, sys.stdout.isatty()))
            finished.append({"entry": system, "seed": seed, "results": results, "timing": read_timing(config)})
        summary = benchmark_summary(finished, metric=args.metric, reference=args.reference)
    source = run_args[0].data or "the built-in synthetic RAVDESS layout (thermal videos added)"
    setup = (f"Data: {source}; sensors {args.modalities}; label {run_args[0].label}, protocol "
             f"{run_args[0].protocol}, fold {args.fold}; preset {run_args[0].config}"
             + (f"; flags for every run: {' '.join(passthrough)}" if passthrough else "") + ". ")
    markdown = benchmark_markdown(summary, setup=setup)
    os.makedirs(args.output_dir, exist_ok=True)
    atomic_text(os.path.join(args.output_dir, "report.md"), markdown)
    atomic_text(os.path.join(args.output_dir, "summary.json"), json.dumps(summary, indent=2) + "\n")
    plot_robustness_curves(mean_curves(summary), os.path.join(args.output_dir, "robustness.png"), metric=args.metric)
    print(markdown)
    print(f"outputs: {args.output_dir}/report.md, summary.json, robustness.png")


if __name__ == "__main__":
    main(sys.argv[1:])
