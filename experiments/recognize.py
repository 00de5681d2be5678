"""Enrol people and recognise them from raw recordings with an exported model (docs/recognition.md).

    python -m experiments.recognize enrol --model saved_models/RUN --gallery people.npz --person ana \
        --audio ana1.wav --visible ana1.jpg --thermal ana1.tiff
    python -m experiments.recognize enrol --model M --gallery G --manifest enrol.csv     # its person column
    python -m experiments.recognize identify --model M --gallery G --audio probe.wav       # top-k, or unknown
    python -m experiments.recognize verify --model M --gallery G --person ana --visible probe.png
    python -m experiments.recognize identify --model M --gallery G --manifest probes.csv
    python -m experiments.recognize list --model M --gallery G
    python -m experiments.recognize remove --model M --gallery G --person ana

Any subset of the model's sensors, any format the pipeline reads. One JSON line per answer on stdout; one line per
bad file on stderr, and the exit status 1 when there was one.
"""

import argparse
import json
import sys

COMMANDS = ("enrol", "identify", "verify", "list", "remove")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m experiments.recognize", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("--model", required=True, help="an exported SavedModel folder (saved_models/<run>)")
    parser.add_argument("--gallery", required=True, help="the gallery file (.npz; enrol creates it)")
    parser.add_argument("--person", help="who enrols, is verified or is removed")
    for modality in ("audio", "visible", "thermal"):
        parser.add_argument(f"--{modality}", help=f"the recording's {modality} file")
    parser.add_argument("--manifest", help="a CSV of recordings (person,recording,audio,visible,thermal)")
    parser.add_argument("--top-k", type=int, default=3, help="identify: candidates listed (default 3)")
    parser.add_argument("--threshold", type=float, help="accept at this score instead of the calibrated threshold")
    parser.add_argument("--replace", action="store_true", help="enrol: re-enrol a person already enrolled")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from avtfuse.console import configure_output

    configure_output(0)
    from avtfuse.recognition import commands

    files = {m: getattr(args, m) for m in ("audio", "visible", "thermal")}
    files = None if args.manifest else files
    try:
        if args.command == "enrol":
            outcome = commands.enrol(args.model, args.gallery, args.person, files, args.manifest, args.replace)
        elif args.command in ("identify", "verify"):
            if args.command == "verify" and not args.person:
                raise ValueError("--person: name the person to verify")
            outcome = commands.score(args.model, args.gallery, args.person if args.command == "verify" else None,
                                     files, args.manifest, args.top_k, args.threshold)
        elif args.command == "list":
            outcome = commands.listing(args.model, args.gallery)
        else:
            outcome = commands.remove(args.model, args.gallery, args.person)
    except ValueError as error:  # DataError and GalleryError included
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    for record in outcome.records:
        print(json.dumps(record), flush=True)
    for line in outcome.errors:
        print(f"error: {line}", file=sys.stderr)
    sys.exit(1 if outcome.errors else 0)


if __name__ == "__main__":
    main()
