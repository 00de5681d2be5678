"""One experiment: config, data, the variant's recipe, evaluation, export and the run folder.

    config = build_experiment("avtnet", variant="prop", preset="small", data={"protocol": "strict"})
    results = run_experiment(config)

A run folder <output_dir>/<run_name>/ holds config.json (the whole config),
identity.json (what the results depend on: the config less runtime and path
settings, plus the SHA-256 of the data's decoded contents), labels.json,
results.json, results.md, timing.json, confusion_matrix.png, tensorboard/,
checkpoints/ and each phase's models. The SavedModel goes to
<saved_models_dir>/<run_name>/. Running the same config again resumes; a
folder whose identity differs is refused.
"""

import dataclasses
import json
import logging
import os
import shutil
import time

import keras
import numpy as np
import tensorflow as tf

from avtfuse.config import Config
from avtfuse.contract import LABELS_FILE, SINGLE_SENSOR_ANSWERS, condition_name, save_class_names
from avtfuse.evaluation import (
    classification_metrics,
    per_condition_accuracy,
    plot_confusion_matrix,
    plot_robustness_curves,
    rate_sweep_markdown,
    rate_sweep_summary,
    write_results,
)
from avtfuse.evaluation.accuracy import headline_rows
from avtfuse.evaluation.latency import serving_latency
from avtfuse.evaluation.reference import reference_accuracy, reference_description
from avtfuse.evaluation.specialists import specialist_comparison, specialist_markdown
from avtfuse.export import export_saved_model, load_serving
from avtfuse.files import atomic_text
from avtfuse.models import SYSTEMS
from avtfuse.models.specialist_fallback import SpecialistFallback
from avtfuse.training.config import TrainConfig
from avtfuse.training.phase import PhaseRunner
from avtfuse.training.recipes import CLASSIFIER_FILE, RECIPES, STARTS_FROM_SPECIALISTS, RecipeContext
from avtfuse.training.runtime import RuntimeConfig, setup_runtime
from pipelines.dataset import DataConfig, prepare
from pipelines.features import FeatureConfig
from pipelines.step_masks import realised_missing_rate

logger = logging.getLogger(__name__)
TIMING_FILE = "timing.json"


# The completion marker of a whole run (evaluated, exported, reported).
RUN_PHASE = "run"
RATE_SWEEP_TITLE = "Missing steps (complete test recordings, static masks)"


class RunMismatch(ValueError):
    """A run folder holds a run with other settings or other data."""


@dataclasses.dataclass
class ExperimentConfig(Config):
    """Everything a run depends on; written as config.json next to its outputs.

    system, variant, preset: names in `avtfuse.models.SYSTEMS`. model: the
    system's model config (a dict of its fields is accepted). specialists:
    also train, for each modality of a multimodal run, a specialist (the same
    settings on that modality alone, `specialist_config`) and report it beside
    the fused model's single-sensor condition. specialist_branches: train the
    specialists first and start the fused model from them, each sensor's
    layers copied and frozen (embed-then-recognise systems; the specialists
    are reported too). single_sensor: what answers a sample with one sensor
    left: "fused" (the fused model) or "specialist" (that sensor's specialist,
    trained first: `SpecialistFallback`; the report gives the fused model's own
    accuracy beside it). run_name, output_dir, saved_models_dir: where the
    outputs go.
    """

    system: str = "avtnet"
    variant: str = "prop"
    preset: str = "small"
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: object = None
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    runtime: RuntimeConfig = dataclasses.field(default_factory=RuntimeConfig)
    specialists: bool = False
    specialist_branches: bool = False
    single_sensor: str = "fused"
    run_name: str = "run"
    output_dir: str = "runs"
    saved_models_dir: str = "saved_models"

    def __post_init__(self):
        self.check_choice("system", SYSTEMS)
        system = SYSTEMS[self.system]
        self.check_choice("variant", system.variants)
        self.check_choice("preset", system.presets)
        self.model = system.config_class.coerce(self.model)
        self.check_bool("specialists", "specialist_branches")
        self.check_choice("single_sensor", SINGLE_SENSOR_ANSWERS)
        if not self.run_name or os.sep in self.run_name:
            self._fail("run_name", "a folder name")

    @property
    def trains_specialists(self):
        """Whether the run trains (and reports) single-sensor specialists."""
        return self.specialists or self.specialists_first

    @property
    def specialists_first(self):
        """Whether the specialists train before the fused model (which starts from them or falls back on them)."""
        return self.specialist_branches or self.single_sensor == "specialist"

    @property
    def run_dir(self):
        return os.path.join(self.output_dir, self.run_name)

    def identity(self):
        """What the results depend on: the config less runtime settings and locations (a dict)."""
        values = self.to_dict()
        for key in ("runtime", "run_name", "output_dir", "saved_models_dir"):
            values.pop(key)
        for key in DataConfig.LOCATION_FIELDS:
            values["data"].pop(key)
        return values


