"""Devices, distribution strategy and precision policy for a run."""

import dataclasses
import functools
import logging

import keras
import tensorflow as tf

from avtfuse.config import Config

logger = logging.getLogger(__name__)

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


@dataclasses.dataclass
class RuntimeConfig(Config):
    """`gpus`: 0 for the CPU, 1 for one GPU, N > 1 for a MirroredStrategy over N GPUs.
    `precision`: "auto" (mixed_float16 on GPU, float32 on CPU) or a Keras dtype policy name.
    Neither is part of a run's identity: a run resumes under other values."""

    gpus: int = 1
    precision: str = "auto"

    def __post_init__(self):
        self.check_int("gpus", minimum=0)
        self.check_choice("precision", PRECISIONS)


@dataclasses.dataclass
class Runtime:
    strategy: tf.distribute.Strategy
    precision: str
    device: str


@functools.lru_cache(maxsize=None)
def mirrored_strategy(devices):
    """One MirroredStrategy per device tuple for the whole process.

    A second MirroredStrategy over the same devices in one process makes
    collective ops of later steps fail (tensorflow/tensorflow#62790), so runs
    in one process (a comparison table) share it.
    """
    return tf.distribute.MirroredStrategy(list(devices))


def setup_runtime(config):
    """Chooses devices, sets the global Keras dtype policy and returns the Runtime.

    Order (DESIGN.md): config -> precision policy -> strategy; build models
    inside `runtime.strategy.scope()` afterwards. Asking for GPUs on a machine
    without one falls back to the CPU with a clear message.
    """
    available = tf.config.list_physical_devices("GPU")
    gpus = config.gpus
    if gpus > 0 and not available:
        logger.warning("--gpus %d asked for, but no GPU is visible to TensorFlow: training on the CPU.", gpus)
        gpus = 0
    elif gpus > len(available):
        logger.warning("--gpus %d asked for, but only %d GPU(s) are visible: using those.", gpus, len(available))
        gpus = len(available)
    # One device: TensorFlow's default strategy. Under a OneDeviceStrategy Keras feeds every pass through
    # per-device datasets of its own, autotuned whatever our pipelines ask (pipelines.dataset.without_autotune).
    if gpus == 0:
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
    logger.info("runtime: %s, precision %s", device, precision)
    return Runtime(strategy=strategy, precision=precision, device=device)
