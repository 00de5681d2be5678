"""Command-line flags every experiment shares (data, training, runtime) and their mapping to
`avtfuse.training.experiment.build_experiment` keyword arguments. No TensorFlow is imported here."""

import argparse
import os

from avtfuse.contract import ABLATIONS, MODALITIES, PROTOCOLS, SINGLE_SENSOR_ANSWERS
from experiments import runner

DEFAULT_CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "avtfuse")


def parser(prog, description, epilog=None):
    """An ArgumentParser with the shared data, training and runtime flags."""
    parser = argparse.ArgumentParser(prog=prog, description=description, epilog=epilog, allow_abbrev=False,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("data")
    data.add_argument("--data", help="a SpeakingFaces root, a RAVDESS folder or a manifest CSV (media or .npy "
                      "features); omitted: the built-in synthetic set")
    data.add_argument("--label", choices=("actor", "emotion"), default="actor", help="RAVDESS classes (default actor)")
    data.add_argument("--modalities", default=",".join(MODALITIES),
                      help="comma-separated subset of audio,visible,thermal (default: all three)")
    data.add_argument("--protocol", choices=PROTOCOLS, default="paper",
                      help="paper: ablate then split samples at random (copies of a recording may cross the "
                      "split, as in the paper); strict: every copy of a recording, and every recording of a group, "
                      "on one side; official: SpeakingFaces' train/valid/test folders; manifest: its split column; "
                      "folds: actor folds (--fold) of RAVDESS or a manifest's subject column")
    data.add_argument("--validation-fraction", type=float, default=0.1,
                      help="share of the data in the validation split, which early stopping reads (default 0.1)")
    data.add_argument("--ablation", choices=ABLATIONS, default="paper",
                      help="training copies: paper (complete + one missing modality), subsets (every subset) or "
                      "complete (complete recordings only; every subset is still tested)")
    data.add_argument("--fold", type=int, choices=range(1, 6), default=1, metavar="1..5",
                      help="actor fold of --protocol folds (default 1)")
    data.add_argument("--subjects", help="SpeakingFaces subject numbers to use, e.g. 1-75 or 1,2,5")
    data.add_argument("--frame", default="middle", help="frame of a recording: middle, first, last or a number")
    data.add_argument("--image-size", type=int, help="frame height and width in pixels (small: 48, paper: 224)")
    data.add_argument("--n-mels", type=int, help="mel bands of the log-mel spectrogram (small: 64, paper: 128)")
    data.add_argument("--audio-seconds", type=float,
                      help="audio length in seconds after cutting/padding (small: 1.5, paper: 6.83 = 301,056 samples)")
    data.add_argument("--audio-crop", choices=("trim", "center", "start"), default="trim",
                      help="audio window: centred on the speech after trimming silence (default), centred on the "
                      "file, or its start")
    data.add_argument("--trim-db", type=float, default=20.0,
                      help="silence = frames this many dB below the loudest (default 20)")
    data.add_argument("--thermal-palette", default="auto",
                      help="palette colour-mapped thermal frames were written with: iron, inferno, jet, grey, ... "
                      "(default auto: the synthetic set's inferno, grey for --data)")
    data.add_argument("--synthetic", choices=("speakingfaces", "ravdess"),
                      help="the layout of the built-in synthetic set without --data (default: the system's)")
    data.add_argument("--synthetic-subjects", type=int, default=12, help="people in the synthetic set (default 12)")
    data.add_argument("--cache-dir", default=DEFAULT_CACHE_DIR,
                      help="where the synthetic set and the decoded-feature cache are written")
    data.add_argument("--missing-rates", type=runner.missing_rates, metavar="RATES",
                      help="evaluate the test split with this share of every sequence's steps missing (static "
                      "masks, the same for every system), e.g. 0,0.1,...,0.9 (MCT-HFR's default), or none")
    data.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                      help="bad input files: stop naming the file, or skip and count them")
    train = parser.add_argument_group("training")
    train.add_argument("--config", default="small", help="preset of shapes and epochs: small (default) or paper")
    train.add_argument("--sampler", choices=("random", "pk"), default="random",
                       help="training batches: random (the paper) or pk (P people x K samples, for triplet mining)")
    train.add_argument("--people-per-batch", type=int, default=8, help="P of the pk sampler; K = batch size // P")
    train.add_argument("--modality-dropout", type=float, default=0.0, help="probability of dropping each "
                       "modality of a training sample, on top of the static ablation (default 0: the paper)")
    train.add_argument("--dropout-mode", choices=("hard", "soft", "noise"), default="hard",
                       help="modality dropout as zeros (hard), alpha scaling (soft) or N(0, 1) noise")
    train.add_argument("--dropout-warmup", type=int, default=0, metavar="EPOCHS",
                       help="epochs without modality dropout first (default 0)")
    train.add_argument("--dropout-ramp", type=int, default=0, metavar="EPOCHS",
                       help="epochs over which the modality dropout rate then rises linearly to its value "
                       "(default 0: at once)")
    train.add_argument("--specialists", action="store_true",
                       help="also train the same system on each modality alone (same split) and report each "
                       "single-sensor condition beside its specialist")
    train.add_argument("--specialist-branches", action="store_true",
                       help="train the specialists first and start the fused model from them: each sensor's "
                       "branch and embedding head copied and frozen, the joint layers trained (AVTNet)")
    train.add_argument("--single-sensor", choices=SINGLE_SENSOR_ANSWERS, default="fused",
                       help="what answers a sample with one sensor left: fused (the fused model, default) or "
                       "specialist (that sensor's specialist, trained first; the report keeps the fused model's own "
                       "accuracy beside it)")
    train.add_argument("--epochs-embed", type=int, help="epochs of the first (or only) phase (small 40, paper 50)")
    train.add_argument("--epochs-recognizer", type=int, help="epochs of the recogniser (small 30, paper 25)")
    train.add_argument("--batch-size", type=int, default=32, help="batch size of every phase (default 32)")
    train.add_argument("--learning-rate", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    train.add_argument("--spec-augment", type=int, default=0, metavar="WIDTH",
                       help="SpecAugment time and frequency masks of up to WIDTH frames / bands (default 0: off)")
    train.add_argument("--early-stopping", type=int, default=0, metavar="PATIENCE",
                       help="stop a phase when validation has not improved for this many epochs (default 0: off)")
    train.add_argument("--jit-compile", action="store_true", help="compile with XLA (helps on GPUs)")
    train.add_argument("--seed", type=int, default=0,
                       help="seed of the data set, split, weight initialisation, data order and dropout")
    runtime = parser.add_argument_group("runtime and outputs (a run resumes under other values of these)")
    runtime.add_argument("--gpus", type=int, default=1, help="0 CPU; 1 one GPU; N MirroredStrategy (no GPU: the CPU)")
    runtime.add_argument("--precision", default="auto", choices=("auto", "float32", "mixed_float16", "mixed_bfloat16"),
                         help="auto: mixed_float16 on GPU, float32 on CPU")
    runtime.add_argument("--output-dir", default="runs", help="parent of the run folder (default runs)")
    runtime.add_argument("--run-name", help="name of the run folder and SavedModel (default from the settings)")
    runtime.add_argument("--saved-models-dir", default="saved_models", help="SavedModel folder (default saved_models)")
    runtime.add_argument("--fresh", action="store_true", help="delete an earlier run of this name first")
    runtime.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                         help="0 warnings only; 1 progress (default); 2 also TensorFlow's notices and Keras warnings")
    runtime.add_argument("--debug", action="store_true", help="show the Python traceback of an error")
    return parser


