"""The config base: round trips, nested configs, replace, frozen configs, settings (a field's flag), and errors that
name the field."""

import dataclasses
import json

import pytest

from avtfuse.config import Config, Setting, setting, setting_of, settings


@dataclasses.dataclass(frozen=True)
class Inner(Config):
    size: tuple = (2, 3)
    rate: float = 0.5

    def __post_init__(self):
        self.check_pair("size")
        self.check_rate("rate")


@dataclasses.dataclass(frozen=True)
class Outer(Config):
    name: str = setting("a", "the name", choices=("a", "b"))
    count: int = setting(1, "how many", preset=True)
    inner: Inner = dataclasses.field(default_factory=Inner)

    def __post_init__(self):
        self.check_int("count")
        self.check_choice("name", ("a", "b"))
        self._set("inner", Inner.coerce(self.inner))


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


def test_a_config_is_frozen_and_replace_makes_a_new_one():
    config = Outer(inner={"size": 3})
    assert config.inner == Inner(size=(3, 3))  # normalised once, when made
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.count = 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.inner.rate = 0.1
    changed = config.replace(count=2)
    assert (changed.count, config.count) == (2, 1) and changed.inner is config.inner


def test_every_config_of_the_library_is_frozen():
    import avtfuse.runs  # noqa: F401  (imports every config: data, features, model, training, runtime, run)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    found = {cls.__name__: cls for cls in subclasses(Config) if cls.__module__.split(".")[0] in ("avtfuse", "pipelines")}
    assert {"DataConfig", "FeatureConfig", "TrainConfig", "RuntimeConfig", "ExperimentConfig", "AVTNetConfig",
            "SAFusionConfig", "MCTHFRConfig", "CFNSRConfig", "Preset"} <= set(found)
    assert [name for name, cls in found.items() if not cls.__dataclass_params__.frozen] == []


def test_a_setting_carries_its_flag_on_the_field():
    assert [field.name for field, _ in settings(Outer)] == ["name", "count"]
    name = setting_of(Outer, "name")
    assert isinstance(name, Setting) and (name.help, name.choices, name.preset) == ("the name", ("a", "b"), False)
    assert setting_of(Outer, "count").preset is True and Outer().count == 1
    with pytest.raises(ValueError, match="help"):
        setting(1)


@dataclasses.dataclass(frozen=True)
class Later(Outer):
    mode: str = setting("old", "a setting added after runs were made", identity_at_default=False)


def test_identity_dict_leaves_out_a_later_setting_at_its_default():
    assert Later().identity_dict() == Outer().identity_dict() == Outer().to_dict()
    changed = Later(mode="new").identity_dict()
    assert changed == {**Outer().to_dict(), "mode": "new"}
    assert Later(count=2).identity_dict()["count"] == 2