def build_experiment(system="avtnet", variant=None, preset=None, data=None, features=None, model=None,
                     train=None, runtime=None, specialists=False, run_name=None, output_dir="runs",
                     saved_models_dir="saved_models", specialist_branches=False, single_sensor="fused"):
    """An ExperimentConfig from a system's preset and variant plus changes per section (dicts of fields).

    The model config follows from the variant and the data's shapes; `data`,
    `train`, `features` and `model` changes go over the preset's (and `train` over the variant's). The default
    run name is <variant>-<preset>-<modality initials>-<protocol>-seed<seed>.
    """
    if system not in SYSTEMS:
        raise ValueError(f"system: {system!r} is unknown; choose from {', '.join(SYSTEMS)}")
    spec = SYSTEMS[system]
    variant = variant or next(iter(spec.variants))
    preset_name = preset or next(iter(spec.presets))
    preset = spec.preset(preset_name)
    feature_config = FeatureConfig(**{**preset.features, **(features or {})})
    data_config = DataConfig(**{**preset.data, **(data or {}), "features": feature_config})
    model_config = spec.model_config(
        variant, data_config.modalities, feature_config.shapes(data_config.modalities),
        **{**preset.model, **(model or {})})
    train_config = TrainConfig(**{**preset.train, **spec.variants[variant].train, **(train or {})})
    if run_name is None:
        run_name = "{}-{}-{}-{}-seed{}".format(variant, preset_name, "".join(m[0] for m in data_config.modalities),
                                               data_config.protocol, train_config.seed)
    return ExperimentConfig(system, variant, preset_name, data_config, model_config, train_config,
                            RuntimeConfig(**(runtime or {})), specialists, specialist_branches, single_sensor, run_name,
                            output_dir, saved_models_dir)


def specialist_config(config, modality):
    """The single-sensor specialist of `config`: the same settings on `modality` alone, in the run folder
    <run_name>-specialist-<modality> beside it (and its SavedModel likewise)."""
    shapes = config.data.features.shapes((modality,))
    model = config.model.replace(modalities=(modality,), **SYSTEMS[config.system].input_fields(shapes))
    return config.replace(data=config.data.replace(modalities=(modality,)), model=model, specialists=False,
                          specialist_branches=False, single_sensor="fused",
                          run_name=f"{config.run_name}-specialist-{modality}")


def run_specialists(config, data, results, fresh, verbose, fused_alone=None):
    """Runs (or resumes) the specialist of each of the run's modalities; returns `specialist_comparison` of
    `results` (the fused run's) against them; fused_alone: the fused model's own `per_condition_accuracy` when
    the run's model falls back on the specialists (None otherwise)."""
    specialist_conditions = {}
    for modality in data.modalities:
        logger.info("training the %s specialist", modality)
        specialist_conditions[modality] = run_experiment(specialist_config(config, modality), fresh,
                                                         verbose)["conditions"]
    return specialist_comparison(results["conditions"], results["reference"], specialist_conditions,
                                 data.modalities, fused_alone)


def load_classifier(run_dir, runtime):
    """The trained classifier a finished run left in its folder (`CLASSIFIER_FILE`)."""
    path = os.path.join(run_dir, CLASSIFIER_FILE)
    if not os.path.exists(path):
        raise RunMismatch(f"{run_dir}: no {CLASSIFIER_FILE} (a run of an earlier release); pass --fresh to train it "
                          "again")
    with runtime.strategy.scope():
        return keras.models.load_model(path)


