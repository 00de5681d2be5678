"""SA-fusion's system description: variants, presets, input fields and config validation."""

import dataclasses

import pytest

from avtfuse.models import SYSTEMS
from avtfuse.models.sa_fusion import SYSTEM, VARIANTS, SAFusionConfig, SAFusionNet
from avtfuse.models.system import Preset
from avtfuse.training.recipes import RECIPES

SHAPES = {"audio": (156, 10), "visible": (15, 48, 48, 3), "thermal": (15, 48, 48, 1)}


def test_registry_and_variants():
    assert SYSTEMS["sa_fusion"] is SYSTEM and SYSTEM.config_class is SAFusionConfig
    assert list(VARIANTS) == ["ia1", "ia4", "it1", "it4", "lt1", "lt4"]
    for name, variant in VARIANTS.items():
        assert variant.backbone is SAFusionNet and variant.recipe == "end_to_end" and variant.recipe in RECIPES
        assert variant.overrides == {"fusion": name[:2], "heads": int(name[2])} and variant.description


def test_model_config_from_variant_and_shapes():
    config = SYSTEM.model_config("lt4", ("audio", "visible"), {"audio": (156, 10), "visible": (15, 64, 64, 3)})
    assert (config.modalities, config.fusion, config.heads, config.visible_shape) == (
        ("audio", "visible"), "lt", 4, (15, 64, 64, 3))
    config = SYSTEM.model_config("ia1", "thermal,audio,visible", SHAPES, frame_encoder="mobilenet")
    assert config.modalities == ("audio", "visible", "thermal") and config.thermal_shape == (15, 48, 48, 1)
    assert config.frame_encoder == "mobilenet"
    assert SYSTEM.input_fields({"audio": [156, 10]}) == {"audio_shape": (156, 10)}
    with pytest.raises(ValueError, match="variant"):
        SYSTEM.model_config("ia2", ("audio",), SHAPES)


def test_presets():
    small, paper = SYSTEM.preset("small"), SYSTEM.preset("paper")
    assert list(SYSTEM.presets) == ["small", "paper"]
    for preset in (small, paper):
        assert isinstance(preset, Preset)
        assert preset.features["audio_features"] == "mfcc" and preset.features["n_mfcc"] == 10
        assert preset.features["audio_samples"] == 79380 == round(3.6 * preset.features["sample_rate"])
        assert preset.features["frames"] == 15
        assert preset.train["optimizer"] == "sgd" and preset.train["learning_rate"] == 0.04
        assert (preset.train["momentum"], preset.train["dampening"], preset.train["l2"]) == (0.9, 0.9, 1e-3)
        assert preset.train["batch_size"] == 8
        assert preset.data == {"synthetic": "ravdess", "label": "emotion", "protocol": "folds",
                               "ablation": "complete", "synthetic_subjects": 6}
        assert Preset.from_dict(preset.to_dict()).to_dict() == preset.to_dict()
    assert small.model["frame_encoder"] == "small" and paper.model["frame_encoder"] == "mobilenet"
    assert paper.train["epochs_embed"] == 100 and paper.train["lr_step_epochs"] == (40, 55, 65, 70)  # the code's
    # a short run keeps the full rate until its last fifth
    assert min(small.train["lr_step_epochs"]) > 0.75 * small.train["epochs_embed"]
    assert paper.features["image_size"] == (112, 112) and paper.model == {"frame_encoder": "mobilenet"}
    assert paper.train["epochs_embed"] == 100 and paper.train["lr_step_epochs"] == (40, 55, 65, 70)
    assert paper.train["early_stopping"] == 100
    assert SYSTEM.preset("small") is not small
    # The preset's model changes make a valid config at its image size.
    frames = (15, *paper.features["image_size"], 3)
    config = SYSTEM.model_config("ia1", ("audio", "visible"), {**SHAPES, "visible": frames}, **paper.model)
    assert config.frame_encoder == "mobilenet"


def test_config_defaults_and_round_trip():
    config = SAFusionConfig()
    assert (config.modalities, config.audio_shape, config.visible_shape, config.thermal_shape) == (
        ("audio", "visible"), (156, 10), (15, 48, 48, 3), (15, 48, 48, 1))
    assert (config.fusion, config.heads, config.frame_encoder, config.query_residual) == ("ia", 1, "small", False)
    assert SAFusionConfig.from_dict(config.to_dict()) == config
    assert SAFusionConfig(visible_shape=[15, 48, 48, 3]).visible_shape == (15, 48, 48, 3)
    assert dataclasses.replace(config, modalities="audio").modalities == ("audio",)


@pytest.mark.parametrize("changes, field", [
    ({"fusion": "mult"}, "fusion"),
    ({"heads": 3}, "heads"),
    ({"heads": 0}, "heads"),
    ({"frame_encoder": "efficientface"}, "frame_encoder"),
    ({"audio_shape": (12, 10)}, "audio_shape"),
    ({"audio_shape": (156,)}, "audio_shape"),
    ({"visible_shape": (15, 48, 48)}, "visible_shape"),
    ({"visible_shape": (15, 4, 4, 3)}, "visible_shape"),
    ({"frame_encoder": "mobilenet", "visible_shape": (15, 16, 16, 3)}, "visible_shape"),
    ({"modalities": ("audio", "thermal"), "thermal_shape": (15, 0, 48, 1)}, "thermal_shape"),
    ({"query_residual": 1}, "query_residual"),
    ({"frame_filters": 0}, "frame_filters"),
    ({"audio_width": 0}, "audio_width"),
    ({"visual_width": 2.5}, "visual_width"),
    ({"lt_units": True}, "lt_units"),
    ({"heads": 4, "visual_width": 6}, "heads"),  # the visual stage-1 width
    ({"heads": 4, "audio_width": 3, "modalities": ("audio", "thermal")}, "heads"),  # audio stage 1: 2 w_a = 6
    ({"heads": 4, "fusion": "lt", "lt_units": 10}, "heads"),
])
def test_config_errors_name_the_field(changes, field):
    with pytest.raises(ValueError, match=f"SAFusionConfig.{field}"):
        SAFusionConfig(**changes)


def test_heads_divide_only_the_widths_the_fusion_attends_over():
    assert SAFusionConfig(heads=4, fusion="lt", visual_width=6, audio_width=3, lt_units=8).heads == 4
    assert SAFusionConfig(heads=4, fusion="ia", lt_units=10).heads == 4
    assert SAFusionConfig(heads=4, modalities=("audio", "visible"), audio_width=2, visual_width=4).heads == 4


def test_config_ignores_shapes_of_absent_modalities():
    config = SAFusionConfig(modalities=("audio",), visible_shape=(15, 4, 4, 3), frame_encoder="mobilenet")
    assert config.modalities == ("audio",)
    with pytest.raises(ValueError, match="modalities"):
        SAFusionConfig(modalities=("audio", "depth"))
