"""Devices, distribution strategy and precision policy for a run; one machine or several (TF_CONFIG)."""

import dataclasses
import functools
import logging

import keras
import tensorflow as tf

from avtfuse.config import Config, setting
from avtfuse.training import workers
from avtfuse.training.workers import WorkerRole, worker_role

logger = logging.getLogger(__name__)

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


@dataclasses.dataclass(frozen=True)
class RuntimeConfig(Config):
    """`gpus`: 0 for the CPU, 1 for one GPU, N > 1 for a MirroredStrategy over N GPUs (per worker, when
    TF_CONFIG names several workers: then a MultiWorkerMirroredStrategy over every worker's devices).
    `precision`: "auto" (mixed_float16 on GPU, float32 on CPU) or a Keras dtype policy name.
    Neither is part of a run's identity: a run resumes under other values."""

    gpus: int = setting(1, "0 CPU; 1 one GPU; N MirroredStrategy (no GPU: the CPU)")
    precision: str = setting("auto", "auto: mixed_float16 on GPU, float32 on CPU", choices=PRECISIONS)

    def __post_init__(self):
        self.check_int("gpus", minimum=0)
        self.check_choice("precision", PRECISIONS)


@dataclasses.dataclass
class Runtime:
    """The strategy, precision and device description of a run, and this process's place among its workers."""

    strategy: tf.distribute.Strategy
    precision: str
    device: str
    worker: WorkerRole = dataclasses.field(default_factory=WorkerRole)

    def chief_first(self):
        """A block the chief runs before the other workers (`workers.chief_first`)."""
        return workers.chief_first(self.strategy, self.worker)

    def barrier(self):
        """Returns once every worker has reached it (`workers.barrier`)."""
        workers.barrier(self.strategy, self.worker)


@functools.lru_cache(maxsize=None)
def mirrored_strategy(devices):
    """One MirroredStrategy per device tuple for the whole process.

    A second MirroredStrategy over the same devices in one process makes
    collective ops of later steps fail (tensorflow/tensorflow#62790), so runs
    in one process (a comparison table) share it.
    """
    return tf.distribute.MirroredStrategy(list(devices))


class MultiWorkerStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """A MultiWorkerMirroredStrategy whose `reduce` takes what Keras 3.15 gives it under several workers
    (keras/src/backend/tensorflow/trainer.py), where tf.distribute's raises:

    - a nested structure: the first batch of every fit and evaluate (the contract's dict), which Keras reduces
      only to read its shapes and dtypes (`_maybe_symbolic_build`): each leaf's value on this worker's first
      replica is returned (a cross-worker mean would also fail on a batch split unevenly);
    - a scalar with axis=0: every loss and metric of the epoch logs (`reduce_per_replica`), meant across the
      replicas: reduced with axis=None, the mean over every replica of every worker.
    Anything else is reduced as before."""

    def reduce(self, reduce_op, value, axis=None):
        if tf.nest.is_nested(value):
            return tf.nest.map_structure(lambda leaf: self.experimental_local_results(leaf)[0], value)
        if axis is not None and self.experimental_local_results(value)[0].shape.rank == 0:
            axis = None
        return super().reduce(reduce_op, value, axis)


@functools.lru_cache(maxsize=None)
def multi_worker_strategy(gpus):
    """The process's one MultiWorkerStrategy over the workers TF_CONFIG names, `gpus` GPUs each (0: the CPU).
    TensorFlow requires it before any other TensorFlow operation of the process."""
    try:
        tf.config.set_visible_devices(tf.config.list_physical_devices("GPU")[:gpus], "GPU")
        return MultiWorkerStrategy()
    except RuntimeError as error:
        raise RuntimeError("TF_CONFIG: multi-worker training must be set up before TensorFlow runs anything in "
                           f"this process ({error})") from None


def setup_runtime(config):
    """Chooses devices, sets the global Keras dtype policy and returns the Runtime.

    Order (DESIGN.md): config -> precision policy -> strategy; build models
    inside `runtime.strategy.scope()` afterwards. Asking for GPUs on a machine
    without one falls back to the CPU with a clear message. With TF_CONFIG
    naming several workers, the strategy spans them all (`config.gpus` each).
    """
    role = worker_role()
    available = tf.config.list_physical_devices("GPU")
    gpus = config.gpus
    if gpus > 0 and not available:
        logger.warning("--gpus %d asked for, but no GPU is visible to TensorFlow: training on the CPU.", gpus)
        gpus = 0
    elif gpus > len(available):
        logger.warning("--gpus %d asked for, but only %d GPU(s) are visible: using those.", gpus, len(available))
        gpus = len(available)
    # One device: TensorFlow's default strategy. Under a OneDeviceStrategy Keras feeds every pass through
    # per-device datasets of its own, autotuned whatever our pipelines ask (pipelines.batching.without_autotune).
    if role.multi_worker:
        strategy = multi_worker_strategy(gpus)
        device = (f"{role.count} workers x {f'{gpus} GPU(s)' if gpus else 'CPU'} "
                  f"(MultiWorkerMirroredStrategy, {strategy.num_replicas_in_sync} replicas)")
    elif gpus == 0:
        if available:
            tf.config.set_visible_devices([], "GPU")
        strategy, device = tf.distribute.get_strategy(), "CPU"
    elif gpus == 1:
        strategy, device = tf.distribute.get_strategy(), "1 GPU"
    else:
        strategy, device = mirrored_strategy(tuple(f"/gpu:{i}" for i in range(gpus))), f"{gpus} GPUs (MirroredStrategy)"
    precision = config.precision
    if precision == "auto":
        precision = "mixed_float16" if gpus > 0 else "float32"
    elif precision == "mixed_float16" and gpus == 0:
        logger.warning("mixed_float16 on the CPU runs, but slowly; it is meant for GPUs.")
    keras.mixed_precision.set_global_policy(precision)
    logger.info("runtime: %s, precision %s%s", device, precision,
                f"; this is worker {role.index}{' (chief)' if role.is_chief else ''}" if role.multi_worker else "")
    return Runtime(strategy=strategy, precision=precision, device=device, worker=role)
