"""What every entry point does after parsing: run (or resume) an experiment and print its report (or its plan, or
its data's check); flag types (value lists, missing rates, corruptions) and the table runners' pass-through flags."""

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


def missing_rates(text):
    """An argparse type: '0,0.1,...' or 'none' -> a tuple of rates in [0, 1) (empty for 'none')."""
    from pipelines.dataset import parse_rates

    try:
        return parse_rates(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def corruption_names(text):
    """An argparse type: 'all', 'none' or comma-separated 'modality/name' keys -> a tuple of keys
    (pipelines.corruptions.parse_corruptions)."""
    from pipelines.corruptions import parse_corruptions

    try:
        return parse_corruptions(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"--corruptions: {error}") from None


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
    returns (ExperimentConfig, results). experiment_config(args) -> its ExperimentConfig. With --plan it prints the
    run's stages instead and returns (ExperimentConfig, None); with --check-data it reads and decodes the data,
    prints every problem and the counts per condition and per person (pipelines.data_check), trains nothing and
    exits with status 1 when bad input would stop the run, else returns (ExperimentConfig, None); --redo STAGE
    runs that stage and the later ones again; --sweep runs one experiment per value (`sweep`) and returns
    (ExperimentConfig, None). A bad input exits with its one-line message."""
    from avtfuse.console import configure_output, errors_exit, keras_verbosity

    configure_output(args.verbose)
    from avtfuse.runs import run_experiment

    with errors_exit(args.debug):
        config = experiment_config(args)
        if args.plan:
            from avtfuse.runs import plan_text

            print(plan_text(config))
            return config, None
        if args.check_data:
            from pipelines.data_check import check_data

            check = check_data(config.data)
            print(check.text())
            if not check.usable:
                raise SystemExit(1)
            return config, None
        verbose = keras_verbosity(args.verbose, sys.stdout.isatty())
        if args.sweep:
            sweep(args, config, experiment_config, verbose)
            return config, None
        results = run_experiment(config, fresh=args.fresh, verbose=verbose, redo=args.redo)
    with open(os.path.join(config.run_dir, "results.md")) as handle:
        print(handle.read())
    print(f"outputs: {config.run_dir}  SavedModel: {results['saved_model']}")
    return config, results


def sweep(args, config, experiment_config, verbose):
    """--sweep: one run per value (each named <config's run name>-<setting>-<value>), printed as a table with the
    run that validation chose (avtfuse.runs.sweep); returns the sweep's summary."""
    from avtfuse.runs import run_experiment
    from avtfuse.runs.sweep import run_sweep, sweep_markdown

    dest, option, values = args.sweep
    configs = []
    for value in values:
        chosen = argparse.Namespace(**{**vars(args), dest: value})
        chosen.run_name = f"{config.run_name}-{option.lstrip('-')}-{value}"
        configs.append((value, experiment_config(chosen)))
    summary = run_sweep(option, configs, lambda run: run_experiment(run, fresh=args.fresh, verbose=verbose,
                                                                    redo=args.redo), config.run_name)
    print(sweep_markdown(summary))
    return summary
