"""Train SA-fusion (self-attention audiovisual fusion with modality dropout), report AV / A / V and their mean,
export a SavedModel.

    python -m experiments.sa_fusion                          # built-in synthetic RAVDESS, IA1 + softhard, fold 1
    python -m experiments.sa_fusion --fusion lt --heads 4 --dropout noise --fold 3
    python -m experiments.sa_fusion --data /data/RAVDESS --config paper --gpus 1
    python -m experiments.sa_fusion --modalities audio,visible,thermal   # the three-sensor extension

The class is the emotion (8 classes); fold k of the five actor folds tests the k-th sixth of the actors and
validates on the next (RAVDESS: test 4k-3..4k, validate 4k+1..4k+4). Training sees complete recordings, replicated
by the modality dropout; the weights of the best validation epoch (complete recordings) are kept; the test split is
read once: AV (complete), A (video missing: zeros, or N(0, 1) with --dropout noise), V, and their mean M.
Outputs as for python -m experiments.avtnet; running the same command again resumes.
"""

from avtfuse.models.sa_fusion.presets import DROPOUTS, SYSTEM
from experiments import arguments, runner


def parse_args(argv=None):
    parser = arguments.parser("python -m experiments.sa_fusion", __doc__, SYSTEM, variants=False)
    parser.own.add_argument(
        "--dropout", choices=tuple(DROPOUTS), default="softhard",
        help="modality dropout: none; softhard (a batch of B becomes 4B: both, soft-weighted, audio zeroed, video "
        "zeroed; default); noise (3B, N(0, 1) in place of one modality, and N(0, 1) for the missing modality in "
        "evaluation)")
    parser.set_defaults(modalities="audio,visible")
    return parser.parse_args(argv)


def experiment_config(args):
    """The ExperimentConfig of parsed arguments: the variant is the fusion and its heads (ia1, ..., lt4); the system's
    own flags given (sizes, the frame encoder) name the run."""
    from avtfuse.runs import build_experiment

    kwargs = arguments.experiment_kwargs(args, SYSTEM)
    for section, changes in DROPOUTS[args.dropout].items():
        kwargs[section].update(changes)
    return build_experiment(SYSTEM.name, variant=f"{args.fusion}{args.heads}",
                            name_parts=(*sorted(arguments.own_changes(args, SYSTEM)), args.dropout), **kwargs)


def main(argv=None):
    runner.run_and_report(parse_args(argv), experiment_config)


if __name__ == "__main__":
    main()