def open_run_dir(config, data_sha256, fresh=False, chief=True):
    """Creates or reopens the run folder; refuses one whose identity (settings and data) differs. Another worker
    than the chief (`chief` False) writes nothing: it checks that the folder the chief opened holds its run."""
    if fresh and chief:
        shutil.rmtree(config.run_dir, ignore_errors=True)
    identity = {"config": config.identity(), "data_sha256": data_sha256}
    identity = json.loads(json.dumps(identity))
    path = os.path.join(config.run_dir, "identity.json")
    if os.path.exists(path):
        earlier = _read_json(path)
        if earlier != identity:
            what = "other data" if earlier.get("config") == identity["config"] else "other settings"
            raise RunMismatch(f"{config.run_dir} holds a run with {what} (see its identity.json); "
                              "pass --fresh to replace it, or --run-name to start another")
        if chief:
            logger.info("resuming the run in %s", config.run_dir)
    elif not chief:
        raise RunMismatch(f"{config.run_dir}: the chief's run folder is not there; every worker must see "
                          "--output-dir at the same path (one machine or a shared file system)")
    if not chief:
        return
    _write_json(path, identity)
    _write_json(os.path.join(config.run_dir, "config.json"), config.to_dict())


def read_timing(config):
    """A finished run's timing.json: {"seconds" (the whole invocation), "training_seconds" (its recipe), "latency"
    (`serving_latency` of the SavedModel)}; runs of earlier releases lack the last two."""
    return _read_json(os.path.join(config.run_dir, TIMING_FILE))


def finished_results(config):
    """The results of a finished run of `config` in its folder, or None when it has not finished.

    A finished run of other settings raises RunMismatch (its data is checked
    when the run is opened by `run_experiment`).
    """
    if not PhaseRunner(config.run_dir).is_done(RUN_PHASE):
        return None
    earlier = _read_json(os.path.join(config.run_dir, "identity.json"))
    if earlier["config"] != json.loads(json.dumps(config.identity())):
        raise RunMismatch(f"{config.run_dir} holds a finished run with other settings (see its identity.json); "
                          "use another output folder or delete that one")
    return _read_json(os.path.join(config.run_dir, "results.json"))


