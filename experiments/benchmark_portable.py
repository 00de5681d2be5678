"""Prints, as a Markdown table, the file size and batch-1 latency (median and p90 of --calls timed calls after
--warmup) of untrained AVTNet (trimodal) and SA-fusion classifiers served as a SavedModel (its signature under
TensorFlow), LiteRT (ai-edge-litert) and ONNX (onnxruntime) on this machine's CPU. The files are written to a
temporary folder and removed after.

    python -m experiments.benchmark_portable [--shapes default] [--models avtnet sa_fusion] [--calls 50]
        [--warmup 5] [--threads N]
"""

import argparse
import tempfile


def main(argv=None):
    from avtfuse.serving.portable_speed import MODEL_NAMES, MODEL_SHAPES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", choices=sorted(MODEL_SHAPES), default="default",
                        help="model sizes (default: the configs' defaults; tiny: test sizes)")
    parser.add_argument("--models", nargs="+", choices=MODEL_NAMES, default=list(MODEL_NAMES),
                        help=f"which models (default: {' '.join(MODEL_NAMES)})")
    parser.add_argument("--calls", type=int, default=50, help="timed calls per model and format (default 50)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls before them (default 5)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads of LiteRT and ONNX Runtime (default: each runtime's own)")
    args = parser.parse_args(argv)
    if args.calls < 1 or args.warmup < 0 or (args.threads is not None and args.threads < 1):
        parser.error(f"--calls >= 1, --warmup >= 0, --threads >= 1: got {args.calls}, {args.warmup}, {args.threads}")
    from avtfuse.serving.portable_speed import machine_line, portable_speed, speed_table

    with tempfile.TemporaryDirectory() as folder:
        rows = portable_speed(folder, args.shapes, args.models, args.calls, args.warmup, args.threads)
    print(machine_line(args.threads))
    print(speed_table(rows))


if __name__ == "__main__":
    main()
