"""Prints, as JSON, the training speed of every system's main training phase (samples/s, GFLOP per sample, the
share of the float32 matmul peak measured around it, peak memory; with and without XLA; mixed precision on GPUs)
and MCT-HFR's training speed through the real pipeline on a features manifest (docs/benchmarks.md).

    python -m experiments.benchmark [--steps 3] [--batch-size 32] [--paper-batch 8] [--skip-paper]
        [--systems mct_hfr,cfn_sr] [--no-jit] [--manifest-clips 1080] [--skip-manifest]
        [--compare attention=full,blocked]
    python -m experiments.benchmark --profile avtnet:paper      # where a training step's time goes
    KERAS_BACKEND=jax python -m experiments.benchmark            # the same models on JAX
"""

import argparse
import json

from avtfuse.training.manifest_speed import manifest_training_speed
from avtfuse.training.speed import (TRAINING_ROWS, benchmark_rows, in_fresh_process, machine_description,
                                    profile_training_step, samples_per_second)
from experiments.flag_types import chosen_from

SYSTEM_NAMES = tuple(dict.fromkeys(system for system, _ in TRAINING_ROWS))
MANIFEST_SYSTEM = ("mct_hfr", "small")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per setting (default 3)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch at the small presets (default 32)")
    parser.add_argument("--paper-batch", type=int, default=8, help="batch at paper presets (default 8)")
    parser.add_argument("--skip-paper", action="store_true", help="measure the small presets only")
    parser.add_argument("--systems", type=chosen_from("--systems", SYSTEM_NAMES), default=SYSTEM_NAMES,
                        help="comma list of the systems measured (default: all)")
    parser.add_argument("--no-jit", action="store_true", help="measure without XLA only")
    parser.add_argument("--manifest-clips", type=int, default=1080, help="clips of the manifest row (default 1080)")
    parser.add_argument("--manifest-epochs", type=int, default=2, help="its epochs (default 2: the last is timed)")
    parser.add_argument("--skip-manifest", action="store_true", help="leave out the features-manifest row")
    parser.add_argument("--cache-dir", help="the manifest row's temporary folder (default: the system's)")
    parser.add_argument("--compare", metavar="SETTING=A,B", help="each value of a model setting, where it applies")
    parser.add_argument("--in-process", action="store_true", help="every row in this process: quicker, memory adds up")
    parser.add_argument("--profile", choices=[f"{system}:{preset}" for system, preset in TRAINING_ROWS],
                        help="where a training step's time goes instead")
    args = parser.parse_args(argv)
    for name, least in (("steps", 1), ("batch_size", 1), ("paper_batch", 1), ("manifest_clips", 1),
                        ("manifest_epochs", 2)):  # the manifest row's first epoch traces
        if getattr(args, name) < least:
            parser.error(f"--{name.replace('_', '-')}: expected an integer >= {least}, got {getattr(args, name)}")
    common = machine_description()
    backend, device = common["backend"], common["device"]
    if args.profile:
        system, _, preset = args.profile.partition(":")
        if backend != "tensorflow":
            parser.error(f"--profile: reads TensorFlow's profiler; KERAS_BACKEND is {backend}")
        batch = args.paper_batch if preset == "paper" else args.batch_size
        print(json.dumps({**common, "system": system, "preset": preset, "batch_size": batch,
                          **profile_training_step(system, preset, batch, args.steps)}, indent=2))
        return
    jit_options = (True,) if backend == "jax" else (False,) if args.no_jit else (False, True)
    precisions = ("float32", "mixed_float16") if device == "gpu" else ("float32",)
    measure = samples_per_second if args.in_process else in_fresh_process(samples_per_second)
    try:
        rows = benchmark_rows(args.systems, args.skip_paper, args.compare)
    except ValueError as error:
        parser.error(f"--compare: {error}")
    results = [measure(system, preset, args.paper_batch if preset == "paper" else args.batch_size, args.steps, jit,
                       precision, gflop=backend == "tensorflow", model_settings=settings)
               for system, preset, settings in rows for jit in jit_options for precision in precisions]
    manifest = {"system": MANIFEST_SYSTEM[0], "preset": MANIFEST_SYSTEM[1], **manifest_training_speed(
        *MANIFEST_SYSTEM, args.manifest_clips, args.manifest_epochs, cache_dir=args.cache_dir)} if (
        not args.skip_manifest and backend == "tensorflow" and MANIFEST_SYSTEM[0] in args.systems) else None
    print(json.dumps({**common, "note": None if device == "gpu" else "mixed precision is measured on GPUs only",
                      "results": results, "manifest": manifest}, indent=2))


if __name__ == "__main__":
    main()
