"""The command line of an experiment: the flags generated from its config fields (avtfuse.flags) and the run's
own (--fresh, --plan, --check-data, --redo, --verbose, --debug); parsed values become
`avtfuse.runs.build_experiment` keyword arguments (`experiment_kwargs`)."""

import argparse

from avtfuse.flags import add_flags, experiment_kwargs, own_changes

__all__ = ["experiment_kwargs", "own_changes", "parser"]


def parser(prog, description, system, epilog=None, variants=True):
    """An ArgumentParser with the generated flags of `system` (with --variant unless `variants` is False), the
    run's own flags and, with --variant, its variants below. Its `own` is the group of the system's own flags."""
    if variants:
        epilog = "variants (--variant):\n" + "\n".join(
            f"  {name:<18} {variant.description}" for name, variant in system.variants.items()) + (
            f"\n\n{epilog}" if epilog else "")
    parser = argparse.ArgumentParser(prog=prog, description=description, epilog=epilog, allow_abbrev=False,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    groups = add_flags(parser, system, variants)
    parser.own, runtime = groups[system.name], groups["runtime"]
    runtime.add_argument("--fresh", action="store_true", help="delete an earlier run of this name first")
    runtime.add_argument("--plan", action="store_true", help="print the run's stages, done or pending, and train "
                         "nothing")
    runtime.add_argument("--check-data", action="store_true", help="read and decode the data (the feature cache), "
                         "list every bad file, count recordings per condition and per person, and train nothing; "
                         "exit status 1 when bad input would stop the run")
    runtime.add_argument("--redo", metavar="STAGE", help="run this stage again, and every stage after it")
    runtime.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                         help="0 warnings only; 1 progress (default); 2 also TensorFlow's notices and Keras warnings")
    runtime.add_argument("--debug", action="store_true", help="show the Python traceback of an error")
    runtime.add_argument("--sweep", metavar="SETTING=V1,V2", type=sweep_values(parser),
                         help="one run per value of a training or model setting (e.g. width-multiplier=0.5,1), all "
                              "on one split; every run kept, validation chooses (avtfuse.runs.sweep)")
    return parser


def sweep_values(parser):
    """An argparse type for --sweep: 'SETTING=V1,V2,...' -> (its dest, its option, [values typed as the flag]),
    SETTING one of `parser`'s flags that takes a value."""
    def parse(text):
        name, _, values = text.partition("=")
        option = "--" + name.strip().lstrip("-")
        action = parser._option_string_actions.get(option)
        if action is None or option in ("--sweep", "--run-name") or not action.nargs and action.const is not None:
            raise argparse.ArgumentTypeError(f"--sweep: {option} is not a setting with values of this command")
        chosen = [value.strip() for value in values.split(",") if value.strip()]
        if len(chosen) < 2:
            raise argparse.ArgumentTypeError(f"--sweep: give {option} two values or more (SETTING=V1,V2)")
        try:
            typed = [action.type(value) if action.type else value for value in chosen]
        except (argparse.ArgumentTypeError, ValueError) as error:
            raise argparse.ArgumentTypeError(f"--sweep {option}: {error}") from None
        if action.choices is not None and any(value not in action.choices for value in typed):
            raise argparse.ArgumentTypeError(f"--sweep {option}: choose from {', '.join(map(str, action.choices))}")
        return action.dest, option, typed
    return parse
