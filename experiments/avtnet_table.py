"""Reproduce the AVTNet paper's Table 1 and Table 2: every variant, several seeds, both split protocols.

    python -m experiments.avtnet_table                  # all variants, seeds 0,1,2, both protocols, both ablations
    python -m experiments.avtnet_table --variants prop,e2e --seeds 0 --protocols paper --no-bimodal \\
        -- --epochs-embed 3 --epochs-recognizer 3 --image-size 32         # a small table on a CPU
    python -m experiments.avtnet_table -- --data /data/SpeakingFaces --config paper --gpus 1

Each (variant, modalities, protocol, ablation, seed) is one run, in
<output-dir>/runs/<variant>-<modalities>-<protocol>[-<ablation>]-seed<N>/
(SavedModels under <output-dir>/saved_models/). Flags after `--` are `python -m experiments.avtnet` flags
applied to every run (--data, --config, --epochs-embed, --image-size, --sampler, --gpus, ...). Running the same
command again resumes: a finished run is read back, not repeated. Writes table1.md and table1.csv (accuracy per
condition, mean and std over seeds), table2.md (prop against the bimodal AV, AT and VT runs), robustness.png and
comparison.json into <output-dir>.
"""

import argparse
import os
import sys

from avtfuse.console import configure_output, errors_exit, keras_verbosity
from avtfuse.contract import PROTOCOLS
from avtfuse.models.avtnet.presets import VARIANTS
from experiments import avtnet, flag_types

# The protocols of the default table: the paper's and the honest one (the others need data with splits or folds).
TABLE_PROTOCOLS = ("paper", "strict")
# avtnet flags this command sets for every run itself.
RESERVED_FLAGS = ("--variant", "--modalities", "--protocol", "--ablation", "--seed", "--run-name", "--output-dir",
                  "--saved-models-dir", "--fresh", "--plan", "--redo", "--check-data")


def parse_args(argv=None):
    """Returns (table arguments, avtnet arguments applied to every run)."""
    parser = argparse.ArgumentParser(prog="python -m experiments.avtnet_table", description=__doc__,
                                     allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", type=flag_types.chosen_from("--variants", VARIANTS), default=tuple(VARIANTS),
                        help=f"comma-separated variants (default all: {','.join(VARIANTS)})")
    parser.add_argument("--seeds", type=flag_types.chosen_from("--seeds", None, int), default=(0, 1, 2),
                        help="comma-separated seeds; each is its own data set, split and training (default 0,1,2)")
    parser.add_argument("--protocols", type=flag_types.chosen_from("--protocols", PROTOCOLS), default=TABLE_PROTOCOLS,
                        help=f"comma-separated split protocols from {', '.join(PROTOCOLS)} (default paper,strict)")
    parser.add_argument("--ablations", type=flag_types.chosen_from("--ablations", ("paper", "subsets")),
                        default=("paper", "subsets"), help="comma-separated training copies: paper (complete + one "
                        "missing modality, the paper's) and/or subsets (every non-empty subset) (default both)")
    parser.add_argument("--bimodal", action=argparse.BooleanOptionalAction, default=True,
                        help="also run prop on audio+visible, audio+thermal and visible+thermal (Table 2; default on)")
    parser.add_argument("--output-dir", default=os.path.join("runs", "avtnet_table"),
                        help="where the tables, plot, JSON, runs/ and saved_models/ go (default runs/avtnet_table)")
    args, passthrough = flag_types.table_args(parser, argv, RESERVED_FLAGS,
                                          "--variants, --seeds, --protocols, --ablations, --bimodal and --output-dir")
    return args, avtnet.parse_args(passthrough)


def main(argv=None):
    args, run_args = parse_args(argv)
    configure_output(run_args.verbose)
    from avtfuse.training.table import run_table, table_runs, write_reports

    def configure(run):
        return avtnet.experiment_config(argparse.Namespace(**{
            **vars(run_args), "variant": run.variant, "modalities": ",".join(run.modalities),
            "protocol": run.protocol, "ablation": run.ablation, "seed": run.seed, "run_name": run.name,
            "output_dir": os.path.join(args.output_dir, "runs"),
            "saved_models_dir": os.path.join(args.output_dir, "saved_models")}))

    runs = table_runs(args.variants, args.seeds, args.protocols, "prop" if args.bimodal else None, args.ablations)
    with errors_exit(run_args.debug):
        configure(runs[0])  # bad pass-through flags fail here, before any run starts
        finished = run_table(runs, configure, keras_verbosity(run_args.verbose, sys.stdout.isatty()))
    paths = write_reports(finished, args.output_dir)
    print(paths[0].read_text())
    print("outputs: " + ", ".join(str(path) for path in paths))


if __name__ == "__main__":
    main(sys.argv[1:])
