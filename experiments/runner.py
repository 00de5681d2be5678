"""What every entry point does after parsing: run (or resume) an experiment and print its report (or its plan, or
its data's check, or a sweep's table). The flags' types are in experiments.flag_types."""

import argparse
import os
import sys


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
