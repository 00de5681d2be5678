"""Argument types the entry points share: value lists, missing rates, corruption keys, and the table runners'
pass-through flags."""

import argparse


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
