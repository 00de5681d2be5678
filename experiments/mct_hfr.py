"""Train MCT-HFR (modality-collaborative transformer with hybrid feature reconstruction), evaluate it at missing
rates 0.0 ... 0.9 and per missing sensor, export a SavedModel, print its complexity.

    python -m experiments.mct_hfr                             # built-in synthetic RAVDESS, MCT-HFR*, fold 1
    python -m experiments.mct_hfr --variant mct               # MCT: complete training data, no reconstruction
    python -m experiments.mct_hfr --no-gamma-e --alignment smooth-l1 --ramp-epochs 0
    python -m experiments.mct_hfr --data /data/RAVDESS --config paper --gpus 1

Variants: mct_hfr (LFI + GFA, dynamic incomplete training: each real step dropped with probability 0.2 in a share
of the samples that rises from 0 to 1 over the first 5 epochs), mct_hfr_code (the same without the ramp, as the
public code trains), mct (complete training data, no LFI or GFA). The test split is read once, at the end: every
missing rate on static masks (the same steps for every system and run), UA / WA / UF1 / WF1 at each, the AUILC as
the curve's mean height and as the paper computes it (un-normalised: x 0.9 over 0.0 ... 0.9), and each missing-
sensor condition. Outputs as for python -m experiments.avtnet, plus robustness.png and complexity.md; running the
same command again resumes.
"""

import os

from experiments import arguments, runner

ALIGNMENTS = ("cmd", "smooth-l1", "cosine", "jsd")
POOLINGS = ("attention", "cgate")
# Training flags of this command that name a run (beside the model changes).
RUN_NAME_TRAIN_FIELDS = ("ramp_epochs", "step_dropout", "aux_start_epoch")


def parse_args(argv=None):
    from avtfuse.models.mct_hfr import VARIANTS

    parser = arguments.parser("python -m experiments.mct_hfr", __doc__)
    model = parser.add_argument_group("MCT-HFR")
    model.add_argument("--variant", choices=tuple(VARIANTS), default="mct_hfr",
                       help="; ".join(f"{name}: {v.description}" for name, v in VARIANTS.items()))
    model.add_argument("--ramp-epochs", type=int, help="epochs over which the share of incomplete training samples "
                       "rises from 0 to 1 (default 5; 0: the public code's behaviour)")
    model.add_argument("--step-dropout", type=float, help="probability of dropping each real step of a chosen "
                       "training sample (default 0.2)")
    model.add_argument("--gfa-weight", type=float, help="alpha, the weight of global feature alignment (default 0.4)")
    model.add_argument("--lfi-weight", type=float, help="beta, the weight of local feature imagination (default 0.6)")
    model.add_argument("--no-gamma-b", action="store_true", help="no key re-scaling by each modality's length")
    model.add_argument("--no-gamma-e", action="store_true", help="no key re-scaling by the total length")
    model.add_argument("--no-lfi", action="store_true", help="no local feature imagination (decoders)")
    model.add_argument("--no-gfa", action="store_true", help="no global feature alignment")
    model.add_argument("--alignment", choices=ALIGNMENTS, help="the GFA distance (default cmd)")
    model.add_argument("--pooling", choices=POOLINGS,
                       help="attention (the paper's, default) or cgate (the public code's GRU gate, masked max)")
    model.add_argument("--aux-start-epoch", type=int, help="epoch from which LFI and GFA count (default 2, the code's)")
    parser.set_defaults(label=None, protocol=None, ablation=None, audio_crop=None, batch_size=None,
                        learning_rate=None, synthetic_subjects=None, early_stopping=None)
    return parser.parse_args(argv)


def experiment_config(args):
    """The ExperimentConfig of parsed arguments."""
    from avtfuse.training.experiment import build_experiment

    kwargs = arguments.experiment_kwargs(args, sample_rate=16000)
    kwargs["train"].update(arguments.given(ramp_epochs=args.ramp_epochs, step_dropout=args.step_dropout,
                                           aux_start_epoch=args.aux_start_epoch))
    model = arguments.given(gfa_weight=args.gfa_weight, lfi_weight=args.lfi_weight, pooling=args.pooling,
                            alignment=args.alignment and args.alignment.replace("-", "_"))
    model.update({flag: False for flag in ("gamma_b", "gamma_e", "lfi", "gfa") if getattr(args, f"no_{flag}")})
    if kwargs["run_name"] is None:
        changes = {**model, **{k: v for k, v in kwargs["train"].items() if k in RUN_NAME_TRAIN_FIELDS}}
        kwargs["run_name"] = "{}{}-{}-{}-fold{}-seed{}".format(
            args.variant, "".join(_name_part(key, value) for key, value in sorted(changes.items())), args.config,
            "".join(m[0] for m in args.modalities.split(",")), args.fold, args.seed)
    return build_experiment("mct_hfr", variant=args.variant, model=model, **kwargs)


def _name_part(field, value):
    """A run-name part for a changed setting: "-no-gfa" for a switch turned off, "-ramp-epochs-0" otherwise."""
    field = field.replace("_", "-")
    return f"-no-{field}" if value is False else f"-{field}-{value}"


def complexity_table(model_config):
    """Parameters and MACs of one MRAU layer and of the whole model in training (both views, LFI decoders, GFA
    predictor) and in inference (the incomplete view), at batch 1 and the run's shapes, in the layout of the
    paper's Table 4 (its counts leave out the extractors; ours include the trainable frame encoders): markdown."""
    import tensorflow as tf

    from avtfuse.evaluation.complexity import complexity_markdown, count_macs
    from avtfuse.models.mct_hfr import MCTHFRNet

    model = MCTHFRNet(model_config)
    shapes = {m: model_config.input_shape(m) for m in model_config.modalities}
    serving = {name: tf.TensorSpec((1, *shape)) for name, shape in model.input_shapes().items()}
    training = {**serving, **{f"{m}_full": tf.TensorSpec((1, *shapes[m])) for m in shapes},
                **{f"{m}_missing": tf.TensorSpec((1, shapes[m][0])) for m in shapes}}
    model({name: tf.zeros(spec.shape) for name, spec in training.items()}, training=True)  # variables, eagerly
    layer = model.encoder.encoder_layers[0]
    layer_specs = [tf.TensorSpec((1, shapes[m][0], model_config.units)) for m in shapes]
    rows = [{"name": "one MRAU layer", "macs": count_macs(lambda tokens: layer(tokens), [layer_specs])},
            {"name": "whole model (training)", "macs": count_macs(lambda x: model(x, training=True), training)},
            {"name": "whole model (inference)", "macs": count_macs(lambda x: model(x, training=False), serving)}]
    trained_only = [*model.decoders, *([model.predictor] if model.predictor is not None else [])]
    rows[0]["parameters"] = layer.count_params()
    rows[1]["parameters"] = model.count_params()
    rows[2]["parameters"] = model.count_params() - sum(part.count_params() for part in trained_only)
    return complexity_markdown(rows)


def main(argv=None):
    config, _ = runner.run_and_report(parse_args(argv), experiment_config)
    if config.model.pooling == "cgate":
        print("complexity: not counted with --pooling cgate (the profiler counts one step of a GRU's loop)")
        return
    table = "## Complexity (batch 1, the run's shapes)\n\n" + complexity_table(config.model)
    with open(os.path.join(config.run_dir, "complexity.md"), "w") as handle:
        handle.write(table)
    print(table)


if __name__ == "__main__":
    main()
