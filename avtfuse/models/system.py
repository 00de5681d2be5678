"""How a system describes itself to the shared training and experiment code.

A system is one package under `avtfuse/models/` that exports a `System`: its
model config class, its variants (a backbone class, the recipe that trains it
and the config changes that make the variant) and its presets (config
factories). `avtfuse.models.SYSTEMS` lists them by name; nothing shared
branches on a system's or variant's name.
"""

import dataclasses
from collections.abc import Callable

from avtfuse.config import Config
from avtfuse.files import check_name


def sequence_input_fields(shapes):
    """`System.input_fields` of a config with per-modality shape fields: {"<m>_shape": shape} of those given."""
    return {f"{modality}_shape": tuple(shapes[modality])
            for modality in ("audio", "visible", "thermal") if modality in shapes}


@dataclasses.dataclass(frozen=True)
class Variant:
    """One trainable variant of a system.

    backbone: the `ContractModel` class built from the system's model config.
    recipe: the name of its recipe in `avtfuse.training.recipes.RECIPES`.
    overrides: model-config fields that make this variant (empty: the system as published).
    description: one line for --help.
    train: TrainConfig fields the variant trains with (such as complete vs incomplete training data), applied
        over the preset's.
    """

    backbone: type
    recipe: str
    overrides: dict
    description: str
    train: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Preset(Config):
    """Settings for one scale of run: data settings (pipelines.dataset.DataConfig fields, such as the
    synthetic layout or the label), feature settings (pipelines.features.FeatureConfig fields), training
    settings (TrainConfig fields) and model-config changes applied over the variant's (such as a frame
    encoder that suits the preset's frame size)."""

    features: dict = dataclasses.field(default_factory=dict)
    train: dict = dataclasses.field(default_factory=dict)
    data: dict = dataclasses.field(default_factory=dict)
    model: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class System:
    """What the experiment runner needs of a system.

    name: the system's name (its package and experiment).
    config_class: the model config (a `Config` with a `modalities` field).
    variants: {variant name: Variant}; the first is the default.
    presets: {preset name: function () -> Preset}; the first is the default.
    input_fields: function (shapes {modality: example shape}) -> model-config
        fields that follow from the data (input shapes).
    head: function (feature_dim, num_people, width_multiplier=1.0) -> keras.Model, float [B, D] ->
        float32 [B, P] probabilities: the classification head on the backbone, its hidden widths (if any)
        scaled by the model config's width multiplier (avtfuse.config.scaled_width).
    """

    name: str
    config_class: type
    variants: dict
    presets: dict
    input_fields: Callable
    head: Callable

    def __post_init__(self):
        check_name(self.name, "System.name")  # names become parts of run-folder names
        for variant in self.variants:
            check_name(variant, f"{self.name}: variant name")
        for preset in self.presets:
            check_name(preset, f"{self.name}: preset name")

    def model_config(self, variant, modalities, shapes, **changes):
        """The model config of `variant` for data of these modalities and example `shapes`."""
        if variant not in self.variants:
            raise ValueError(f"variant: {variant!r} is not a variant of {self.name}; "
                             f"choose from {', '.join(self.variants)}")
        fields = {"modalities": modalities, **self.input_fields(shapes), **self.variants[variant].overrides,
                  **changes}
        return self.config_class(**fields)

    def preset(self, name):
        """The named Preset."""
        if name not in self.presets:
            raise ValueError(f"preset: {name!r} is not a preset of {self.name}; choose from {', '.join(self.presets)}")
        return self.presets[name]()
