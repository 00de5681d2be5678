"""Training speed of AVTNet's phase 1 on random data-contract batches (no data set needed). Backend-agnostic."""

import time

import keras
import numpy as np

from avtfuse.models.avtnet import AVTNet, AVTNetConfig

SHAPES = {
    "default": {"audio_shape": (130, 64), "image_size": (48, 48)},
    "paper": {"audio_shape": (589, 128), "image_size": (224, 224)},
}


def device_description():
    """'gpu' or 'cpu', as the active backend sees it."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    if backend == "jax":
        import jax

        return jax.default_backend()
    return "cpu"


def random_batch(config, batch_size, rng):
    """A data-contract batch with P x K labels (2 samples per person) and one missing modality per sample."""
    present = np.ones((batch_size, 3), "float32")
    present[np.arange(batch_size), np.arange(batch_size) % 4 % 3] = np.arange(batch_size) % 4 != 3
    inputs = {
        "audio": rng.normal(-30, 10, (batch_size, *config.audio_shape)).astype("float32"),
        "visible": rng.uniform(0, 1, (batch_size, *config.image_size, 3)).astype("float32"),
        "thermal": rng.uniform(0, 1, (batch_size, *config.image_size, 1)).astype("float32"),
        "present": present,
    }
    for index, modality in enumerate(("audio", "visible", "thermal")):
        shape = (-1,) + (1,) * (inputs[modality].ndim - 1)
        inputs[modality] *= present[:, index].reshape(shape)
    return inputs, np.arange(batch_size) // 2


def samples_per_second(shape, batch_size, steps, jit_compile, precision):
    """Phase-1 training steps of AVTNet at SHAPES[shape], timed after one tracing step; a dict of figures."""
    keras.mixed_precision.set_global_policy(precision)
    try:
        config = AVTNetConfig(**SHAPES[shape])
        model = AVTNet(config)
        model.compile(optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5, beta_2=0.99), jit_compile=jit_compile)
        inputs, labels = random_batch(config, batch_size, np.random.default_rng(0))
        logs = model.train_on_batch(inputs, labels, return_dict=True)  # trace / compile
        start = time.perf_counter()
        for _ in range(steps):
            logs = model.train_on_batch(inputs, labels, return_dict=True)
        seconds = time.perf_counter() - start
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return {
        "shape": shape, **{k: list(v) for k, v in SHAPES[shape].items()}, "batch_size": batch_size,
        "jit_compile": jit_compile, "precision": precision, "steps": steps,
        "samples_per_second": round(steps * batch_size / seconds, 2),
        "seconds_per_step": round(seconds / steps, 3), "final_loss": float(logs["loss"]),
    }
