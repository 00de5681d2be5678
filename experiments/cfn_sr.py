"""Train CFN-SR (cross-modal fusion network with self-attention and residual structure) in two stages, report the
accuracy per missing-modality condition under the strict or the paper's protocol, export a SavedModel.

    python -m experiments.cfn_sr                              # built-in synthetic RAVDESS, CFN-SR, fold 1, strict
    python -m experiments.cfn_sr --variant no_cross_modal     # Table 2's ablations: no_self_attention, no_residual
    python -m experiments.cfn_sr --dropout softhard           # CFN-SR + softhard modality dropout (ours)
    python -m experiments.cfn_sr --selection paper            # the paper's protocol: best test epoch (optimistic)
    python -m experiments.cfn_sr --data /data/RAVDESS --config paper --gpus 1

The class is the emotion (8 classes). Stage 1 pre-trains each modality's unimodal net (MFCCNet; the 3-D video
encoder) on the complete training recordings; stage 2 builds CFN-SR from those encoders and trains it end to end.
--selection strict (default): fold k of the five actor folds tests the k-th sixth of the actors and validates on
the next; each phase keeps its best validation epoch; the test split is read once. --selection paper: no
validation actors (fold k tests block k, the rest train), the test actors' complete recordings are evaluated after
every epoch and the best epoch is reported, as the paper did: an optimistic number, labelled so in results.md.
Every missing-modality condition is tested (a missing modality is zeros). Outputs as for python -m
experiments.avtnet, plus <phase>_epochs.csv per phase; running the same command again resumes.
"""

from avtfuse.models.cfn_sr.presets import DROPOUTS, PAPER_SELECTION_DATA, SYSTEM
from experiments import arguments, runner


def parse_args(argv=None):
    parser = arguments.parser("python -m experiments.cfn_sr", __doc__, SYSTEM)
    parser.own.add_argument("--dropout", choices=tuple(DROPOUTS), default="none",
                            help="modality dropout of the fusion phase: none (the paper, default) or softhard (each "
                            "batch of B becomes 4B: both, soft-weighted, audio zeroed, video zeroed; ours)")
    parser.set_defaults(modalities="audio,visible")
    return parser.parse_args(argv)


def experiment_config(args):
    """The ExperimentConfig of parsed arguments."""
    from avtfuse.runs import build_experiment

    kwargs = arguments.experiment_kwargs(args, SYSTEM)
    for section, changes in DROPOUTS[args.dropout].items():
        kwargs[section].update(changes)
    if args.selection == "paper":
        kwargs["data"].update(PAPER_SELECTION_DATA)
    parts = [value.replace("_", "-") for _, value in arguments.own_changes(args, SYSTEM)]
    return build_experiment(SYSTEM.name, name_parts=(*parts, args.dropout, args.selection), **kwargs)


def main(argv=None):
    args = parse_args(argv)
    config, results = runner.run_and_report(args, experiment_config)
    if results is not None:  # a run, not --plan or --check-data
        from avtfuse.training.epoch_selection import label_selection

        print(label_selection(config.run_dir, config.model.selection))


if __name__ == "__main__":
    main()
