"""Train AVTNet (or one of its paper's baselines), report per-condition accuracy and export a SavedModel.

    python -m experiments.avtnet --gpus 1                 # built-in synthetic data, CPU-sized
    python -m experiments.avtnet --data /data/SpeakingFaces --config paper --gpus 1
    python -m experiments.avtnet --data my_manifest.csv --modalities audio,thermal

Outputs go to <output-dir>/<run-name>/ (config.json, identity.json, labels.json (index = label),
results.json, results.md, timing.json, confusion_matrix.png, tensorboard/) and the SavedModel to
<saved-models-dir>/<run-name>/. Running the same command again resumes.
"""

from avtfuse.models.avtnet.config import BN_NECKS, JOINT_TOKENS, POOLINGS
from avtfuse.models.avtnet.presets import VARIANTS
from experiments import arguments, runner

VARIANT_HELP = "variants (--variant):\n" + "\n".join(
    f"  {name:<14} {variant.description}" for name, variant in VARIANTS.items())


def parse_args(argv=None):
    parser = arguments.parser("python -m experiments.avtnet", __doc__, VARIANT_HELP)
    model = parser.add_argument_group("model")
    model.add_argument("--variant", choices=list(VARIANTS), default="prop",
                       help="AVTNet or one of the paper's baselines (listed below; default prop)")
    model.add_argument("--pooling", choices=POOLINGS, default="flatten",
                       help="how feature maps enter the embedding heads (default flatten)")
    model.add_argument("--bn-neck", choices=BN_NECKS, default="joint",
                       help="embedding heads with a batch-norm neck before the L2 normalisation: joint (default), "
                       "all, or none (the paper); the same heads in every variant")
    model.add_argument("--joint-tokens", choices=JOINT_TOKENS, default="all",
                       help="tokens the joint transformer attends to and averages: all (the paper; a missing "
                       "sensor's tokens of its all-zero input too) or present (the sample's present sensors only; "
                       "recommended with --ablation subsets)")
    model.add_argument("--no-bn-neck", dest="bn_neck", action="store_const", const="none",
                       help="no batch-norm neck on any head (the paper's heads); same as --bn-neck none")
    return parser.parse_args(argv)


def experiment_config(args):
    """The ExperimentConfig of parsed arguments."""
    from avtfuse.training.experiment import build_experiment

    return build_experiment("avtnet", variant=args.variant, model={"pooling": args.pooling, "bn_neck": args.bn_neck,
                                                                      "joint_tokens": args.joint_tokens},
                            **arguments.experiment_kwargs(args))


def main(argv=None):
    runner.run_and_report(parse_args(argv), experiment_config)


if __name__ == "__main__":
    main()
