"""Train AVTNet in two phases, report per-condition accuracy and export a SavedModel.

    python -m experiments.avtnet --gpus 1                 # built-in synthetic data, CPU-sized
    python -m experiments.avtnet --data /data/SpeakingFaces --config paper --gpus 1
    python -m experiments.avtnet --data my_manifest.csv --modalities audio,thermal

Outputs go to <output-dir>/<run-name>/ (config.json, labels.json (person id ->
label), results.json, results.md, confusion_matrix.png, tensorboard/) and the SavedModel to
<saved-models-dir>/<run-name>/. Running the same command again resumes.
"""

import argparse
import dataclasses
import json
import logging
import os
import shutil
import sys
import time

from avtfuse.modalities import MODALITIES

logger = logging.getLogger("experiments.avtnet")

# The seed paper's baselines and ablations (its Table 1) as changes of AVTNetConfig.
VARIANTS = {
    "prop": {},
    "prop-1": {"joint": "dense"},
    "prop-2": {"modality_loss": "batch_hard"},
    "prop-3": {"recognizer_embeddings": "joint"},
    "e2e": {},
    "jer-1": {"joint": "dense", "individual_embeddings": False},
    "jer-2": {"joint": "dense", "individual_embeddings": False, "joint_loss": "prototypical"},
    "dense-triplet": {"joint": "dense", "modality_loss": "batch_hard"},
}
VARIANT_HELP = """variants (--variant):
  prop           AVTNet as in the paper (default)
  prop-1         joint embedding from three dense layers instead of the transformer
  prop-2         every embedding trained with the batch-hard triplet loss (no missing-modality loss)
  prop-3         only the joint embedding feeds the recogniser
  e2e            feature branches concatenated into the recognition head, cross-entropy, one phase
  jer-1          one joint embedding (three dense layers), batch-hard triplet loss, then the recogniser
  jer-2          as jer-1 with the triplet prototypical loss
  dense-triplet  individual embeddings with batch-hard triplet loss, dense joint embedding
"""

PRESETS = {
    # CPU-sized: a few minutes on 2 cores with the built-in synthetic data.
    "small": dict(image_size=48, n_mels=64, audio_samples=66150, epochs_embed=40, epochs_recognizer=30),
    # The seed paper: 224 x 224 frames, 589 x 128 log-mels, 50 + 25 epochs.
    "paper": dict(image_size=224, n_mels=128, audio_samples=301056, epochs_embed=50, epochs_recognizer=25),
}


