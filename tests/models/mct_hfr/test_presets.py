"""Tests for avtfuse.models.mct_hfr.presets: variants, presets and the head, through build_experiment."""

import numpy as np
import pytest

from avtfuse.models.mct_hfr import MISSING_RATES, SYSTEM, build_head
from avtfuse.runs import build_experiment


def test_variants_set_training_data_and_losses():
    hfr = build_experiment("mct_hfr")
    assert hfr.variant == "mct_hfr" and (hfr.train.step_dropout, hfr.train.ramp_epochs) == (0.2, 5)
    assert hfr.model.lfi and hfr.model.gfa and hfr.train.aux_start_epoch == 2
    code = build_experiment("mct_hfr", variant="mct_hfr_code")
    assert (code.train.step_dropout, code.train.ramp_epochs) == (0.2, 0)
    mct = build_experiment("mct_hfr", variant="mct")
    assert mct.train.step_dropout == 0.0 and not (mct.model.lfi or mct.model.gfa)
    # a flag goes over the variant's training setting
    assert build_experiment("mct_hfr", train={"ramp_epochs": 0}).train.ramp_epochs == 0


def test_presets_follow_the_paper_schedule_and_shapes():
    small = build_experiment("mct_hfr", preset="small")
    assert small.data.missing_rates == MISSING_RATES == (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    assert (small.train.optimizer, small.train.weight_decay, small.train.clip_value) == ("adamw", 0.01, 0.8)
    assert small.train.early_stopping == 8 and small.data.label == "emotion"
    # 3 s at 16 kHz with a 20 ms hop: 151 log-mel frames (50 Hz) of 80 bands; 15 frames (5 frames/s)
    assert small.model.audio_shape == (151, 80) and small.model.visible_shape == (15, 32, 32, 3)
    paper = build_experiment("mct_hfr", preset="paper")
    assert paper.model.audio_shape == (401, 80) and paper.model.visible_shape == (40, 96, 96, 3)
    assert (paper.model.units, paper.model.layers, paper.train.learning_rate) == (128, 4, 1e-4)


def test_head_is_batch_norm_then_leaky_relu_mlp():
    head = build_head(12, 4)
    assert [type(layer).__name__ for layer in head.layers[1:]] == \
        ["BatchNormalization", "Dense", "LeakyReLU", "Dropout", "Dense"]
    probabilities = head(np.ones((2, 12), "float32"))
    assert probabilities.shape == (2, 4) and np.allclose(np.sum(probabilities, axis=-1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="num_classes"):
        SYSTEM.head(12, 1)
