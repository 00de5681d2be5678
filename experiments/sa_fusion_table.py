"""Reproduce the SA-fusion paper's Table II: every fusion (LT, IT, IA x 1 or 4 heads) x modality-dropout setting
(none, softhard, noise) x condition (AV, A, V, mean M), mean and standard deviation over actor folds, with the
paper's numbers beside.

    python -m experiments.sa_fusion_table                       # all 18 cells, fold 1, small preset (CPU)
    python -m experiments.sa_fusion_table --folds 1,2,3,4,5 -- --data /data/RAVDESS --config paper --gpus 1
    python -m experiments.sa_fusion_table --fusions ia1,lt1 --dropouts none,softhard -- --epochs-embed 5

Each (fusion, dropout, fold) is one run in <output-dir>/runs/ (SavedModels under <output-dir>/saved_models/).
Flags after `--` are `python -m experiments.sa_fusion` flags applied to every run. Running the same command again
resumes: a finished run is read back, not repeated. Writes table2.md and table2.json into <output-dir>.
The paper's numbers are RAVDESS, five folds, EfficientFace pre-trained on AffectNet; ours name their data set,
preset and folds in the heading.
"""

import argparse
import os
import sys

from avtfuse.models.sa_fusion.table import CONDITION_LABELS, CONDITIONS, PAPER_TABLE_II, ROWS as FUSIONS
from experiments import flag_types, sa_fusion

# sa_fusion flags this command sets for every run itself.
RESERVED_FLAGS = ("--fusion", "--heads", "--dropout", "--fold", "--run-name", "--output-dir", "--saved-models-dir",
                  "--fresh", "--plan", "--redo", "--check-data")


def parse_args(argv=None):
    """Returns (table arguments, sa_fusion arguments applied to every run)."""
    parser = argparse.ArgumentParser(prog="python -m experiments.sa_fusion_table", description=__doc__,
                                     allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fusions", type=flag_types.chosen_from("--fusions", FUSIONS), default=FUSIONS,
                        help=f"comma-separated fusions (default all: {','.join(FUSIONS)})")
    parser.add_argument("--dropouts", type=flag_types.chosen_from("--dropouts", tuple(sa_fusion.DROPOUTS)),
                        default=tuple(sa_fusion.DROPOUTS), help="comma-separated settings (default all)")
    parser.add_argument("--folds", type=flag_types.chosen_from("--folds", range(1, 6), int), default=(1,),
                        help="comma-separated actor folds 1..5 (default 1; the paper: 1,2,3,4,5)")
    parser.add_argument("--output-dir", default=os.path.join("runs", "sa_fusion_table"),
                        help="where table2.md, table2.json, runs/ and saved_models/ go (default runs/sa_fusion_table)")
    args, passthrough = flag_types.table_args(parser, argv, RESERVED_FLAGS, "--fusions, --dropouts, --folds, --output-dir")
    return args, sa_fusion.parse_args(passthrough)


def main(argv=None):
    args, run_args = parse_args(argv)
    from avtfuse.console import configure_output, errors_exit, keras_verbosity
    from avtfuse.evaluation.fold_table import fold_table, fold_table_markdown, write_fold_table
    from avtfuse.runs import default_run_name
    from avtfuse.training.table import run_each

    configure_output(run_args.verbose)

    def configure(cell):
        fusion, dropout, fold = cell
        return sa_fusion.experiment_config(argparse.Namespace(**{
            **vars(run_args), "fusion": fusion[:2], "heads": int(fusion[2:]), "dropout": dropout, "fold": fold,
            "run_name": default_run_name(fusion, dropout, f"fold{fold}"), "output_dir": os.path.join(
                args.output_dir, "runs"), "saved_models_dir": os.path.join(args.output_dir, "saved_models")}))

    cells = [(fusion, dropout, fold) for fold in args.folds for dropout in args.dropouts for fusion in args.fusions]
    with errors_exit(run_args.debug):
        done = run_each(cells, configure, lambda cell: "{} {} fold {}".format(*cell),
                        keras_verbosity(run_args.verbose, sys.stdout.isatty()))
    table = fold_table([{"row": fusion, "setting": dropout, "fold": fold, "results": results}
                        for (fusion, dropout, fold), _, results in done], CONDITIONS)
    config = done[0][1]
    title = (f"SA-fusion, Table II layout: ours on {config.data.source or 'synthetic RAVDESS layout'}, preset "
             f"{config.preset}, folds {','.join(map(str, args.folds))} (mean ± std over folds); paper: RAVDESS, "
             "5 folds, EfficientFace pre-trained on AffectNet")
    markdown = fold_table_markdown(table, args.fusions, args.dropouts, CONDITIONS, PAPER_TABLE_II, CONDITION_LABELS,
                                   title)
    paths = write_fold_table(table, markdown, os.path.join(args.output_dir, "table2.md"),
                             os.path.join(args.output_dir, "table2.json"))
    print(markdown)
    print("outputs: " + ", ".join(paths))


if __name__ == "__main__":
    main(sys.argv[1:])
