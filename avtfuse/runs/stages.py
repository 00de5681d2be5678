"""The stages of a run that prepare, train and export (the evaluation stages are avtfuse.evaluation.stages).
Each is a function of the RunState returning a JSON-ready dict of outputs."""

import logging
import os
import time

import keras

from avtfuse.export import FEATURES_FILE, SIGNATURE_NAME, export_saved_model
from avtfuse.models import SYSTEMS
from avtfuse.runs.config import specialist_config
from avtfuse.serving.raw_signature import RAW_SIGNATURE_NAME
from avtfuse.runs.folder import SPLIT_FILE, RunFolder, digest
from avtfuse.training.phase import PhaseRunner
from avtfuse.training.recipes import RECIPES, STARTS_FROM_SPECIALISTS, RecipeContext

logger = logging.getLogger(__name__)
PORTABLE_SUFFIXES = {"litert": ".tflite", "onnx": ".onnx"}


def prepare_data(state):
    """The data and its one split (`RunState.open`): the split's sizes, the people left out of the test split,
    the test samples that share a file with a training sample (`SplitData`) and, per condition of the test split,
    how many samples arrived holding it and how many the ablation made (`SplitData.condition_sources`); the
    held-out people (`SplitData.held_out_counts`: their validation and test people, enrolment and probe
    recordings; None without them)."""
    data = state.data
    return {"data_sha256": data.content_hash, "people": data.num_people, "modalities": list(data.modalities),
            **{f"{split}_samples": data.count(split) for split in ("train", "valid", "test")},
            "test_condition_sources": data.condition_sources("test"), "skipped_recordings": data.skipped,
            "people_left_out_of_test": len(data.people_left_out_of_test()),
            "test_sharing_a_file_with_training": data.test_sharing_a_file_with_training(),
            "held_out": data.held_out_counts()}


def train_specialist(state, modality):
    """Trains (or resumes) `modality`'s specialist in its own run folder on the run's split reduced to that
    sensor (`SplitData.for_modality`), its split.csv written there."""
    if modality not in state.data.modalities:
        logger.warning("no recording has %s: no %s specialist", modality, modality)
        return {"trained": False}
    config, data = state.specialist(modality)
    with state.runtime.chief_first():  # the chief writes the specialist's folder before the other workers read it
        state.open_folder(RunFolder(config.run_dir, chief=state.chief), config, data)
    logger.info("training the %s specialist: train %d, validation %d, test %d samples", modality, data.count("train"),
                data.count("valid"), data.count("test"))
    _train(state, config, data, specialist_runs=None)
    return {"trained": True, "run_dir": config.run_dir}


def train_fused(state):
    """Trains (or resumes) the run's model with its system's recipe; with specialist_branches it starts from
    the specialists' run folders."""
    config = state.resolved
    recipe = SYSTEMS[config.system].variants[config.variant].recipe
    specialist_runs = None
    if config.specialist_branches:
        if recipe not in STARTS_FROM_SPECIALISTS:
            raise ValueError(f"specialist_branches: {config.system} ({recipe}) cannot start from specialists; "
                             f"recipes that can: {', '.join(STARTS_FROM_SPECIALISTS)}")
        specialist_runs = {m: specialist_config(state.config, m).run_dir for m in state.data.modalities}
    _train(state, config, state.data, specialist_runs)
    return {"run_dir": config.run_dir}


def _train(state, config, data, specialist_runs):
    """Runs `config`'s recipe on `data` in its run folder, seeded by its own seed (whatever ran before)."""
    start = time.time()
    keras.utils.set_random_seed(config.train.seed)
    system = SYSTEMS[config.system]
    variant = system.variants[config.variant]
    RECIPES[variant.recipe](RecipeContext(system, variant, config.model, config.train, data, state.runtime,
                                          PhaseRunner(config.run_dir, state.verbose), specialist_runs))
    state.training_seconds += time.time() - start


def export(state):
    """The SavedModel of what the run serves at <saved_models_dir>/<run_name>/, and each specialist's beside
    it (<run_name>-specialist-<m>)."""
    config = state.config
    classifier = state.served_classifier()
    path = os.path.join(config.saved_models_dir, config.run_name)
    export_saved_model(classifier, path, class_names=state.data.class_names, run=_origin(config, state.data),
                       features=state.data.config.features, calibration=state.stage_outputs("calibration"))
    specialists = {}
    if config.trains_specialists:
        for modality in state.data.modalities:
            specialist, data = state.specialist(modality)
            specialists[modality] = os.path.join(config.saved_models_dir, specialist.run_name)
            export_saved_model(state.load_classifier(specialist.run_dir), specialists[modality],
                               class_names=data.class_names, run=_origin(specialist, data))
    return {"saved_model": path, "parameters": int(classifier.count_params()), "specialists": specialists,
            "portable": _portable(path, config.export)}


def _portable(saved_model, formats):
    """{format: its file} of each of `formats` ("litert", "onnx") written in the SavedModel's folder from its
    raw-input signature (model_raw.tflite, model_raw.onnx), or, for a model without one, its feature signature
    (model.tflite, model.onnx); avtfuse.serving.portable."""
    if not formats:
        return {}
    from avtfuse.serving import portable

    raw = os.path.exists(os.path.join(saved_model, FEATURES_FILE))  # written with the raw-input signature
    written = {}
    for name in formats:
        target = os.path.join(saved_model, f"model{'_raw' if raw else ''}{PORTABLE_SUFFIXES[name]}")
        convert = portable.export_litert if name == "litert" else portable.export_onnx
        convert(saved_model, RAW_SIGNATURE_NAME if raw else SIGNATURE_NAME, target)
        written[name] = target
        logger.info("exported %s as %s", "its raw-input signature" if raw else "its feature signature", target)
    return written


def _origin(config, data):
    """run.json of an exported model: the run folder, its split file and what its models depend on."""
    return {"run_dir": os.path.abspath(config.run_dir),
            "split": os.path.abspath(os.path.join(config.run_dir, SPLIT_FILE)),
            "system": config.system, "variant": config.variant, "data_sha256": data.content_hash,
            "identity_sha256": digest(config.identity())}
