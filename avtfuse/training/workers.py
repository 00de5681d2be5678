"""Training on several machines: each worker's place from TF_CONFIG, the chief's outputs, workers kept in step.

Every worker runs the same command with its own TF_CONFIG (TensorFlow's
cluster description) and trains under one MultiWorkerMirroredStrategy
(`avtfuse.training.runtime`). Worker 0 (or the task of type "chief") is the
chief. Every worker reads the run folder (the finished phases, the latest
checkpoint), so the output folder must be one every worker sees at the same
path (one machine, or a shared file system); the chief alone writes it, the
SavedModel and TensorBoard, and the other workers write nothing (a save reads
no variable that needs the other workers: measured with Keras 3.15).
"""

import contextlib
import dataclasses
import json
import os

import tensorflow as tf

TASK_TYPES = ("chief", "worker")


@dataclasses.dataclass(frozen=True)
class WorkerRole:
    """This process's place among `count` workers; index 0 is the chief."""

    index: int = 0
    count: int = 1

    @property
    def is_chief(self):
        return self.index == 0

    @property
    def multi_worker(self):
        return self.count > 1


def worker_role(environ=None):
    """The WorkerRole that TF_CONFIG in `environ` (default os.environ) gives; the only worker without one.

    TF_CONFIG is {"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": i}}; a
    "chief" entry of one address, where there is one, is the chief and the workers follow it.
    """
    text = (os.environ if environ is None else environ).get("TF_CONFIG", "")
    if not text.strip():
        return WorkerRole()
    try:
        spec = json.loads(text)
        cluster, task = spec["cluster"], spec["task"]
        chiefs, workers = list(cluster.get("chief", [])), list(cluster.get("worker", []))
        kind, index = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ValueError(f"TF_CONFIG: cannot read {text!r}; expected {{\"cluster\": {{\"worker\": [\"host:port\", "
                         "...]}, \"task\": {\"type\": \"worker\", \"index\": 0}}") from None
    others = sorted(set(cluster) - set(TASK_TYPES))
    if others or kind not in TASK_TYPES:
        raise ValueError(f"TF_CONFIG: task types {', '.join(others or [kind])} are not used here; "
                         "MultiWorkerMirroredStrategy takes a chief and workers")
    members = chiefs if kind == "chief" else workers
    if len(chiefs) > 1 or not 0 <= index < len(members):
        raise ValueError(f"TF_CONFIG: task {kind} {index} is not in a cluster of {len(chiefs)} chief(s) and "
                         f"{len(workers)} worker(s)")
    return WorkerRole(index=index + (len(chiefs) if kind == "worker" else 0), count=len(chiefs) + len(workers))


def each_replica(strategy, value):
    """The integer `value` as given on every replica of every worker, in replica order (a list). It is one
    collective gather: it returns once every worker has called it."""
    values = strategy.experimental_distribute_values_from_function(lambda _: tf.constant([value], tf.int64))
    return [int(v) for v in strategy.gather(values, axis=0).numpy()]


def barrier(strategy, role=None):
    """Returns once every worker has reached it; at once outside multi-worker training."""
    if (role or worker_role()).multi_worker:
        each_replica(strategy, 0)


def same_on_every_worker(strategy, value, what, role=None):
    """Returns the integer `value` after checking that every worker holds the same; raises naming `what`.

    A worker that does not see the chief's run folder (no shared file system) finds other checkpoints or
    finished phases, and would otherwise wait for collectives that never come."""
    if not (role or worker_role()).multi_worker:
        return value
    values = each_replica(strategy, value)
    if len(set(values)) > 1:
        raise ValueError(f"{what}: the workers disagree ({', '.join(map(str, values))} by replica); every "
                         "worker must see the chief's run folder at the same path (one machine or a shared "
                         "file system)")
    return value


@contextlib.contextmanager
def chief_first(strategy, role=None):
    """Runs the block on the chief, then on the other workers: what the chief writes in it (the data cache, the
    run folder) is in place before another worker reads it. Outside multi-worker training, a plain block."""
    role = role or worker_role()
    if not role.is_chief:
        barrier(strategy, role)
    yield
    if role.is_chief:
        barrier(strategy, role)


def split_across_workers(dataset):
    """`dataset` with each of its (global) batches split among the workers: tf.data's DATA auto-sharding, after
    the strategy's split of every batch into per-replica batches, keeps each worker's share. Never sharded by
    file: every worker reads the whole pipeline, so the global batches are those of one device."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)
