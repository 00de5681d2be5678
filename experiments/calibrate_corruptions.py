"""Calibrates the corruptions' severities: the single-sensor scikit-learn reference of each sensor, fitted on the
clean training split of a built-in set, scored on its complete test recordings clean and under every corruption at
severities 1..5 (the corrupted caches every run meets), and the ratio of severity 5 to clean (the target: about
half). Prints one line per corruption and the table; writes calibration.json and calibration.md into
--output-dir, and with --sheet a PNG of one recording's input per corruption and severity.

    python -m experiments.calibrate_corruptions                                # both built-in sets, every corruption
    python -m experiments.calibrate_corruptions --sets ravdess --corruptions audio/noise,audio/reverb
    python -m experiments.calibrate_corruptions --sheet docs/corruptions_sheet.png

Running it again reads the corrupted caches back (a retuned level writes its own). docs/corruptions.md#calibration.
"""

import argparse
import os
import time

from avtfuse.console import configure_output, errors_exit
from avtfuse.evaluation.corruption_calibration import CALIBRATION_SETS
from experiments.flag_types import chosen_from, corruption_names
from pipelines.corruptions import KEYS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m experiments.calibrate_corruptions", description=__doc__,
                                     allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", type=chosen_from("--sets", CALIBRATION_SETS), default=tuple(CALIBRATION_SETS),
                        help=f"comma-separated built-in sets (default {','.join(CALIBRATION_SETS)})")
    parser.add_argument("--corruptions", type=corruption_names, default=KEYS, metavar="NAMES",
                        help="all (the default) or comma-separated modality/name keys")
    parser.add_argument("--seed", type=int, default=0, help="corruption seed and the reference's (default 0)")
    parser.add_argument("--output-dir", default=os.path.join("runs", "calibration"),
                        help="where calibration.json and calibration.md go (default runs/calibration)")
    parser.add_argument("--sheet", default=None, help="write the picture sheet of the first set here (a .png)")
    parser.add_argument("--cache-dir", default=None, help="where the sets and caches are (default the data's)")
    parser.add_argument("--debug", action="store_true", help="tracebacks instead of one-line errors")
    args = parser.parse_args(argv)
    if not args.corruptions:
        parser.error("--corruptions: none chosen; name at least one (or all)")
    return args


def main(argv=None):
    args = parse_args(argv)
    configure_output(0)
    from avtfuse.evaluation import corruption_calibration as calibration

    start, results = time.time(), {}
    with errors_exit(args.debug):
        for name in args.sets:
            data = calibration.calibration_data(name, args.cache_dir)
            keys = calibration.sensor_keys(data, args.corruptions)
            results[name] = calibration.calibrate(data, keys, args.seed, lambda line: print(f"{name} {line}",
                                                                                            flush=True))
            if args.sheet and name == args.sets[0]:
                size = calibration.picture_sheet(calibration.sheet_cells(data, keys, args.seed), args.sheet)
                print(f"picture sheet {args.sheet}: {size[0]} x {size[1]} pixels", flush=True)
        print(calibration.write_calibration(results, args.output_dir))
    print(f"calibration: {time.time() - start:.0f} s; {args.output_dir}/calibration.json, calibration.md")


if __name__ == "__main__":
    main()
