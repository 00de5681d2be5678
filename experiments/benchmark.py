"""Prints, as JSON, phase-1 AVTNet training speed (samples per second).

Measures the CPU-sized default shapes and the paper's shapes, with and
without XLA (`jit_compile`), in float32 and, where the device has a GPU, in
mixed precision. Random inputs in the data contract, so no data set is needed.
Backend-agnostic: `KERAS_BACKEND=jax python -m experiments.benchmark` builds
and trains the same model with JAX (where XLA is always on).

    python -m experiments.benchmark [--steps 3] [--paper-batch 8] [--skip-paper]
"""

import argparse
import json
import os
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per setting (default 3)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch at the default shapes (default 32)")
    parser.add_argument("--paper-batch", type=int, default=8,
                        help="batch at paper shapes (default 8; the paper's 32 needs about 15 GB on a CPU)")
    parser.add_argument("--skip-paper", action="store_true", help="measure the default shapes only")
    args = parser.parse_args(argv)
    device = device_description()
    backend = keras.backend.backend()
    jit_options = (True,) if backend == "jax" else (False, True)
    precisions = ("float32", "mixed_float16") if device == "gpu" else ("float32",)
    shapes = [("default", args.batch_size)] + ([] if args.skip_paper else [("paper", args.paper_batch)])
    results = [
        samples_per_second(shape, batch, args.steps, jit, precision)
        for shape, batch in shapes for jit in jit_options for precision in precisions
    ]
    print(json.dumps({
        "backend": backend, "device": device, "cpu_count": os.cpu_count(),
        "note": None if device == "gpu" else "mixed precision is measured on GPUs only",
        "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
