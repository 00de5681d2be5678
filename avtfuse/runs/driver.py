"""Executes a run's plan: each stage in order, those finished earlier with the same settings skipped, so a run
killed anywhere resumes to the same results; `--redo STAGE` forgets one stage and those after it.

    results = run_experiment(build_experiment("avtnet", data={"protocol": "strict"}))
    print(plan_text(config))
"""

import glob
import logging
import os
import shutil

import keras
import tensorflow as tf

from avtfuse.evaluation.report import json_safe
from avtfuse.files import inside
from avtfuse.runs.folder import RunFolder, RunMismatch, read_json
from avtfuse.runs.plan import plan, stage_keys
from avtfuse.runs.state import RunState
from avtfuse.training.runtime import setup_runtime
from avtfuse.training.workers import worker_role
from pipelines.dataset import data_sha256

logger = logging.getLogger(__name__)

# The files and folders a recipe's training leaves in a run folder, which --redo of its stage deletes.
TRAINING_STATE = ("checkpoints", "*.done", "*.keras", "tensorboard", "*_epochs.csv")


def run_experiment(config, fresh=False, verbose=2, redo=None):
    """Runs (or resumes) the plan of `config`; returns the results dict (also in results.json).

    fresh: delete the run's folders first. redo: the name of a stage to run again with every stage after it
    (a training stage's checkpoints and models are deleted). verbose: Keras progress (0, 1 or 2). The chief holds
    the run folder's lock throughout (RunFolder.exclusive): a second run on the same folder is refused at once, naming
    the first (FolderInUse); the other workers of a cluster write nothing and take no lock."""
    stages = plan(config)
    names = [stage.name for stage in stages]
    if redo is not None and redo not in names:
        raise ValueError(f"--redo: {redo!r} is not a stage of this run; its stages: {', '.join(names)}")
    if not worker_role().is_chief:
        return _run_plan(config, stages, fresh, verbose, redo)
    with RunFolder(config.run_dir).exclusive():
        return _run_plan(config, stages, fresh, verbose, redo)


def _run_plan(config, stages, fresh, verbose, redo):
    """run_experiment's work, once the run folder is this process's to write (see there)."""
    keys = stage_keys(stages)
    runtime = setup_runtime(config.runtime)
    keras.utils.set_random_seed(config.train.seed)
    tf.config.experimental.enable_op_determinism()
    state = RunState(config, runtime, verbose)
    state.stage_names = [stage.name for stage in stages]
    if runtime.worker.is_chief:
        if fresh:
            for folder in dict.fromkeys(folder for stage in stages for folder in stage.discards):
                shutil.rmtree(inside(folder, config.output_dir), ignore_errors=True)
        if redo is not None:
            forget_from(stages, redo, state.folder)
    results = _finished(config, state.folder, keys["report"])
    if results is not None:
        logger.info("%s already finished: its results.json stands", config.run_dir)
        return results
    state.open()
    for stage in stages:
        if not (stage.trains or state.chief) or state.folder.is_done(stage.name, keys[stage.name]):
            continue
        logger.info("stage %s", stage.name)
        state.outputs[stage.name] = json_safe(stage.run(state))
        state.folder.finish_stage(stage.name, keys[stage.name], state.outputs[stage.name])
    runtime.barrier()  # the other workers read results.json now
    results = read_json(state.folder.path("results.json"))
    if state.chief:
        logger.info("SavedModel written to %s; run took %.0f s", results["saved_model"], state.elapsed())
    return results


def forget_from(stages, name, folder):
    """Forgets stage `name` and every stage after it in the plan: their records in `folder` (a RunFolder), and
    what a training stage among them left in its run folder."""
    names = [stage.name for stage in stages]
    for stage in stages[names.index(name):]:
        folder.forget_stage(stage.name)
        for run_dir in stage.discards:
            _discard_training(run_dir)


def _discard_training(run_dir):
    """Deletes what training left in a run folder (`TRAINING_STATE`), so that its recipe trains again."""
    folder = RunFolder(run_dir)
    if not os.path.isdir(run_dir):
        return
    for pattern in TRAINING_STATE:
        for path in glob.glob(os.path.join(run_dir, pattern)):
            folder.remove(os.path.basename(path))


def plan_text(config):
    """The run's stages, one line each: done, or pending (with why: never run, or run with other settings)."""
    stages = plan(config)
    keys = stage_keys(stages)
    folder = RunFolder(config.run_dir)
    lines = [f"plan of {config.run_dir}:"]
    for number, stage in enumerate(stages, 1):
        record = folder.stage_record(stage.name)
        status = "done" if record and record["key"] == keys[stage.name] else \
            "pending" if record is None else "pending (settings changed)"
        needs = f"  <- {', '.join(stage.needs)}" if stage.needs else ""
        lines.append(f"{number:>3}. {stage.name:<20} {status}{needs}")
    return "\n".join(lines)


def finished_results(config):
    """The results of a finished run of `config` in its folder, or None when it has not finished. A finished
    run of other settings, or of other data, raises RunMismatch."""
    folder = RunFolder(config.run_dir)
    identity = folder.path("identity.json")
    if os.path.exists(identity) and read_json(identity)["config"] != json_safe(config.identity()):
        raise RunMismatch(f"{config.run_dir} holds a run with other settings (see its identity.json); use another "
                          "output folder or delete that one")
    return _finished(config, folder, stage_keys(plan(config))["report"])


def _finished(config, folder, report_key):
    """The results.json of `folder` (a RunFolder) when its report stage is done with `report_key`, else None;
    RunMismatch when the run was trained on other data than `config.data` now gives (identity.json's
    data_sha256 against pipelines.dataset.data_sha256: the files, or what decodes them, changed)."""
    if not folder.is_done("report", report_key):
        return None
    trained_on = read_json(folder.path("identity.json")).get("data_sha256")
    current = data_sha256(config.data)
    if trained_on != current:
        raise RunMismatch(f"{config.run_dir} finished on other data (data_sha256 {str(trained_on)[:12]} in its "
                          f"identity.json, {current[:12]} now); to train it again pass --fresh (a table: delete the "
                          "folder), or use another output folder")
    return read_json(folder.path("results.json"))


def read_timing(config):
    """A finished run's timing.json: {"seconds" (its last invocation), "training_seconds", "latency"
    (`serving_latency` of the SavedModel, or None)}."""
    return read_json(os.path.join(config.run_dir, "timing.json"))
