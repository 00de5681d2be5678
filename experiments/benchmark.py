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

import keras

from avtfuse.training.speed import device_description, samples_per_second

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
