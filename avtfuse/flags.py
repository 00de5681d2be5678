"""An experiment's command line from its config fields: each field declared with `avtfuse.config.setting` becomes a
flag (name, type, default, choices and help from the field) in its --help group: data (DataConfig, FeatureConfig),
training (TrainConfig, ExperimentConfig), verification (VerificationConfig), runtime (RuntimeConfig, where the
outputs go) and the system's own (its model config, and the training fields of its recipes); parsed values become
`avtfuse.runs.build_experiment` keyword arguments. A new field with a `setting` gets its flag with no other edit.

    parser = argparse.ArgumentParser()
    add_flags(parser, SYSTEMS["avtnet"])
    config = build_experiment("avtnet", **experiment_kwargs(parser.parse_args(argv), SYSTEMS["avtnet"]))
"""

import argparse
import dataclasses

from avtfuse.config import field_default, setting_of, settings
from avtfuse.evaluation.config import VerificationConfig
from avtfuse.runs.config import ExperimentConfig
from avtfuse.training.config import TrainConfig
from avtfuse.training.runtime import RuntimeConfig
from pipelines.dataset import DataConfig
from pipelines.features import FeatureConfig

# (build_experiment keyword, None for ExperimentConfig's own fields; config class; --help group) of shared flags.
SECTIONS = (("data", DataConfig, "data"), ("features", FeatureConfig, "data"), ("train", TrainConfig, "training"),
            (None, ExperimentConfig, "training"), ("verification", VerificationConfig, "verification"),
            ("runtime", RuntimeConfig, "runtime"))
SECTION_CLASSES = {section: config_class for section, config_class, _ in SECTIONS if section}
GROUPS = {"runtime": "runtime and outputs (a run resumes under other values of these)",
          "verification": "verification (a run with --held-out-people)"}


@dataclasses.dataclass
class Flag:
    """One generated flag: its option, the settings it sets ([(section, key)]), the first one's field and Setting,
    and the values the system's presets (or variants) give that field ({preset or variant name: value}; empty
    when they leave it to the field's default)."""

    option: str
    field: dataclasses.Field
    setting: object
    group: str
    targets: list
    presets: dict = dataclasses.field(default_factory=dict)

    @property
    def dest(self):
        return self.setting.dest or self.field.name

    @property
    def default(self):
        """The flag's default: None where the preset's (variant's) value stands (the setting says so, the system's
        presets or variants set it, or it turns a switch off), else the field's default."""
        negated = self.field.type is bool and field_default(self.field) is True
        return None if self.setting.preset or self.presets or negated else field_default(self.field)

    def add_to(self, group):
        """Adds the flag and its shortcuts to an argparse group: a switch off by default as --<name>, one on by
        default as --no-<name>; a value typed as the field (int, float, else text), with the field's choices."""
        default, meta = field_default(self.field), self.setting
        if self.field.type is bool:
            kind = dict(action="store_true", help=meta.help) if default is False else dict(
                action="store_const", const=False, help=f"without {meta.help}")
            kind["help"] = _escape(kind["help"])
        else:
            suffix = ("default: the preset's" if self.presets and meta.dest else
                      "default: " + ", ".join(f"{name} {_text(value)}" for name, value in self.presets.items())
                      if self.presets else f"default: {meta.preset}" if isinstance(meta.preset, str) else
                      f"default {_text(default)}" if default is not None else None)
            convert = meta.type or (self.field.type if self.field.type in (int, float) else str)
            if meta.type not in (None, int, float) or any(isinstance(choice, str) for choice in meta.choices or ()):
                convert = _flag_type(convert, meta.choices)
            kind = dict(metavar=meta.metavar, type=convert, choices=meta.choices,
                        help=_escape(meta.help + (f" ({suffix})" if suffix else "")))
        group.add_argument(self.option, dest=self.dest, default=self.default, **kind)
        for option, (value, help_text) in meta.shortcuts.items():
            group.add_argument(option, dest=self.dest, action="store_const", const=value, default=argparse.SUPPRESS,
                               help=_escape(f"{help_text}; same as {self.option} {value}"))