def run_experiment(config, fresh=False, verbose=2):
    """Runs (or resumes) the experiment; returns the results dict (also in results.json)."""
    start = time.time()
    runtime = setup_runtime(config.runtime)
    keras.utils.set_random_seed(config.train.seed)
    tf.config.experimental.enable_op_determinism()
    with runtime.chief_first():  # the chief writes the data cache and the run folder before other workers read them
        data = prepare(config.data)
        fit_model_to_data(config, data)
        open_run_dir(config, data.content_hash, fresh, chief=runtime.worker.is_chief)
        if runtime.worker.is_chief:
            save_class_names(data.class_names, os.path.join(config.run_dir, LABELS_FILE))
    logger.info("%d classes; train %d samples %s; validation %d; test %d samples %s", data.num_people,
                data.count("train"), data.condition_counts("train"), data.count("valid"), data.count("test"),
                data.condition_counts("test"))
    runner = PhaseRunner(config.run_dir, verbose)
    if runner.is_done(RUN_PHASE):
        logger.info("%s already finished: its results.json stands", config.run_dir)
        return _read_json(os.path.join(config.run_dir, "results.json"))
    system = SYSTEMS[config.system]
    variant = system.variants[config.variant]
    trained = time.time()
    specialist_runs = None
    if config.specialist_branches and variant.recipe not in STARTS_FROM_SPECIALISTS:
        raise ValueError(f"specialist_branches: {config.system} ({variant.recipe}) cannot start from specialists; "
                         f"recipes that can: {', '.join(STARTS_FROM_SPECIALISTS)}")
    if config.specialists_first and len(data.modalities) > 1:
        specialist_runs = {}
        for modality in data.modalities:
            logger.info("training the %s specialist first", modality)
            specialist = specialist_config(config, modality)
            run_experiment(specialist, fresh, verbose)
            specialist_runs[modality] = specialist.run_dir
        keras.utils.set_random_seed(config.train.seed)  # the fused run as seeded, however its specialists ran
    classifier = RECIPES[variant.recipe](RecipeContext(
        system, variant, config.model, config.train, data, runtime, runner,
        specialist_runs if config.specialist_branches else None))
    fused = classifier
    if config.single_sensor == "specialist" and specialist_runs:
        classifier = SpecialistFallback.around(fused, {modality: load_classifier(folder, runtime)
                                                       for modality, folder in specialist_runs.items()})
    trained = round(time.time() - trained, 1)
    if not runtime.worker.is_chief:  # the chief evaluates and writes; the other workers train its specialists with it
        for modality in data.modalities if config.trains_specialists and len(data.modalities) > 1 else ():
            run_experiment(specialist_config(config, modality), fresh, verbose)
        runtime.barrier()
        return _read_json(os.path.join(config.run_dir, "results.json"))

    logger.info("evaluating on %d test samples", data.count("test"))
    labels, predicted, present = predict_batches(classifier, data.batches("test", config.train.batch_size))
    export_path = os.path.join(config.saved_models_dir, config.run_name)
    export_saved_model(classifier, export_path, class_names=data.class_names)
    results = summarize(labels, predicted, present, config, runtime, data)
    results["reference"] = reference_results(data, results["conditions"], config.train.seed)
    results["saved_model"] = export_path
    results["parameters"] = int(classifier.count_params())
    latency = serving_latency(load_serving(export_path), data.batches("test", 1, complete_only=True),
                              classifier.serving_spec())
    appendix = []
    if config.trains_specialists and len(data.modalities) > 1:
        fused_alone = None
        if fused is not classifier:
            fused_alone = per_condition_accuracy(*predict_batches(fused, data.batches("test", config.train.batch_size)),
                                                 data.modalities)
        results["specialists"] = run_specialists(config, data, results, fresh, verbose, fused_alone)
        appendix.append(specialist_markdown(results["specialists"]))
    if config.data.missing_rates:
        results["rate_sweep"] = rate_sweep(classifier, data, config.data.missing_rates, config.train.batch_size)
        appendix += [rate_sweep_markdown(results["rate_sweep"], title=RATE_SWEEP_TITLE),
                     "Realised share of the real steps missing: " + "; ".join(
                         f"rate {rate:g}: " + ", ".join(f"{m} {share:.3f}" for m, share in shares.items())
                         for rate, shares in results["rate_sweep"]["realised"].items()) + ".\n"]
        plot_robustness_curves({config.run_name: results["rate_sweep"]}, os.path.join(config.run_dir,
                                                                                        "robustness.png"))
    write_results(results, config.run_dir, title=f"{config.system}: {config.run_name}", appendix=appendix)
    headline = headline_rows(present, data.modalities)
    plot_confusion_matrix(labels[headline], predicted[headline], data.class_names,
                          os.path.join(config.run_dir, "confusion_matrix.png"))
    seconds = round(time.time() - start, 1)
    # Measurements of this machine, not results: a resumed run counts the time of its last invocation only.
    _write_json(os.path.join(config.run_dir, TIMING_FILE), {"seconds": seconds, "training_seconds": trained,
                                                           "latency": latency})
    runner.finish(RUN_PHASE, {})
    runtime.barrier()  # the other workers read results.json now
    logger.info("SavedModel written to %s; run took %.0f s", export_path, seconds)
    return results


def fit_model_to_data(config, data):
    """Sets the model config's modalities and input shapes to those of the prepared data, where they differ from
    the settings' (a modality no recording has; `.npy` features of their own shape). With one modality left,
    batch replication (which drops one of several modalities) is turned off, with a warning."""
    fields = {"modalities": data.modalities, **SYSTEMS[config.system].input_fields(data.shapes)}
    if any(getattr(config.model, name) != value for name, value in fields.items()):
        logger.info("model inputs follow the data: %s", data.shapes)
        config.model = config.model.replace(**fields)
    if len(data.modalities) == 1 and config.train.replication != "none":
        logger.warning("modality dropout %s needs two modalities; the run has %s alone: trained without it",
                       config.train.replication, data.modalities[0])
        config.train = config.train.replace(replication="none")


