"""Train AVTNet (or one of its paper's baselines), report per-condition accuracy and export a SavedModel.

    python -m experiments.avtnet --gpus 1                 # built-in synthetic data, CPU-sized
    python -m experiments.avtnet --data /data/SpeakingFaces --config paper --gpus 1
    python -m experiments.avtnet --data my_manifest.csv --modalities audio,thermal
    python -m experiments.avtnet --plan                   # the run's stages, done or pending; nothing trained

Outputs go to <output-dir>/<run-name>/ (config.json, identity.json, labels.json (index = label),
results.json, results.md, timing.json, confusion_matrix.png, tensorboard/) and the SavedModel to
<saved-models-dir>/<run-name>/. Running the same command again resumes.
"""

from avtfuse.models.avtnet.presets import SYSTEM
from experiments import arguments, runner


def parse_args(argv=None):
    return arguments.parser("python -m experiments.avtnet", __doc__, SYSTEM).parse_args(argv)


def experiment_config(args):
    """The ExperimentConfig of parsed arguments."""
    from avtfuse.runs import build_experiment

    return build_experiment(SYSTEM.name, **arguments.experiment_kwargs(args, SYSTEM))


def main(argv=None):
    runner.run_and_report(parse_args(argv), experiment_config)


if __name__ == "__main__":
    main()
