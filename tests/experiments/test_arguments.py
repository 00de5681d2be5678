"""Tests of the shared flags: their types (experiments.runner) and their way into build_experiment (MCT-HFR's)."""

import argparse

import pytest

from experiments import mct_hfr, runner


def test_subjects_flag():
    assert runner.subject_numbers("1-3,7") == (1, 2, 3, 7)
    assert runner.subject_numbers(None) is None
    with pytest.raises(ValueError, match="--subjects"):
        runner.subject_numbers("a-b")


def test_missing_rates_flag():
    assert runner.missing_rates("0,0.1,0.5") == (0.0, 0.1, 0.5)
    assert runner.missing_rates("none") == ()
    for text in ("0.5", "0,1.0", "0,x"):
        with pytest.raises(argparse.ArgumentTypeError):
            runner.missing_rates(text)


def test_mct_hfr_flags_reach_the_config_and_name_the_run():
    args = mct_hfr.parse_args(["--missing-rates", "0,0.3", "--no-gfa", "--alignment", "smooth-l1", "--ramp-epochs",
                               "0", "--gfa-weight", "0.2"])
    config = mct_hfr.experiment_config(args)
    assert config.data.missing_rates == (0.0, 0.3) and config.train.ramp_epochs == 0
    assert (config.model.gfa, config.model.alignment, config.model.gfa_weight) == (False, "smooth_l1", 0.2)
    assert config.run_name == "mct_hfr-alignment-smooth_l1-no-gfa-gfa-weight-0.2-ramp-epochs-0-small-avt-fold1-seed0"
    default = mct_hfr.experiment_config(mct_hfr.parse_args([]))
    assert default.run_name == "mct_hfr-small-avt-fold1-seed0" and len(default.data.missing_rates) == 10
