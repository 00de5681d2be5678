"""Worker roles from TF_CONFIG, input sharding; a PhaseRunner of another worker than the chief writes nothing."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from avtfuse.training.phase import PhaseRunner
from avtfuse.training.workers import (
    WorkerRole,
    barrier,
    same_on_every_worker,
    split_across_workers,
    worker_role,
)

SECOND = WorkerRole(1, 2)


def tf_config(cluster, kind, index):
    return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}})}


@pytest.mark.parametrize("environ, role", [
    ({}, WorkerRole(0, 1)),
    ({"TF_CONFIG": " "}, WorkerRole(0, 1)),
    (tf_config({"worker": ["a:1", "b:1", "c:1"]}, "worker", 2), WorkerRole(2, 3)),
    (tf_config({"worker": ["a:1", "b:1"]}, "worker", 0), WorkerRole(0, 2)),
    (tf_config({"chief": ["a:1"], "worker": ["b:1", "c:1"]}, "chief", 0), WorkerRole(0, 3)),
    (tf_config({"chief": ["a:1"], "worker": ["b:1", "c:1"]}, "worker", 0), WorkerRole(1, 3)),
])
def test_role_from_tf_config(environ, role):
    assert worker_role(environ) == role
    assert role.is_chief == (role.index == 0) and role.multi_worker == (role.count > 1)


@pytest.mark.parametrize("environ, words", [
    ({"TF_CONFIG": "{not json"}, "cannot read"),
    ({"TF_CONFIG": json.dumps({"cluster": {"worker": ["a:1"]}})}, "cannot read"),
    (tf_config({"worker": ["a:1", "b:1"]}, "worker", 2), "not in a cluster"),
    (tf_config({"worker": ["a:1"], "ps": ["b:1"]}, "worker", 0), "ps are not used"),
    (tf_config({"worker": ["a:1"]}, "evaluator", 0), "evaluator are not used"),
])
def test_bad_tf_config_is_named(environ, words):
    with pytest.raises(ValueError, match=f"TF_CONFIG: .*{words}"):
        worker_role(environ)


def test_one_worker_needs_no_collectives():
    barrier(None, WorkerRole())
    assert same_on_every_worker(None, 7, "epoch", WorkerRole()) == 7


def test_batches_are_split_by_data_never_by_file():
    data = split_across_workers(tf.data.Dataset.range(4).batch(2))
    assert data.options().experimental_distribute.auto_shard_policy == tf.data.experimental.AutoShardPolicy.DATA


def test_a_worker_other_than_the_chief_writes_nothing_in_the_run_folder(tmp_path):
    def epoch_batches(epoch):
        x = np.random.default_rng(epoch).normal(size=(8, 3)).astype("float32")
        return tf.data.Dataset.from_tensor_slices((x, x.sum(axis=1, keepdims=True))).batch(4), 2

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    runner = PhaseRunner(str(tmp_path / "run"), verbose=0, role=SECOND)
    runner.fit("phase", model, epoch_batches, 2, validation=epoch_batches(9)[0])
    runner.finish("phase", {"model.keras": model.save})
    assert not (tmp_path / "run").exists() and not runner.is_done("phase")


def test_the_epoch_log_is_written_by_the_chief_alone(tmp_path):
    from avtfuse.training.recipes import _epoch_log

    for role, folder in ((WorkerRole(0, 2), tmp_path / "chief"), (SECOND, tmp_path / "second")):
        folder.mkdir()
        log = _epoch_log(PhaseRunner(str(folder), role=role), "fusion")
        log.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
        log.on_train_begin()
        log.on_epoch_end(0, {"loss": 1.5})
        log.on_train_end()
    header, row = (tmp_path / "chief" / "fusion_epochs.csv").read_text().splitlines()
    assert header.startswith("epoch,loss") and row.startswith("0,1.5")
    assert not list((tmp_path / "second").iterdir())
