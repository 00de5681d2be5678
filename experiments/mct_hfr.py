"""Train MCT-HFR (modality-collaborative transformer with hybrid feature reconstruction), evaluate it at missing
rates 0.0 ... 0.9 and per missing sensor, export a SavedModel, print its complexity.

    python -m experiments.mct_hfr                             # built-in synthetic RAVDESS, MCT-HFR*, fold 1
    python -m experiments.mct_hfr --variant mct               # MCT: complete training data, no reconstruction
    python -m experiments.mct_hfr --no-gamma-e --alignment smooth_l1 --ramp-epochs 0
    python -m experiments.mct_hfr --data /data/RAVDESS --config paper --gpus 1

Variants: mct_hfr (LFI + GFA, dynamic incomplete training: each real step dropped with probability 0.2 in a share
of the samples that rises from 0 to 1 over the first 5 epochs), mct_hfr_code (the same without the ramp, as the
public code trains), mct (complete training data, no LFI or GFA). The test split is read once, at the end: every
missing rate on static masks (the same steps for every system and run), UA / WA / UF1 / WF1 at each, the AUILC as
the curve's mean height and as the paper computes it (un-normalised: x 0.9 over 0.0 ... 0.9), and each missing-
sensor condition. The system's own flags given name the run. Outputs as for python -m experiments.avtnet, plus
robustness.png and complexity.md; running the same command again resumes.
"""

from avtfuse.models.mct_hfr import SYSTEM
from experiments import arguments, runner


def parse_args(argv=None):
    return arguments.parser("python -m experiments.mct_hfr", __doc__, SYSTEM).parse_args(argv)


def experiment_config(args):
    """The ExperimentConfig of parsed arguments; the system's own flags given name the run."""
    from avtfuse.runs import build_experiment

    return build_experiment(SYSTEM.name, name_parts=sorted(arguments.own_changes(args, SYSTEM)),
                            **arguments.experiment_kwargs(args, SYSTEM))


def main(argv=None):
    args = parse_args(argv)
    config, results = runner.run_and_report(args, experiment_config)
    if results is not None:  # a run, not --plan or --check-data
        from avtfuse.training.mct_hfr_complexity import write_complexity

        print(write_complexity(config))


if __name__ == "__main__":
    main()
