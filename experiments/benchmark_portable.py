"""Prints, as a Markdown table, the file size and batch-1 latency (median and p90 of --calls timed calls after
--warmup) of untrained AVTNet (trimodal) and SA-fusion classifiers served as a SavedModel (its signature under
TensorFlow), LiteRT (ai-edge-litert) and ONNX (onnxruntime) on this machine's CPU, for both signatures: features
in ("serving_default") and a raw recording in ("serving_raw"; at the default shapes a 3 s waveform, 640 x 480
RGB frames, a 640 x 512 iron-mapped thermal frame); with each row's GFLOP per call, GFLOP/s at the median and
its share of the float32 matmul peak measured before and after the timings. The files are written to a
temporary folder and removed after.

    python -m experiments.benchmark_portable [--shapes default] [--models avtnet sa_fusion]
        [--formats saved_model litert onnx] [--calls 50] [--warmup 5] [--threads N]
"""

import argparse
import tempfile


def main(argv=None):
    from avtfuse.serving.portable_speed import FORMATS, MODEL_NAMES, MODEL_SHAPES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", choices=sorted(MODEL_SHAPES), default="default",
                        help="model sizes (default: the configs' defaults; tiny: test sizes)")
    parser.add_argument("--models", nargs="+", choices=MODEL_NAMES, default=list(MODEL_NAMES),
                        help=f"which models (default: {' '.join(MODEL_NAMES)})")
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS),
                        help=f"which formats (default: {' '.join(FORMATS)})")
    parser.add_argument("--calls", type=int, default=50,
                        help="timed calls per model, signature and format (default 50)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls before them (default 5)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads of LiteRT and ONNX Runtime (default: each runtime's own)")
    args = parser.parse_args(argv)
    if args.calls < 1 or args.warmup < 0 or (args.threads is not None and args.threads < 1):
        parser.error(f"--calls >= 1, --warmup >= 0, --threads >= 1: got {args.calls}, {args.warmup}, {args.threads}")
    from avtfuse.serving.portable_speed import machine_line, peak_line, portable_speed, speed_table

    with tempfile.TemporaryDirectory() as folder:
        result = portable_speed(folder, args.shapes, args.models, args.calls, args.warmup, args.threads,
                                args.formats)
    print(machine_line(args.threads))
    print(peak_line(result["peak_gflops"]))
    print(speed_table(result["rows"]))


if __name__ == "__main__":
    main()
