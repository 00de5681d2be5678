"""One robustness benchmark across systems: each chosen system on one data set and split, tested with every
non-empty sensor subset, shares of steps missing (static masks, the same for every system) and --corruptions, for
several seeds; one report in <output-dir>: report.md, summary.json, robustness.png and degraded-<modality>.png.

    python -m experiments.robustness                                  # the default line-up, seeds 0,1,2, 0.0 ... 0.9
    python -m experiments.robustness --seeds 0 --missing-rates 0,0.3,0.6,0.9 \\
        -- --epochs-embed 10 --epochs-recognizer 10                    # the small configuration (CPU)
    python -m experiments.robustness --systems sa_fusion,cfn_sr -- --data /data/RAVDESS --gpus 1

Each (system, seed) is one run of its own experiment (its preset, its recipe) in <output-dir>/runs/<system>-seed<N>/,
SavedModels in <output-dir>/saved_models/, all on the same data: by default the built-in synthetic RAVDESS layout
with thermal videos (6 actors, 8 emotions), actor fold --fold. Flags after `--` go to every run (--data, --label,
--config, --epochs-embed, --gpus, ...). Running the same command again resumes: a finished run is read back.

Systems (--systems):
{lineup}
"""

import argparse
import importlib
import os
import sys

from avtfuse.console import configure_output, errors_exit, keras_verbosity
from avtfuse.contract import MODALITIES
from avtfuse.training.lineup import (DEFAULT_RATES, DEFAULT_SYSTEMS, LINEUP, METRICS, RESERVED_FLAGS, lineup_text,
                                     run_benchmark, run_flags)
from experiments import flag_types


def parse_args(argv=None):
    """Returns (benchmark arguments, the flags after `--`)."""
    parser = argparse.ArgumentParser(prog="python -m experiments.robustness", description=__doc__.format(
        lineup=lineup_text()), allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--systems", type=flag_types.chosen_from("--systems", LINEUP), default=DEFAULT_SYSTEMS,
                        help=f"comma-separated systems (default {','.join(DEFAULT_SYSTEMS)})")
    parser.add_argument("--seeds", type=flag_types.chosen_from("--seeds", None, int), default=(0, 1, 2),
                        help="comma-separated seeds: each its own weights, data order and masks (default 0,1,2)")
    parser.add_argument("--missing-rates", type=flag_types.missing_rates, default=DEFAULT_RATES, metavar="RATES",
                        help="shares of steps missing at test (default 0,0.1,...,0.9)")
    parser.add_argument("--corruptions", type=flag_types.corruption_names, default=(), metavar="NAMES",
                        help="also test each run under corruptions (severities 1-5): all or modality/name,...")
    parser.add_argument("--modalities", default=",".join(MODALITIES), help="comma-separated sensors of every run")
    parser.add_argument("--fold", type=int, choices=range(1, 6), default=1, metavar="1..5", help="actor fold")
    parser.add_argument("--metric", choices=METRICS, default="WA", help="the curves' metric (default WA: accuracy)")
    parser.add_argument("--reference", choices=tuple(LINEUP),
                        help="the system effective robustness compares against (default: the first of --systems)")
    parser.add_argument("--output-dir", default=os.path.join("runs", "robustness"),
                        help="where report.md, summary.json, robustness.png, runs/ and saved_models/ go")
    args, passthrough = flag_types.table_args(parser, argv, RESERVED_FLAGS, "--systems, --seeds, --missing-rates, "
                                          "--corruptions, --modalities, --fold, --output-dir")
    if args.reference and args.reference not in args.systems:
        parser.error(f"--reference: {args.reference} is not among --systems ({','.join(args.systems)})")
    return args, passthrough


def run_argv(args, system, seed, passthrough):
    """The flags of one (system, seed) run."""
    return run_flags(system, seed, args.modalities, args.fold, args.missing_rates, args.output_dir, passthrough,
                     args.corruptions)


def main(argv=None):
    args, passthrough = parse_args(argv)
    cells = [(system, seed) for seed in args.seeds for system in args.systems]
    modules = {cell: importlib.import_module(f"experiments.{LINEUP[cell[0]][0]}") for cell in cells}
    run_args = {cell: modules[cell].parse_args(run_argv(args, *cell, passthrough)) for cell in cells}
    first = run_args[cells[0]]
    configure_output(first.verbose)
    with errors_exit(first.debug):
        markdown = run_benchmark(cells, lambda cell: modules[cell].experiment_config(run_args[cell]), args.output_dir,
                                 args.metric, args.reference, passthrough, keras_verbosity(first.verbose,
                                                                                           sys.stdout.isatty()))
    print(markdown)
    print(f"outputs: {args.output_dir}/report.md, summary.json and the figures (*.png)")


if __name__ == "__main__":
    main(sys.argv[1:])