@dataclasses.dataclass
class ExperimentConfig:
    """Everything a run depends on; written as config.json next to its outputs."""

    data: "DataConfig"
    model: "AVTNetConfig"
    train: "TrainConfig"
    runtime: "RuntimeConfig"
    run_name: str
    variant: str = "prop"
    output_dir: str = "runs"
    saved_models_dir: str = "saved_models"

    @property
    def run_dir(self):
        return os.path.join(self.output_dir, self.run_name)

    def to_dict(self):
        return {
            "data": self.data.to_dict(),
            "model": self.model.to_dict(),
            "train": self.train.to_dict(),
            "runtime": dataclasses.asdict(self.runtime),
            "run_name": self.run_name,
            "variant": self.variant,
            "output_dir": self.output_dir,
            "saved_models_dir": self.saved_models_dir,
        }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m experiments.avtnet", description=__doc__, epilog=VARIANT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("data")
    data.add_argument("--data", help="a SpeakingFaces root folder or a manifest CSV "
                      "(person,recording,audio,visible,thermal); omitted: the built-in synthetic set")
    data.add_argument("--modalities", default=",".join(MODALITIES),
                      help="comma-separated subset of audio,visible,thermal (default: all three)")
    data.add_argument("--protocol", choices=("paper", "strict"), default="paper",
                      help="paper: ablate then split samples at random (copies of a recording may cross the "
                      "split, as in the paper); strict: every copy of a recording on one side")
    data.add_argument("--subjects", help="SpeakingFaces subject numbers to use, e.g. 1-75 or 1,2,5")
    data.add_argument("--frame", default="middle",
                      help="which frame of a recording to use: middle, first, last or a frame number")
    data.add_argument("--image-size", type=int, help="frame height and width in pixels (small: 48, paper: 224)")
    data.add_argument("--n-mels", type=int, help="mel bands of the log-mel spectrogram (small: 64, paper: 128)")
    data.add_argument("--audio-seconds", type=float,
                      help="audio length in seconds after cutting/padding (small: 1.5, paper: 6.83 = 301,056 samples)")
    data.add_argument("--synthetic-subjects", type=int, default=12,
                      help="people in the built-in synthetic set (default 12)")
    data.add_argument("--cache-dir", default=os.path.join(os.path.expanduser("~"), ".cache", "avtfuse"),
                      help="where the synthetic set and the decoded-feature cache are written")
    data.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                      help="bad input files: stop with an error naming the file, or skip and count them")
    model = parser.add_argument_group("model and training")
    model.add_argument("--config", choices=sorted(PRESETS), default="small",
                       help="preset of shapes and epochs: small (CPU demo, default) or paper")
    model.add_argument("--variant", choices=sorted(VARIANTS), default="prop",
                       help="AVTNet or one of the paper's baselines (listed below; default prop)")
    model.add_argument("--sampler", choices=("random", "pk"), default="random",
                       help="training batches: random (the paper) or pk (P people x K samples, for triplet mining)")
    model.add_argument("--people-per-batch", type=int, default=8,
                       help="P of the pk sampler; K = batch size // P (default 8)")
    model.add_argument("--modality-dropout", type=float, default=0.0,
                       help="probability of dropping each modality of a training sample at random, on top of "
                       "the static ablation (default 0: the paper)")
    model.add_argument("--dropout-mode", choices=("hard", "soft", "noise"), default="hard",
                       help="modality dropout as zeros (hard), alpha scaling (soft) or N(0, 1) noise")
    model.add_argument("--pooling", choices=("flatten", "average"), default="flatten",
                       help="how feature maps enter the embedding heads (default flatten)")
    model.add_argument("--epochs-embed", type=int, help="phase-1 epochs (small: 40, paper: 50)")
    model.add_argument("--epochs-recognizer", type=int, help="phase-2 epochs (small: 30, paper: 25)")
    model.add_argument("--batch-size", type=int, default=32, help="batch size of both phases (default 32)")
    model.add_argument("--learning-rate", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    model.add_argument("--jit-compile", action="store_true", help="compile with XLA (helps on GPUs)")
    model.add_argument("--seed", type=int, default=0, help="seed of the data set, split and training")
    runtime = parser.add_argument_group("runtime and outputs")
    runtime.add_argument("--gpus", type=int, default=1,
                         help="0: CPU; 1: one GPU; N: MirroredStrategy over N GPUs (no GPU: falls back to the CPU)")
    runtime.add_argument("--precision", default="auto",
                         choices=("auto", "float32", "mixed_float16", "mixed_bfloat16"),
                         help="auto: mixed_float16 on GPU, float32 on CPU")
    runtime.add_argument("--output-dir", default="runs", help="parent folder of the run folder (default runs)")
    runtime.add_argument("--run-name", help="name of the run folder and SavedModel (default from the settings)")
    runtime.add_argument("--saved-models-dir", default="saved_models",
                         help="where the SavedModel is exported (default saved_models)")
    runtime.add_argument("--fresh", action="store_true", help="delete an earlier run of the same name first")
    runtime.add_argument("--verbose", type=int, choices=(0, 1, 2),
                         help="Keras progress: 1 bars, 2 one line per epoch (default: 1 on a terminal, else 2)")
    return parser.parse_args(argv)


def parse_subjects(text):
    """'1-75' or '1,2,5' -> tuple of ints; None stays None."""
    if not text:
        return None
    subjects = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        try:
            subjects.extend(range(int(first), int(last or first) + 1))
        except ValueError:
            raise ValueError(f"--subjects: cannot read {part!r}; use e.g. 1-75 or 1,2,5") from None
    return tuple(subjects)


def build_config(args):
    from avtfuse.models.avtnet import AVTNetConfig
    from avtfuse.training.config import TrainConfig
    from avtfuse.training.runtime import RuntimeConfig
    from pipelines.dataset import DataConfig
    from pipelines.features import FeatureConfig

    preset = PRESETS[args.config]
    size = args.image_size or preset["image_size"]
    sample_rate = 44100
    samples = round(args.audio_seconds * sample_rate) if args.audio_seconds else preset["audio_samples"]
    features = FeatureConfig(
        sample_rate=sample_rate, audio_samples=samples, n_mels=args.n_mels or preset["n_mels"],
        image_size=(size, size))
    frame = int(args.frame) if args.frame.isdigit() else args.frame
    data = DataConfig(
        source=args.data, modalities=args.modalities, features=features, protocol=args.protocol,
        subjects=parse_subjects(args.subjects), frame=frame, synthetic_subjects=args.synthetic_subjects,
        cache_dir=args.cache_dir, on_error=args.on_error, seed=args.seed)
    model = AVTNetConfig(
        modalities=data.modalities, audio_shape=(features.audio_frames, features.n_mels),
        image_size=features.image_size, pooling=args.pooling, **VARIANTS[args.variant])
    train = TrainConfig(
        epochs_embed=preset["epochs_embed"] if args.epochs_embed is None else args.epochs_embed,
        epochs_recognizer=preset["epochs_recognizer"] if args.epochs_recognizer is None else args.epochs_recognizer,
        batch_size=args.batch_size, learning_rate=args.learning_rate, sampler=args.sampler,
        people_per_batch=args.people_per_batch, modality_dropout=args.modality_dropout,
        dropout_mode=args.dropout_mode, jit_compile=args.jit_compile, seed=args.seed)
    runtime = RuntimeConfig(gpus=args.gpus, precision=args.precision)
    run_name = args.run_name or "{}-{}-{}-{}-seed{}".format(
        args.variant, args.config, "".join(m[0] for m in data.modalities), args.protocol, args.seed)
    return ExperimentConfig(
        data, model, train, runtime, run_name, args.variant, args.output_dir, args.saved_models_dir)


def prepare_run_dir(config, fresh):
    """Creates the run folder; an earlier run with other settings is an error, not silently reused."""
    path = os.path.join(config.run_dir, "config.json")
    if fresh:
        shutil.rmtree(config.run_dir, ignore_errors=True)
    wanted = json.loads(json.dumps(config.to_dict()))
    if os.path.exists(path):
        with open(path) as f:
            earlier = json.load(f)
        if earlier != wanted:
            raise SystemExit(
                f"{config.run_dir} holds a run with other settings (see its config.json). "
                "Pass --fresh to replace it, or --run-name to start another.")
        logger.info("resuming the run in %s", config.run_dir)
    os.makedirs(config.run_dir, exist_ok=True)
    with open(path, "w") as f:
        json.dump(wanted, f, indent=2)


def run(config, fresh=False, verbose=2):
    """Runs the whole experiment; returns the results dict (also written to results.json)."""
    from avtfuse.evaluation import (
        classification_metrics, per_condition_accuracy, plot_confusion_matrix, write_results)
    from avtfuse.export import export_saved_model
    from avtfuse.training.runtime import setup_runtime
    from avtfuse.training.trainer import TwoPhaseTrainer
    from pipelines.dataset import prepare
    from pipelines.recording import save_label_mapping

    start = time.time()
    prepare_run_dir(config, fresh)
    runtime = setup_runtime(config.runtime)
    data = prepare(config.data)
    save_label_mapping({name: i for i, name in enumerate(data.class_names)},
                       os.path.join(config.run_dir, "labels.json"))
    logger.info("%d people; train %d samples %s; test %d samples %s", data.num_people,
                data.count("train"), data.condition_counts("train"), data.count("test"),
                data.condition_counts("test"))
    trainer = TwoPhaseTrainer(config.model, config.train, data, runtime, config.run_dir, verbose=verbose)
    embedding_model, recognizer, test_set = trainer.run(end_to_end=config.variant == "e2e")
    embeddings, labels, present = test_set
    predicted = recognizer.predict(embeddings, verbose=0).argmax(-1)
    export_path = os.path.join(config.saved_models_dir, config.run_name)
    export_saved_model(embedding_model, recognizer, export_path, class_names=data.class_names)
    results = {
        "conditions": per_condition_accuracy(labels, predicted, present, config.data.modalities),
        "metrics": classification_metrics(labels, predicted),
        "variant": config.variant,
        "modalities": list(config.data.modalities),
        "protocol": config.data.protocol,
        "sampler": config.train.sampler,
        "device": runtime.device,
        "precision": runtime.precision,
        "train_samples": data.count("train"),
        "test_samples": data.count("test"),
        "skipped_recordings": data.skipped,
        "saved_model": export_path,
        "seconds": round(time.time() - start, 1),
    }
    write_results(results, config.run_dir, title=f"AVTNet: {config.run_name}")
    plot_confusion_matrix(labels, predicted, data.class_names, os.path.join(config.run_dir, "confusion_matrix.png"))
    logger.info("SavedModel written to %s; run took %.0f s", export_path, results["seconds"])
    return results


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        config = build_config(args)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    verbose = args.verbose if args.verbose is not None else (1 if sys.stdout.isatty() else 2)
    results = run(config, fresh=args.fresh, verbose=verbose)
    with open(os.path.join(config.run_dir, "results.md")) as f:
        print(f.read())
    print(f"outputs: {config.run_dir}  SavedModel: {results['saved_model']}  time: {results['seconds']} s")


if __name__ == "__main__":
    main()
