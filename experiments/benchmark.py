"""Prints, as JSON, phase-1 AVTNet training speed and how near it comes to the machine's limit.

Measures the CPU-sized default shapes and the paper's shapes, with and
without XLA (`jit_compile`), in float32 and, where the device has a GPU, in
mixed precision. Random inputs in the data contract, so no data set is needed.
Each setting reports samples per second, GFLOP per training sample (counted
on the TensorFlow graph: forward, loss and gradients), the float32 matmul peak
measured around its timing, the share of that peak it reached, and the
peak resident memory; the report gives the load average at the start.
Backend-agnostic: `KERAS_BACKEND=jax python -m experiments.benchmark` builds
and trains the same model with JAX (where XLA is always on; no FLOP count).

    python -m experiments.benchmark [--steps 3] [--paper-batch 8] [--skip-paper]

`--profile paper` (or default) prints instead where the time of a training
step at those shapes goes, by part of the model and direction, from
TensorFlow's profiler (float32; batch --paper-batch or --batch-size).
"""

import argparse
import json
import os

import keras

from avtfuse.training.speed import (SHAPES, device_description, profile_training_step, samples_per_second,
                                   training_gflop_per_sample)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per setting (default 3)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch at the default shapes (default 32)")
    parser.add_argument("--paper-batch", type=int, default=8,
                        help="batch at paper shapes (default 8; the paper's 32 needs about 15 GB on a CPU)")
    parser.add_argument("--skip-paper", action="store_true", help="measure the default shapes only")
    parser.add_argument("--profile", choices=sorted(SHAPES),
                        help="print where a training step's time goes at these shapes instead (TensorFlow only)")
    args = parser.parse_args(argv)
    for name in ("steps", "batch_size", "paper_batch"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}: expected an integer >= 1, got {getattr(args, name)}")
    device = device_description()
    backend = keras.backend.backend()
    load_average = os.getloadavg()[0]
    if args.profile:
        if backend != "tensorflow":
            parser.error(f"--profile: reads TensorFlow's profiler; KERAS_BACKEND is {backend}")
        batch = args.paper_batch if args.profile == "paper" else args.batch_size
        print(json.dumps({"backend": backend, "device": device, "cpu_count": os.cpu_count(),
                          "load_average_1min": round(load_average, 2), "shape": args.profile, "batch_size": batch,
                          **profile_training_step(args.profile, batch, args.steps)}, indent=2))
        return
    jit_options = (True,) if backend == "jax" else (False, True)
    precisions = ("float32", "mixed_float16") if device == "gpu" else ("float32",)
    shapes = [("default", args.batch_size)] + ([] if args.skip_paper else [("paper", args.paper_batch)])
    results = []
    for shape, batch in shapes:
        gflop = training_gflop_per_sample(shape, batch) if backend == "tensorflow" else None
        results += [samples_per_second(shape, batch, args.steps, jit, precision, gflop)
                    for jit in jit_options for precision in precisions]
    print(json.dumps({
        "backend": backend, "device": device, "cpu_count": os.cpu_count(),
        "load_average_1min": round(load_average, 2),
        "note": None if device == "gpu" else "mixed precision is measured on GPUs only",
        "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