def flags(system):
    """The generated flags of an entry point of `system` (avtfuse.models.system.System), in --help order."""
    table = {}
    recipes = {variant.recipe for variant in system.variants.values()}
    given = preset_values(system)
    for section, config_class, group in (*SECTIONS, ("model", system.config_class, system.name)):
        for field, meta in settings(config_class):
            if meta.flag is False or (meta.recipes and not recipes & set(meta.recipes)):
                continue
            dashed = field.name.replace("_", "-")
            option = meta.flag or (f"--no-{dashed}" if field_default(field) is True else f"--{dashed}")
            if option not in table:
                table[option] = Flag(option, field, meta, system.name if meta.recipes else meta.group or group, [],
                                     given.get((section, field.name), {}))
            table[option].targets.append((section, meta.dest or field.name))
    return list(table.values())


def preset_values(system):
    """{(section, field): {preset or variant name: value}} of the fields the system's presets (data, features, train,
    model) or its variants' training settings set: their flags default to the preset's (variant's) value."""
    presets = {name: system.preset(name) for name in system.presets}
    values = {}
    for section in ("data", "features", "train", "model"):
        config_class = system.config_class if section == "model" else SECTION_CLASSES[section]
        for field in dict.fromkeys(field for preset in presets.values() for field in getattr(preset, section)):
            default = field_default(config_class.__dataclass_fields__[field])
            values[section, field] = {name: getattr(preset, section).get(field, default)
                                      for name, preset in presets.items()}
    for name, variant in system.variants.items():
        for field, value in variant.train.items():
            values.setdefault(("train", field), {})[name] = value
    return values


def add_flags(parser, system, variants=True):
    """Adds the generated flags of `system` to `parser` (with --variant, its choices the system's variants, unless
    `variants` is False); returns the --help groups by name ("data", "training", "verification", "runtime", the system's name)."""
    groups = {name: parser.add_argument_group(GROUPS.get(name, name))
              for name in ("data", "training", "verification", "runtime")}
    groups[system.name] = parser.add_argument_group(f"{system.name}: the system's own")
    if variants:
        first = next(iter(system.variants))
        groups[system.name].add_argument("--variant", choices=tuple(system.variants), default=first,
                                         help=f"{setting_of(ExperimentConfig, 'variant').help} (default {first})")
    for flag in flags(system):
        flag.add_to(groups.setdefault(flag.group, parser.add_argument_group(flag.group)))
    return groups


def experiment_kwargs(args, system):
    """`build_experiment` keyword arguments from parsed flags of `system`'s parser (a flag setting several fields
    sets each; a setting's `parse` converts its value). A flag left at None (unset where the preset's value stands)
    keeps the preset's value."""
    kwargs = {"data": {}, "features": {}, "train": {}, "verification": {}, "runtime": {}, "model": {}}
    for flag in flags(system):
        value = getattr(args, flag.dest, None)
        if value is not None and flag.setting.parse:
            try:
                value = flag.setting.parse(value)
            except ValueError as error:
                raise ValueError(f"{flag.option}: {error}") from None
        for section, key in flag.targets if value is not None else ():
            (kwargs[section] if section else kwargs)[key] = value
    if getattr(args, "variant", None):
        kwargs["variant"] = args.variant
    return kwargs


def own_changes(args, system):
    """[(field, value)] of the system's own flags given (those whose default is the preset's), in flag order."""
    return [(flag.field.name, getattr(args, flag.dest)) for flag in flags(system)
            if flag.group == system.name and flag.default is None and getattr(args, flag.dest, None) is not None]


def _flag_type(convert, choices):
    """An argparse type: `convert`, its ValueError as the flag's error; a choice may be spelt with - for _."""
    def parse(text):
        if choices and text not in choices and text.replace("-", "_") in choices:
            text = text.replace("-", "_")
        try:
            return convert(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    parse.__name__ = getattr(convert, "__name__", "value")
    return parse


def _text(value):
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value)) or "none"
    return str(value)


def _escape(text):
    return text.replace("%", "%%")
