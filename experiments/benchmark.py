"""Prints, as JSON, the training speed of every system's main training phase and how near it comes to the
machine's limit, and MCT-HFR's training speed through the real pipeline on a features manifest.

Training rows (random inputs in the data contract, so no data set is needed):
each system's default variant at its small preset (AVTNet phase 1, SA-fusion,
MCT-HFR, CFN-SR) and AVTNet at its paper preset, built and compiled as its
recipe builds the model of its main phase; with and without XLA
(`jit_compile`), in float32 and, where the device has a GPU, in mixed
precision. Each reports samples per second, analytic GFLOP per training
sample (the forward pass's products and convolutions x 2 FLOPs x 3 for
forward and backward), the float32 matmul peak measured around its timing,
the share of that peak reached, and the peak resident memory; the report
gives the load average at the start.

The manifest row writes a temporary features manifest of random `.npy`
features (audio [259, 1], visible [1, 35], 8 classes, `--manifest-clips`
clips of 24 subjects) and trains MCT-HFR's small preset on it through the
real pipeline (prepare, split, training batches, fit) for `--manifest-epochs`
epochs: seconds per epoch (first, with tracing; last, steady) and per batch.
Backend-agnostic training rows: `KERAS_BACKEND=jax python -m
experiments.benchmark` builds and trains the same models with JAX (where XLA
is always on; no FLOP count, no manifest row).

    python -m experiments.benchmark [--steps 3] [--batch-size 32] [--paper-batch 8] [--skip-paper]
        [--systems mct_hfr,cfn_sr] [--no-jit] [--manifest-clips 1080] [--skip-manifest]
        [--compare attention=full,blocked]

`--profile SYSTEM:PRESET` (e.g. avtnet:paper) prints instead where the time of
a training step goes, by part of the model and direction, from TensorFlow's
profiler (float32; batch --paper-batch at a paper preset, else --batch-size).
"""

import argparse
import json
import os

import keras

from avtfuse.training.manifest_speed import manifest_training_speed
from avtfuse.training.speed import (TRAINING_ROWS, compared_model_settings, device_description,
                                    profile_training_step, samples_per_second)

SYSTEM_NAMES = tuple(dict.fromkeys(system for system, _ in TRAINING_ROWS))
MANIFEST_SYSTEM = ("mct_hfr", "small")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per setting (default 3)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch at the small presets (default 32)")
    parser.add_argument("--paper-batch", type=int, default=8,
                        help="batch at paper presets (default 8; AVTNet's paper batch of 32 needs about 15 GB on "
                             "a CPU)")
    parser.add_argument("--skip-paper", action="store_true", help="measure the small presets only")
    parser.add_argument("--systems", default=",".join(SYSTEM_NAMES),
                        help=f"comma list of the systems measured (default: {','.join(SYSTEM_NAMES)})")
    parser.add_argument("--no-jit", action="store_true", help="measure without XLA only")
    parser.add_argument("--manifest-clips", type=int, default=1080,
                        help="clips of the features manifest of the MCT-HFR row (default 1080, the issue's)")
    parser.add_argument("--manifest-epochs", type=int, default=2,
                        help="epochs of the manifest row (default 2: the first traces, the last is timed)")
    parser.add_argument("--skip-manifest", action="store_true", help="leave out the features-manifest row")
    parser.add_argument("--cache-dir", help="where the manifest row's temporary folder goes (default: the "
                                            "system's temporary folder)")
    parser.add_argument("--compare", metavar="SETTING=A,B",
                        help="measure each value of one model setting (e.g. attention=full,blocked) on the rows "
                             "whose model config has it; the other rows once")
    parser.add_argument("--profile", metavar="SYSTEM:PRESET",
                        help="print where a training step's time goes at this system and preset instead "
                             "(TensorFlow only)")
    args = parser.parse_args(argv)
    for name in ("steps", "batch_size", "paper_batch", "manifest_clips"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}: expected an integer >= 1, got {getattr(args, name)}")
    if args.manifest_epochs < 2:
        parser.error(f"--manifest-epochs: expected an integer >= 2 (the first traces), got {args.manifest_epochs}")
    systems = [name.strip() for name in args.systems.split(",") if name.strip()]
    unknown = [name for name in systems if name not in SYSTEM_NAMES]
    if unknown or not systems:
        parser.error(f"--systems: choose from {', '.join(SYSTEM_NAMES)}, got {args.systems!r}")
    device = device_description()
    backend = keras.backend.backend()
    load_average = os.getloadavg()[0]
    common = {"backend": backend, "device": device, "cpu_count": os.cpu_count(),
              "load_average_1min": round(load_average, 2)}
    if args.profile:
        system, _, preset = args.profile.partition(":")
        if (system, preset) not in TRAINING_ROWS:
            parser.error(f"--profile: choose from {', '.join(f'{s}:{p}' for s, p in TRAINING_ROWS)}, "
                         f"got {args.profile!r}")
        if backend != "tensorflow":
            parser.error(f"--profile: reads TensorFlow's profiler; KERAS_BACKEND is {backend}")
        batch = args.paper_batch if preset == "paper" else args.batch_size
        print(json.dumps({**common, "system": system, "preset": preset, "batch_size": batch,
                          **profile_training_step(system, preset, batch, args.steps)}, indent=2))
        return
    jit_options = (True,) if backend == "jax" else (False,) if args.no_jit else (False, True)
    precisions = ("float32", "mixed_float16") if device == "gpu" else ("float32",)
    rows = [(system, preset) for system, preset in TRAINING_ROWS
            if system in systems and not (args.skip_paper and preset == "paper")]
    try:
        rows = [(system, preset, settings) for system, preset in rows
                for settings in compared_model_settings(system, preset, args.compare)]
    except ValueError as error:
        parser.error(f"--compare: {error}")
    results = [samples_per_second(system, preset, args.paper_batch if preset == "paper" else args.batch_size,
                                  args.steps, jit, precision, gflop=backend == "tensorflow", model_settings=settings)
               for system, preset, settings in rows for jit in jit_options for precision in precisions]
    manifest = None
    if not args.skip_manifest and backend == "tensorflow" and MANIFEST_SYSTEM[0] in systems:
        manifest = {"system": MANIFEST_SYSTEM[0], "preset": MANIFEST_SYSTEM[1],
                    **manifest_training_speed(*MANIFEST_SYSTEM, args.manifest_clips, args.manifest_epochs,
                                              cache_dir=args.cache_dir)}
    print(json.dumps({
        **common, "note": None if device == "gpu" else "mixed precision is measured on GPUs only",
        "results": results, "manifest": manifest,
    }, indent=2))


if __name__ == "__main__":
    main()
