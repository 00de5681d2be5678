"""The small base of every config dataclass: to_dict, from_dict, replace, checks that name the field, and each
field's command-line flag (`setting`).

A config is a frozen dataclass subclass of `Config` (`@dataclasses.dataclass(frozen=True)`): its fields are set
once, when it is made; its `__post_init__` validates and normalises them with the `check_*` methods (errors read
"<Class>.<field>: expected ..., got ...") and `_set`; a changed config is a new one (`replace`). Fields holding
another Config (with a `default_factory`) nest: `to_dict` writes them as dicts and `from_dict` reads them back.

A field declared with `setting(default, help, ...)` is a setting users change from the command line: its flag's
name, type, default, choices and help come from the field (experiments.arguments generates the flags), so that a
new switch is its field and its use:

    epochs_embed: int = setting(50, "epochs of the first (or only) phase", preset=True)

A system's model config derives from `WidthConfig`: its one `width_multiplier` setting scales the hidden widths the
config names in `hidden_widths`, and the model builds `at_width()`.
"""

import dataclasses
import math
import numbers
from collections.abc import Callable

SETTING = "avtfuse.setting"


@dataclasses.dataclass(frozen=True)
class Setting:
    """How a config field appears on the command line (the metadata `setting` puts on the field).

    help: what the setting does (the flag's help; the default is appended). flag: the option string; None:
    --<field-name>, or --no-<field-name> for a switch that is on by default (giving it turns the switch off).
    False: no flag (the field is documented, an entry point offers it its own way). choices: the allowed values.
    type: the argparse type of the flag's text (None: the field's type: int, float or str; a switch takes no
    value). parse: a conversion of the flag's value made when the config is built (its ValueError names the flag).
    metavar: the value's name in --help. preset: the flag's default is None: left unset, the value of the preset and
    the variant stands (the help names the field's default); a text instead of True says where that value comes
    from. group: the --help group (None: the section's).
    recipes: offered only by systems trained with one of these recipes (avtfuse.training.recipes). dest: the
    attribute and key the value travels under (default: the field's name; a different unit, such as seconds for
    samples, is converted where the config is built). shortcuts: {option: (value, help)}, flags that set one value.
    identity_at_default: False leaves the field out of `Config.identity_dict` while it holds its default (a setting
    added after runs were made: those runs keep their identity, and only a changed value enters it).
    """

    help: str
    flag: str | bool | None = None
    choices: tuple | None = None
    type: Callable | None = None
    parse: Callable | None = None
    metavar: str | None = None
    preset: bool | str = False
    group: str | None = None
    recipes: tuple = ()
    dest: str | None = None
    shortcuts: dict = dataclasses.field(default_factory=dict)
    identity_at_default: bool = True


def setting(default=dataclasses.MISSING, help="", *, default_factory=dataclasses.MISSING, **flag):
    """A dataclass field with its command-line flag (`Setting`'s keywords: flag, choices, type, parse, metavar,
    preset, group, recipes, dest, shortcuts)."""
    if not help:
        raise ValueError("setting: every setting needs its help text")
    if "choices" in flag and flag["choices"] is not None:
        flag["choices"] = tuple(flag["choices"])
    return dataclasses.field(default=default, default_factory=default_factory,
                             metadata={SETTING: Setting(help=help, **flag)})


def settings(config_class):
    """[(dataclasses.Field, Setting)] of a config class's fields declared with `setting`, in field order."""
    return [(field, field.metadata[SETTING]) for field in dataclasses.fields(config_class) if SETTING in field.metadata]


def setting_of(config_class, name):
    """The Setting of a config class's field `name` (a KeyError when it has none)."""
    return config_class.__dataclass_fields__[name].metadata[SETTING]


def field_default(field):
    """A field's default value (made by its default_factory when it has one)."""
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


