"""Argument checks name the argument."""

import pytest

from avtfuse.layers.checks import choice, positive_int


def test_positive_int_accepts_integers_and_names_bad_ones():
    assert positive_int(3, "x") == 3
    for bad in (0, -1, 2.5, True, "4"):
        with pytest.raises(ValueError, match="width: expected an integer >= 1"):
            positive_int(bad, "width")


def test_choice_names_the_argument_and_the_options():
    assert choice("a", "mode", ("a", "b")) == "a"
    with pytest.raises(ValueError, match=r"mode: expected one of \['a', 'b'\], got 'c'"):
        choice("c", "mode", ("a", "b"))
