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

from experiments import runner, sa_fusion

FUSIONS = ("lt1", "lt4", "it1", "it4", "ia1", "ia4")
CONDITIONS = ("complete", "only_audio", "only_visible", "average")
CONDITION_LABELS = {"complete": "AV", "only_audio": "A", "only_visible": "V", "average": "M"}

# SA-fusion paper, Table II (RAVDESS, 5 folds, accuracy %): AV / A / V / M per fusion and setting.
PAPER_TABLE_II = {
    ("lt1", "none"): (79.33, 19.83, 36.41, 45.19), ("lt1", "softhard"): (79.08, 59.16, 72.66, 70.30),
    ("lt1", "noise"): (77.08, 53.16, 68.50, 66.25),
    ("lt4", "none"): (76.42, 27.92, 30.00, 44.78), ("lt4", "softhard"): (79.25, 53.00, 70.92, 67.72),
    ("lt4", "noise"): (80.33, 54.33, 73.00, 69.22),
    ("it1", "none"): (76.41, 21.16, 18.33, 38.63), ("it1", "softhard"): (77.33, 48.41, 73.75, 66.50),
    ("it1", "noise"): (76.75, 53.75, 71.58, 67.36),
    ("it4", "none"): (78.50, 20.33, 17.33, 38.72), ("it4", "softhard"): (78.91, 44.33, 74.92, 66.05),
    ("it4", "noise"): (76.08, 54.50, 71.00, 67.19),
    ("ia1", "none"): (76.00, 18.58, 22.83, 39.13), ("ia1", "softhard"): (81.58, 58.08, 72.83, 70.83),
    ("ia1", "noise"): (78.25, 58.25, 71.66, 69.38),
    ("ia4", "none"): (77.41, 20.66, 29.83, 42.63), ("ia4", "softhard"): (79.58, 57.16, 71.83, 69.52),
    ("ia4", "noise"): (78.41, 55.75, 68.58, 67.58),
}

# sa_fusion flags this command sets for every run itself.
RESERVED_FLAGS = ("--fusion", "--heads", "--dropout", "--fold", "--run-name", "--output-dir", "--saved-models-dir",
                  "--fresh")


def parse_args(argv=None):
    """Returns (table arguments, sa_fusion arguments applied to every run)."""
    parser = argparse.ArgumentParser(prog="python -m experiments.sa_fusion_table", description=__doc__,
                                     allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fusions", type=runner.chosen_from("--fusions", FUSIONS), default=FUSIONS,
                        help=f"comma-separated fusions (default all: {','.join(FUSIONS)})")
    parser.add_argument("--dropouts", type=runner.chosen_from("--dropouts", tuple(sa_fusion.DROPOUTS)),
                        default=tuple(sa_fusion.DROPOUTS),
                        help="comma-separated settings (default none,softhard,noise)")
    parser.add_argument("--folds", type=runner.chosen_from("--folds", range(1, 6), int), default=(1,),
                        help="comma-separated actor folds 1..5 (default 1; the paper: 1,2,3,4,5)")
    parser.add_argument("--output-dir", default=os.path.join("runs", "sa_fusion_table"),
                        help="where table2.md, table2.json, runs/ and saved_models/ go (default runs/sa_fusion_table)")
    args, passthrough = runner.table_args(parser, argv, RESERVED_FLAGS,
                                             "--fusions, --dropouts, --folds and --output-dir")
    return args, sa_fusion.parse_args(passthrough)


def main(argv=None):
    args, run_args = parse_args(argv)
    from avtfuse.console import configure_output, errors_exit, keras_verbosity

    configure_output(run_args.verbose)
    from avtfuse.evaluation.fold_table import fold_table, fold_table_markdown, write_fold_table
    from avtfuse.training.experiment import finished_results, run_experiment

    def configure(fusion, dropout, fold):
        return sa_fusion.experiment_config(argparse.Namespace(**{
            **vars(run_args), "fusion": fusion[:2], "heads": int(fusion[2:]), "dropout": dropout, "fold": fold,
            "run_name": f"{fusion}-{dropout}-fold{fold}", "output_dir": os.path.join(args.output_dir, "runs"),
            "saved_models_dir": os.path.join(args.output_dir, "saved_models")}))

    cells = [(fold, dropout, fusion) for fold in args.folds for dropout in args.dropouts for fusion in args.fusions]
    runs = []
    with errors_exit(run_args.debug):
        for index, (fold, dropout, fusion) in enumerate(cells, start=1):
            config = configure(fusion, dropout, fold)
            results = finished_results(config)
            print(f"run {index}/{len(cells)}: {fusion} {dropout} fold {fold}"
                  + (" (finished earlier)" if results else ""), flush=True)
            if results is None:
                results = run_experiment(config, verbose=keras_verbosity(run_args.verbose, sys.stdout.isatty()))
            runs.append({"row": fusion, "setting": dropout, "fold": fold, "results": results})
    table = fold_table(runs, CONDITIONS)
    source = run_args.data or "synthetic RAVDESS layout"
    title = (f"SA-fusion, Table II layout: ours on {source}, preset {run_args.config}, folds "
             f"{','.join(map(str, args.folds))} (mean ± std over folds); paper: RAVDESS, 5 folds, EfficientFace "
             "pre-trained on AffectNet")
    markdown = fold_table_markdown(table, args.fusions, args.dropouts, CONDITIONS, PAPER_TABLE_II,
                                   CONDITION_LABELS, title)
    paths = write_fold_table(table, markdown, os.path.join(args.output_dir, "table2.md"),
                             os.path.join(args.output_dir, "table2.json"))
    print(markdown)
    print("outputs: " + ", ".join(paths))


if __name__ == "__main__":
    main(sys.argv[1:])
