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

from avtfuse.models.sa_fusion.config import FRAME_ENCODERS, FUSIONS, HEADS
from experiments import arguments, runner

# --dropout: (TrainConfig.replication, DataConfig.missing_fill)
DROPOUTS = {"none": ("none", "zeros"), "softhard": ("softhard", "zeros"), "noise": ("noise", "noise")}
SAMPLE_RATE = 22050


def parse_args(argv=None):
    parser = arguments.parser("python -m experiments.sa_fusion", __doc__)
    model = parser.add_argument_group("SA-fusion")
    model.add_argument("--fusion", choices=FUSIONS, default="ia",
                       help="lt: late transformer; it: intermediate transformer; ia: intermediate attention (default)")
    model.add_argument("--heads", type=int, choices=HEADS, default=1, help="attention heads (default 1)")
    model.add_argument("--dropout", choices=tuple(DROPOUTS), default="softhard",
                       help="modality dropout: none; softhard (a batch of B becomes 4B: both, soft-weighted, audio "
                       "zeroed, video zeroed; default); noise (3B, N(0, 1) in place of one modality, and N(0, 1) "
                       "for the missing modality in evaluation)")
    model.add_argument("--frame-encoder", choices=FRAME_ENCODERS,
                       help="per-frame encoder: small (ImageBranch; small preset) or mobilenet (MobileNetV3Small "
                       "from scratch; paper preset), stand-ins for the unavailable EfficientFace weights")
    model.add_argument("--query-residual", action="store_true",
                       help="a residual from the query around each cross-attention block (not in the code)")
    parser.set_defaults(modalities="audio,visible", label=None, protocol=None, ablation=None, audio_crop=None,
                        batch_size=None, learning_rate=None, synthetic_subjects=None, early_stopping=None)
    return parser.parse_args(argv)


def experiment_config(args):
    """The ExperimentConfig of parsed arguments."""
    from avtfuse.training.experiment import build_experiment

    kwargs = arguments.experiment_kwargs(args, sample_rate=SAMPLE_RATE)
    replication, missing_fill = DROPOUTS[args.dropout]
    kwargs["train"]["replication"] = replication
    kwargs["data"]["missing_fill"] = missing_fill
    model = {"query_residual": args.query_residual}
    if args.frame_encoder:
        model["frame_encoder"] = args.frame_encoder
    variant = f"{args.fusion}{args.heads}"
    if kwargs["run_name"] is None:
        kwargs["run_name"] = "{}-{}-{}-{}-fold{}-seed{}".format(
            variant, args.dropout, args.config, "".join(m[0] for m in args.modalities.split(",")), args.fold,
            args.seed)
    return build_experiment("sa_fusion", variant=variant, model=model, **kwargs)


def main(argv=None):
    runner.run_and_report(parse_args(argv), experiment_config)


if __name__ == "__main__":
    main()
