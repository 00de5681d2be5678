"""Argument checks shared by the avtfuse layers and models."""

import numbers


def positive_int(value, name):
    """`value` as an int, or a ValueError naming `name` unless it is an integer >= 1."""
    return int_at_least(value, name, 1)


def int_at_least(value, name, minimum):
    """`value` as an int, or a ValueError naming `name` unless it is an integer >= `minimum`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def choice(value, name, allowed):
    """`value` unchanged, or a ValueError naming `name` unless it is one of `allowed`."""
    if value not in allowed:
        raise ValueError(f"{name}: expected one of {list(allowed)}, got {value!r}")
    return value
