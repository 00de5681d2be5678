"""The small base of every config dataclass: to_dict, from_dict, replace, and checks that name the field.

A config is a `@dataclasses.dataclass` subclass of `Config`; its
`__post_init__` validates with the `check_*` methods, whose errors read
"<Class>.<field>: expected ..., got ...". Fields holding another Config
(with a `default_factory`) nest: `to_dict` writes them as dicts and
`from_dict` reads them back.
"""

import dataclasses
import numbers


class Config:
    """Mixin for config dataclasses (see the module docstring)."""

    def to_dict(self):
        """The fields as a JSON-ready dict: nested configs as dicts, tuples as lists."""
        return {field.name: _plain(getattr(self, field.name)) for field in dataclasses.fields(self)}

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

    def _fail(self, name, expected):
        raise ValueError(f"{type(self).__name__}.{name}: expected {expected}, got {getattr(self, name)!r}")

    def check_int(self, *names, minimum=1):
        """Each named field is an integer >= `minimum` (stored as int)."""
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
                self._fail(name, f"an integer >= {minimum}")
            setattr(self, name, int(value))

    def check_positive(self, *names):
        """Each named field is a number > 0 (stored as float)."""
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
                self._fail(name, "a number > 0")
            setattr(self, name, float(value))

    def check_rate(self, *names, upper_inclusive=False):
        """Each named field is a number in [0, 1) (or [0, 1]), stored as float."""
        for name in names:
            value = getattr(self, name)
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and 0.0 <= value
            ok = ok and (value <= 1.0 if upper_inclusive else value < 1.0)
            if not ok:
                self._fail(name, "a rate in [0, 1]" if upper_inclusive else "a rate in [0, 1)")
            setattr(self, name, float(value))

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
        setattr(self, name, tuple(int(v) for v in value))


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
