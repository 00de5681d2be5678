"""What every entry point does after parsing: run (or resume) an experiment and print its report; flag types
(value lists, missing rates), --subjects and the table runners' pass-through flags. No TensorFlow is imported
until an experiment runs."""

import argparse
import os
import sys


def chosen_from(flag, allowed, convert=str):
    """An argparse type: a comma list of values from `allowed` (any, when None), repeats dropped, order kept."""
    def parse(text):
        try:
            chosen = [convert(item.strip()) for item in text.split(",") if item.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag}: cannot read {text!r}") from None
        unknown = [item for item in chosen if allowed is not None and item not in allowed]
        if not chosen or unknown:
            raise argparse.ArgumentTypeError(f"{flag}: choose from {', '.join(allowed or ['integers'])}")
        return tuple(dict.fromkeys(chosen))
    return parse


def subject_numbers(text):
    """--subjects: '1-75' or '1,2,5' -> a tuple of ints; None (or empty) stays None. A ValueError names the flag."""
    if not text:
        return None
    subjects = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        try:
            subjects.extend(range(int(first), int(last or first) + 1))
        except ValueError:
            raise ValueError(f"--subjects: cannot read {part!r}; use e.g. 1-75 or 1,2,5") from None
    return tuple(subjects)


def missing_rates(text):
    """An argparse type: '0,0.1,...' or 'none' -> a tuple of rates in [0, 1) (empty for 'none')."""
    if text.strip().lower() == "none":
        return ()
    try:
        rates = tuple(float(item) for item in text.split(",") if item.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"cannot read {text!r}; use e.g. 0,0.1,0.2 or none") from None
    if len(rates) < 2 or any(not 0.0 <= rate < 1.0 for rate in rates):
        raise argparse.ArgumentTypeError(f"need two or more rates in [0, 1), got {text!r}")
    return rates


def table_args(parser, argv, reserved_flags, own_flags):
    """A table runner's arguments and the flags after them that go to every run: (namespace, [flags]).
    A flag the table sets for every run itself (`reserved_flags`) is refused, naming `own_flags` instead."""
    args, passthrough = parser.parse_known_args(argv)
    passthrough = [flag for flag in passthrough if flag != "--"]
    reserved = [flag for flag in passthrough if flag.split("=")[0] in reserved_flags]
    if reserved:
        parser.error(f"{', '.join(reserved)}: set by this command for every run; use {own_flags} instead")
    return args, passthrough


def run_and_report(args, experiment_config):
    """Runs (or resumes) the experiment of parsed arguments, prints its results.md and where its outputs are;
    returns (ExperimentConfig, results). experiment_config(args) -> its ExperimentConfig. A bad input exits with
    its one-line message."""
    from avtfuse.console import configure_output, errors_exit, keras_verbosity

    configure_output(args.verbose)
    from avtfuse.training.experiment import run_experiment

    with errors_exit(args.debug):
        config = experiment_config(args)
        results = run_experiment(config, fresh=args.fresh, verbose=keras_verbosity(args.verbose, sys.stdout.isatty()))
    with open(os.path.join(config.run_dir, "results.md")) as handle:
        print(handle.read())
    print(f"outputs: {config.run_dir}  SavedModel: {results['saved_model']}")
    return config, results
