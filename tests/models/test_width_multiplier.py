"""`--width-multiplier` (avtfuse.config.WidthConfig): every system's hidden widths scale with it, its parameters
shrink, its classifier builds, runs and saves at 0.25, 0.5 and 1, and the multiplier names and identifies a run."""

import keras
import numpy as np
import pytest

from avtfuse.config import scaled_width
from avtfuse.models import SYSTEMS, ContractClassifier
from avtfuse.runs import build_experiment
from tests.models.test_absent_inputs import TINY, request

SYSTEM_NAMES = ("avtnet", "sa_fusion", "mct_hfr", "cfn_sr")
MULTIPLIERS = (0.25, 0.5, 1.0)


def classifier(name, multiplier):
    system = SYSTEMS[name]
    config = system.config_class(**TINY[name], width_multiplier=multiplier)
    keras.utils.set_random_seed(0)
    backbone = next(iter(system.variants.values())).backbone(config)
    head = system.head(backbone.feature_dim, 3, width_multiplier=multiplier)
    model = ContractClassifier(backbone, head)
    model.call_on_zeros()
    return model


@pytest.mark.parametrize("name", SYSTEM_NAMES)
def test_parameters_shrink_with_the_multiplier_and_every_width_builds_runs_and_saves(name, tmp_path):
    """Built and run at 0.25, 0.5 and 1, saved and loaded at 0.25 and 0.5 (at 1 the model is the one each system's
    own tests save and load: `at_width` leaves the config as it is)."""
    counts = {}
    for multiplier in MULTIPLIERS:
        model = classifier(name, multiplier)
        counts[multiplier] = model.count_params()
        inputs = request(model)
        expected = keras.ops.convert_to_numpy(model(inputs, training=False))
        assert expected.shape == (3, 3) and np.isfinite(expected).all()
        if multiplier == 1.0:
            continue
        assert model.backbone.config.width_multiplier == 1.0  # the model keeps the config it built
        path = tmp_path / f"{multiplier}.keras"
        model.save(path)
        loaded = keras.models.load_model(path)
        assert loaded.count_params() == counts[multiplier] and loaded.backbone.config == model.backbone.config
        np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(inputs, training=False)), expected, atol=1e-6)
    assert counts[0.25] < counts[0.5] < counts[1.0]


def test_the_config_scales_each_hidden_width_and_rounds_attention_widths_to_the_heads():
    avtnet = SYSTEMS["avtnet"].config_class(token_dim=64, num_heads=4, image_filters=128, hidden_dim=256, ff_dim=400,
                                            width_multiplier=0.3)
    built = avtnet.at_width()
    # 64 x 0.3 = 19.2 -> the nearest multiple of the 4 heads, 20; the other widths to the nearest integer.
    assert (built.token_dim, built.image_filters, built.hidden_dim, built.ff_dim) == (20, 38, 77, 120)
    assert (built.embedding_dim, built.width_multiplier) == (avtnet.embedding_dim, 1.0)
    cfn = SYSTEMS["cfn_sr"].config_class(width_multiplier=0.1)  # audio_filters (32, 32, 64), 8 heads
    assert cfn.at_width().audio_filters == (3, 3, 8)
    assert cfn.at_width().video_widths == (3, 6, 13, 26)
    sa = SYSTEMS["sa_fusion"].config_class(heads=4, width_multiplier=0.5).at_width()
    assert (sa.audio_width, sa.visual_width, sa.lt_units) == (32, 32, 64)
    mct = SYSTEMS["mct_hfr"].config_class(width_multiplier=0.25).at_width()
    assert (mct.units, mct.decoder_ffn_units, mct.cgate_units, mct.frame_units) == (32, 128, 16, 32)
    assert [scaled_width(1, 0.25), scaled_width(10, 0.5, 4), scaled_width(10, 2.0, 4)] == [1, 4, 20]


@pytest.mark.parametrize("name", SYSTEM_NAMES)
@pytest.mark.parametrize("value", [0, -0.5, float("nan"), float("inf"), True, "1"])
def test_the_config_rejects_a_multiplier_that_is_not_a_positive_number(name, value):
    with pytest.raises(ValueError, match=r"width_multiplier: expected a finite number > 0 \(--width-multiplier\)"):
        SYSTEMS[name].config_class(width_multiplier=value)


@pytest.mark.parametrize("name", SYSTEM_NAMES)
def test_the_multiplier_names_and_identifies_a_run_only_when_it_is_not_one(name):
    default = build_experiment(name, preset="small")
    one = build_experiment(name, preset="small", model={"width_multiplier": 1})
    half = build_experiment(name, preset="small", model={"width_multiplier": 0.5})
    assert "width_multiplier" not in default.identity()["model"]
    assert (one.identity(), one.run_name) == (default.identity(), default.run_name)
    assert half.identity()["model"]["width_multiplier"] == 0.5
    assert half.run_name == default.run_name.replace(f"{default.variant}-", f"{default.variant}-width-multiplier-0.5-",
                                                     1)