class Config:
    """Mixin for frozen config dataclasses (see the module docstring)."""

    def to_dict(self):
        """The fields as a JSON-ready dict: nested configs as dicts, tuples as lists."""
        return {field.name: _plain(getattr(self, field.name)) for field in dataclasses.fields(self)}

    def identity_dict(self):
        """`to_dict` less the settings declared with identity_at_default=False that hold their default (nested
        configs likewise): what a run's identity is made of."""
        values = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            meta = field.metadata.get(SETTING)
            if meta is not None and not meta.identity_at_default and value == field_default(field):
                continue
            values[field.name] = value.identity_dict() if isinstance(value, Config) else _plain(value)
        return values

    @classmethod
    def from_dict(cls, values):
        """The config from a dict of fields (as from `to_dict`); an unknown key raises ValueError naming it."""
        if isinstance(values, cls):
            return values
        if not isinstance(values, dict):
            raise ValueError(f"{cls.__name__}: expected a dict of fields, got {type(values).__name__}")
        fields = {field.name: field for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown fields {unknown}; known: {sorted(fields)}")
        converted = {}
        for name, value in values.items():
            nested = _nested_class(fields[name])
            converted[name] = nested.from_dict(value) if nested and isinstance(value, dict) else value
        return cls(**converted)

    @classmethod
    def coerce(cls, value):
        """`value` as this config: None gives the defaults, a dict its fields, an instance itself."""
        if value is None:
            return cls()
        return cls.from_dict(value)

    def replace(self, **changes):
        """A copy with `changes` applied (validated again); an unknown field raises ValueError."""
        known = {field.name for field in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown fields {unknown}")
        return dataclasses.replace(self, **changes)

    def _set(self, name, value):
        """Stores a normalised field value while the config is made (its `__post_init__`); a config is frozen."""
        object.__setattr__(self, name, value)

    def _fail(self, name, expected):
        raise ValueError(f"{type(self).__name__}.{name}: expected {expected}, got {getattr(self, name)!r}")

    def check_int(self, *names, minimum=1):
        """Each named field is an integer >= `minimum` (stored as int)."""
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
                self._fail(name, f"an integer >= {minimum}")
            self._set(name, int(value))

    def check_positive(self, *names):
        """Each named field is a number > 0 (stored as float)."""
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
                self._fail(name, "a number > 0")
            self._set(name, float(value))

    def check_rate(self, *names, upper_inclusive=False):
        """Each named field is a number in [0, 1) (or [0, 1]), stored as float."""
        for name in names:
            value = getattr(self, name)
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and 0.0 <= value
            ok = ok and (value <= 1.0 if upper_inclusive else value < 1.0)
            if not ok:
                self._fail(name, "a rate in [0, 1]" if upper_inclusive else "a rate in [0, 1)")
            self._set(name, float(value))

    def check_bool(self, *names):
        """Each named field is True or False."""
        for name in names:
            if not isinstance(getattr(self, name), bool):
                self._fail(name, "True or False")

    def check_choice(self, name, allowed):
        """The named field is one of `allowed`."""
        if getattr(self, name) not in allowed:
            self._fail(name, f"one of {list(allowed)}")

    def check_pair(self, name):
        """The named field is two integers >= 1 (stored as a tuple)."""
        value = getattr(self, name)
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            value = (value, value)
        if isinstance(value, str) or not hasattr(value, "__len__") or len(value) != 2 or not all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in value):
            self._fail(name, "two integers >= 1")
        self._set(name, tuple(int(v) for v in value))


def scaled_width(width, multiplier, multiple=1):
    """A hidden width at a width multiplier: `width * multiplier` rounded to the nearest multiple of `multiple`
    (such as an attention's head count), at least `multiple`."""
    return max(multiple, multiple * round(width * multiplier / multiple))


@dataclasses.dataclass(frozen=True)
class WidthConfig(Config):
    """Base of a system's model config: `width_multiplier` scales every hidden width of the system.

    A subclass names its hidden widths in `hidden_widths` ({field: the multiple it rounds to}, a tuple of
    multiples for a tuple of widths) and calls `super().__post_init__()` from its own; the model builds
    `at_width()`, the config with those fields scaled (`scaled_width`) and the multiplier 1, and a classification
    head with hidden layers scales them by `width_multiplier` likewise. The multiplier enters a run's identity
    only when it is not 1, so runs made before it keep theirs.
    """

    width_multiplier: float = setting(1.0, "multiplies every hidden width of the system (filters, dense units, "
                                      "transformer width and feed-forward width; output embeddings and input "
                                      "shapes keep theirs): below 1 for small data sets, parameters shrink about "
                                      "as its square", metavar="M", identity_at_default=False)

    def __post_init__(self):
        value = self.width_multiplier
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
            self._fail("width_multiplier", "a finite number > 0 (--width-multiplier)")
        self._set("width_multiplier", float(value))

    def hidden_widths(self):
        """{field: multiple} of the hidden widths `width_multiplier` scales (each subclass names its own)."""
        raise NotImplementedError(f"{type(self).__name__}.hidden_widths: each system config names its widths")

    def at_width(self):
        """The config the model builds: every field of `hidden_widths` scaled by `width_multiplier` and rounded to
        its multiple (each width of a tuple to its own), the multiplier then 1 (itself when it is 1 already)."""
        if self.width_multiplier == 1.0:
            return self
        changes = {}
        for name, multiple in self.hidden_widths().items():
            value = getattr(self, name)
            if isinstance(value, tuple):
                multiples = multiple if isinstance(multiple, tuple) else (multiple,) * len(value)
                changes[name] = tuple(scaled_width(width, self.width_multiplier, k)
                                      for width, k in zip(value, multiples))
            else:
                changes[name] = scaled_width(value, self.width_multiplier, multiple)
        return self.replace(width_multiplier=1.0, **changes)


def _plain(value):
    if isinstance(value, Config):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _nested_class(field):
    """The Config class of a field whose default_factory builds one, else None."""
    if field.default_factory is dataclasses.MISSING:
        return None
    default = field.default_factory()
    return type(default) if isinstance(default, Config) else None
