"""CFN-SR's system description: variants, presets, input fields and config validation."""

import pytest

from avtfuse.models import SYSTEMS
from avtfuse.models.cfn_sr import SYSTEM, VARIANTS, CFNSRConfig, CFNSRNet
from avtfuse.models.system import Preset
from avtfuse.training.recipes import RECIPES
from pipelines.features import FeatureConfig


def test_registry_and_variants():
    assert SYSTEMS["cfn_sr"] is SYSTEM and SYSTEM.config_class is CFNSRConfig
    assert list(VARIANTS) == ["cfn_sr", "no_cross_modal", "no_self_attention", "no_residual"]
    assert [v.overrides for v in VARIANTS.values()] == [{}, {"cross_modal": False}, {"self_attention": False},
                                                        {"residual": False}]
    for variant in VARIANTS.values():
        assert variant.backbone is CFNSRNet and variant.recipe == "pretrain_then_fuse" and variant.recipe in RECIPES
        assert variant.description


def test_model_config_from_variant_and_shapes():
    config = SYSTEM.model_config("no_residual", "thermal,audio,visible",
                                 {"audio": (212, 13), "visible": (16, 32, 32, 3), "thermal": (16, 32, 32, 1)})
    assert (config.modalities, config.residual, config.visible_shape) == (
        ("audio", "visible", "thermal"), False, (16, 32, 32, 3))
    assert config.visual_modalities == ("visible", "thermal") and config.guided
    assert SYSTEM.input_fields({"audio": [212, 13]}) == {"audio_shape": (212, 13)}
    with pytest.raises(ValueError, match="variant"):
        SYSTEM.model_config("v_to_a", ("audio",), {"audio": (212, 13)})


def test_presets_take_the_papers_features():
    small, paper = SYSTEM.preset("small"), SYSTEM.preset("paper")
    assert list(SYSTEM.presets) == ["small", "paper"]
    for preset in (small, paper):
        assert isinstance(preset, Preset) and Preset.from_dict(preset.to_dict()).to_dict() == preset.to_dict()
        features = FeatureConfig(**preset.features)
        # 2.45 s from 0.5 s at 44.1 kHz, 13 MFCCs at hop 512 -> [212, 13]; 16 frames spread over the whole clip
        assert (features.sample_rate, features.audio_crop, features.audio_offset) == (44100, "start", 0.5)
        assert features.audio_samples == 108045 and features.shapes(["audio"])["audio"] == (212, 13)
        assert features.frames == 16 and features.frame_seconds > 60
        assert (preset.train["optimizer"], preset.train["learning_rate"], preset.train["batch_size"]) == (
            "adam", 1e-3, 16)
        assert (preset.train["beta_1"], preset.train["beta_2"]) == (0.9, 0.999)
        assert preset.train["early_stopping"] >= max(preset.train["epochs_embed"], preset.train["epochs_recognizer"])
        assert preset.data == {"synthetic": "ravdess", "label": "emotion", "protocol": "folds",
                               "ablation": "complete", "synthetic_subjects": 6}
    assert paper.features["image_size"] == (112, 112) and paper.train["epochs_recognizer"] == 70
    assert small.features["image_size"] == (32, 32) and small.train["epochs_recognizer"] <= 12


def test_config_defaults_round_trip_and_unimodal():
    config = CFNSRConfig()
    assert (config.modalities, config.audio_shape, config.visible_shape) == (
        ("audio", "visible"), (212, 13), (16, 112, 112, 3))
    assert (config.softmax_over, config.audio_to_head, config.selection) == ("hw", "raw", "strict")
    assert CFNSRConfig.from_dict(config.to_dict()) == config
    assert CFNSRConfig(video_strides=[[1, 2, 2], [2, 2, 2], [2, 2, 2], [2, 2, 2]]).video_strides == config.video_strides
    attended = config.replace(audio_to_head="attended")
    assert attended.unimodal("audio") == config.replace(modalities=("audio",))
    assert not attended.unimodal("visible").guided


@pytest.mark.parametrize("changes, field", [
    ({"audio_shape": (11, 13)}, "audio_shape"),
    ({"audio_shape": (212,)}, "audio_shape"),
    ({"visible_shape": (16, 112, 112)}, "visible_shape"),
    ({"thermal_shape": (16, 0, 112, 1)}, "thermal_shape"),
    ({"audio_filters": (32, 64)}, "audio_filters"),
    ({"video_widths": ()}, "video_widths"),
    ({"video_widths": (32, 64)}, "video_strides"),
    ({"video_strides": ((1, 2), (2, 2, 2), (2, 2, 2), (2, 2, 2))}, "video_strides"),
    ({"transformer_heads": 7}, "transformer_heads"),
    ({"attention_units": 0}, "attention_units"),
    ({"audio_dropout": 1.0}, "audio_dropout"),
    ({"residual": 1}, "residual"),
    ({"softmax_over": "t"}, "softmax_over"),
    ({"audio_to_head": "both"}, "audio_to_head"),
    ({"audio_to_head": "attended", "cross_modal": False}, "audio_to_head"),
    ({"audio_to_head": "attended", "modalities": ("audio",)}, "audio_to_head"),
    ({"selection": "best"}, "selection"),
])
def test_config_errors_name_the_field(changes, field):
    with pytest.raises(ValueError, match=f"CFNSRConfig.{field}: expected") as error:
        CFNSRConfig(**changes)
    assert "\n" not in str(error.value)