def reference_results(data, conditions, seed):
    """The scikit-learn reference of each single-modality condition, trained on the same split:
    {"only_<m>": {"accuracy", "model_accuracy", "description", "train", "test", "test_seen_in_training"}}
    (accuracies as fractions; counts of recordings; under the paper protocol most test recordings have other
    copies, with the same file, in training: `test_seen_in_training` counts them)."""
    references = {}
    for modality in data.modalities:
        name = condition_name([int(m == modality) for m in data.modalities], data.modalities)
        if name not in conditions:
            continue
        train_inputs, train_labels = data.modality_arrays(modality, "train")
        test_inputs, test_labels = data.modality_arrays(modality, "test")
        if len(set(train_labels)) < 2 or not len(test_labels):
            continue
        kind = modality if modality != "audio" or _audio_is_log_mel(data) else "audio features"
        references[name] = {
            "accuracy": reference_accuracy(kind, train_inputs, train_labels, test_inputs, test_labels, seed),
            "model_accuracy": conditions[name]["accuracy"],
            "description": reference_description(kind, train_inputs),
            "train": len(train_labels), "test": len(test_labels),
            "test_seen_in_training": int((data.modality_rows(modality, "train")
                                          & data.modality_rows(modality, "test")).sum())}
    return references


def _audio_is_log_mel(data):
    """True when the audio input is the log-mel spectrogram the reference turns into MFCC statistics (not MFCCs,
    nor `.npy` features of their own shape, which it summarises as a feature sequence)."""
    features = data.config.features
    return features.audio_features == "log_mel" and tuple(data.shapes["audio"]) == features.shapes(["audio"])["audio"]


def rate_sweep(classifier, data, rates, batch_size):
    """The test split's complete recordings (every sensor present) scored with `rates` of their sequences' real
    steps missing (static masks; a single frame is one step): `rate_sweep_summary` plus "realised" {rate:
    {modality: share of real steps missing}} and "samples" (the recordings scored at each rate)."""
    labels_per_rate, predicted_per_rate, realised = [], [], {}
    for rate in rates:
        batches = data.batches("test", batch_size, missing_rate=rate, complete_only=True)
        labels, predicted, _ = predict_batches(classifier, batches)
        if not len(labels):
            raise ValueError("missing_rates: the test split holds no complete recording to sweep the rates on")
        labels_per_rate.append(labels)
        predicted_per_rate.append(predicted)
        realised[rate] = realised_missing_rate(batches, data.modalities)  # complete recordings: no absence
    summary = rate_sweep_summary(rates, labels_per_rate, predicted_per_rate)
    logger.info("missing-rate sweep: UA %s; AUILC UA %.4f (paper's un-normalised %.4f)",
                " ".join(f"{r:g}:{v:.3f}" for r, v in zip(summary["rates"], summary["metrics"]["UA"])),
                summary["auilc"]["UA"], summary["auilc_paper"]["UA"])
    return {**summary, "realised": realised, "samples": int(len(labels_per_rate[0]))}


def predict_batches(classifier, batches):
    """Labels, predicted labels and presence bits of every sample of a dataset of (inputs, labels) batches (such
    as `SplitData.batches(split, ...)`): ([N], [N], [N, M])."""
    labels, predicted, present = [], [], []
    for inputs, label in batches:
        probabilities = keras.ops.convert_to_numpy(classifier(inputs, training=False))
        predicted.append(probabilities.argmax(-1))
        labels.append(label.numpy())
        present.append(inputs["present"].numpy())
    return np.concatenate(labels), np.concatenate(predicted), np.concatenate(present)


def summarize(labels, predicted, present, config, runtime, data):
    """results.json: accuracy per condition, and WA/UA/WF1/UF1 over the headline conditions alone."""
    model = config.model
    headline = headline_rows(present, data.modalities)
    return {
        "conditions": per_condition_accuracy(labels, predicted, present, data.modalities),
        "metrics": classification_metrics(labels[headline], predicted[headline]),
        "metrics_over": "the headline conditions (complete and each one-modality-missing view)",
        "system": config.system,
        "variant": config.variant,
        "modalities": list(data.modalities),
        "protocol": config.data.protocol,
        "fold": config.data.fold if config.data.protocol == "folds" else None,
        "sampler": config.train.sampler,
        "replication": config.train.replication,
        "missing_fill": config.data.missing_fill,
        "bn_neck_heads": list(getattr(model, "bn_neck_heads", ())),
        "device": runtime.device,
        "precision": runtime.precision,
        "train_samples": data.count("train"),
        "validation_samples": data.count("valid"),
        "test_samples": data.count("test"),
        "skipped_recordings": data.skipped,
    }


def _read_json(path):
    with open(path) as handle:
        return json.load(handle)


def _write_json(path, values):
    atomic_text(path, json.dumps(values, indent=2) + "\n")