def experiment_kwargs(args, sample_rate=44100):
    """`build_experiment` keyword arguments from the shared flags (the system's own flags are added by the caller).

    A flag left at None (an experiment's `set_defaults(flag=None)`) keeps its preset's value."""
    features = dict(audio_crop=args.audio_crop, trim_db=args.trim_db, thermal_palette=args.thermal_palette)
    if args.image_size:
        features["image_size"] = (args.image_size, args.image_size)
    if args.n_mels:
        features["n_mels"] = args.n_mels
    if args.audio_seconds:
        features["sample_rate"] = sample_rate
        features["audio_samples"] = round(args.audio_seconds * sample_rate)
    train = dict(epochs_embed=args.epochs_embed, epochs_recognizer=args.epochs_recognizer,
                 batch_size=args.batch_size, learning_rate=args.learning_rate, sampler=args.sampler,
                 people_per_batch=args.people_per_batch, modality_dropout=args.modality_dropout,
                 dropout_warmup_epochs=args.dropout_warmup, dropout_ramp_epochs=args.dropout_ramp,
                 dropout_mode=args.dropout_mode, jit_compile=args.jit_compile, early_stopping=args.early_stopping,
                 spec_augment=args.spec_augment, seed=args.seed)
    frame = int(args.frame) if args.frame.isdigit() else args.frame
    data = dict(modalities=args.modalities, protocol=args.protocol, ablation=args.ablation, label=args.label,
                validation_fraction=args.validation_fraction, subjects=runner.subject_numbers(args.subjects),
                frame=frame, fold=args.fold, synthetic=args.synthetic, synthetic_subjects=args.synthetic_subjects,
                missing_rates=args.missing_rates,
                cache_dir=args.cache_dir, on_error=args.on_error, seed=args.seed)
    return dict(preset=args.config, data={"source": args.data, **given(**data)}, features=given(**features),
                train=given(**train), runtime=dict(gpus=args.gpus, precision=args.precision),
                specialists=args.specialists, specialist_branches=args.specialist_branches,
                single_sensor=args.single_sensor,
                run_name=args.run_name, output_dir=args.output_dir, saved_models_dir=args.saved_models_dir)


def given(**values):
    """The keyword arguments that are not None (flags left unset keep the preset's value)."""
    return {key: value for key, value in values.items() if value is not None}

