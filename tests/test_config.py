"""The config base: round trips, nested configs, replace, and errors that name the field."""

import dataclasses
import json

import pytest

from avtfuse.config import Config


@dataclasses.dataclass
class Inner(Config):
    size: tuple = (2, 3)
    rate: float = 0.5

    def __post_init__(self):
        self.check_pair("size")
        self.check_rate("rate")


@dataclasses.dataclass
class Outer(Config):
    name: str = "a"
    count: int = 1
    inner: Inner = dataclasses.field(default_factory=Inner)

    def __post_init__(self):
        self.check_int("count")
        self.check_choice("name", ("a", "b"))
        self.inner = Inner.coerce(self.inner)


def test_round_trip_through_json():
    config = Outer(name="b", count=3, inner=Inner(size=(4, 5), rate=0.25))
    values = json.loads(json.dumps(config.to_dict()))
    assert values == {"name": "b", "count": 3, "inner": {"size": [4, 5], "rate": 0.25}}
    assert Outer.from_dict(values) == config
    assert Outer.coerce(None) == Outer() and Outer.coerce(config) is config


def test_replace_validates_again():
    config = Outer()
    assert config.replace(count=2).count == 2 and config.count == 1
    with pytest.raises(ValueError, match=r"Outer.count: expected an integer >= 1, got 0"):
        config.replace(count=0)
    with pytest.raises(ValueError, match="unknown fields"):
        config.replace(colour="red")


@pytest.mark.parametrize("values, message", [
    ({"name": "c"}, r"Outer.name: expected one of \['a', 'b'\], got 'c'"),
    ({"count": True}, r"Outer.count: expected an integer >= 1"),
    ({"inner": {"size": (0, 2)}}, r"Inner.size: expected two integers >= 1"),
    ({"inner": {"rate": 1.0}}, r"Inner.rate: expected a rate in \[0, 1\)"),
    ({"inner": {"depth": 2}}, r"Inner: unknown fields \['depth'\]"),
    ({"colour": "red"}, r"Outer: unknown fields \['colour'\]"),
])
def test_errors_name_the_field(values, message):
    with pytest.raises(ValueError, match=message):
        Outer.from_dict(values)
