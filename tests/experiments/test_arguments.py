"""Tests of the flags: generated from their config fields (avtfuse.flags), their types (experiments.flag_types), their
way into build_experiment, the run names they make, and --plan / --redo."""

import argparse
import dataclasses
import os

import pytest

from avtfuse import flags as flags_module
from avtfuse.config import field_default, setting
from avtfuse.models import SYSTEMS
from avtfuse.runs import default_run_name
from avtfuse.training.config import TrainConfig
from avtfuse.training.recipes import RECIPES
from experiments import arguments, avtnet, cfn_sr, flag_types, mct_hfr, runner, sa_fusion
from pipelines.dataset import parse_subjects

ENTRIES = {"avtnet": avtnet, "sa_fusion": sa_fusion, "mct_hfr": mct_hfr, "cfn_sr": cfn_sr}


def test_subjects_flag():
    assert parse_subjects("1-3,7") == (1, 2, 3, 7)
    assert parse_subjects(None) is None
    with pytest.raises(ValueError, match="--subjects: cannot read 'a-b'"):
        arguments.experiment_kwargs(avtnet.parse_args(["--subjects", "a-b"]), SYSTEMS["avtnet"])


def test_missing_rates_flag():
    assert flag_types.missing_rates("0,0.1,0.5") == (0.0, 0.1, 0.5)
    assert flag_types.missing_rates("none") == ()
    for text in ("0.5", "0,1.0", "0,x"):
        with pytest.raises(argparse.ArgumentTypeError):
            flag_types.missing_rates(text)


@pytest.mark.parametrize("system", list(SYSTEMS))
def test_every_generated_flag_defaults_to_its_config_field(system):
    """A flag's default is its field's default, or None where the preset's (variant's) value stands (the setting
    says so, the system's presets or variants set the field, or the flag turns a switch off); its choices and help
    are the field's."""
    parser = arguments.parser("test", None, SYSTEMS[system])
    generated = flags_module.flags(SYSTEMS[system])
    assert generated and len({flag.option for flag in generated}) == len(generated)
    given = flags_module.preset_values(SYSTEMS[system])
    for flag in generated:
        action = next(action for action in parser._actions if flag.option in action.option_strings)
        negated = flag.field.type is bool and field_default(flag.field) is True
        from_preset = flag.setting.preset or negated or any(target in given for target in flag.targets)
        assert parser.get_default(flag.dest) == (None if from_preset else field_default(flag.field)), flag.option
        assert action.help.startswith(flag.setting.help if not negated else f"without {flag.setting.help}")
        assert tuple(action.choices or ()) == tuple(flag.setting.choices or ()), flag.option
    parsed = vars(ENTRIES[system].parse_args([]))
    assert {name for name, value in parsed.items() if value != parser.get_default(name)} <= {"modalities", "dropout"}


def test_a_flag_the_preset_sets_says_the_presets_value():
    help_text = {action.dest: action.help for action in arguments.parser("t", None, SYSTEMS["sa_fusion"])._actions}
    assert help_text["batch_size"].endswith("(default: small 8, paper 8)")
    assert help_text["frame_encoder"].endswith("(default: small small, paper mobilenet)")
    assert sa_fusion.parse_args([]).batch_size is None and avtnet.parse_args([]).batch_size == 32
    steps = {action.dest: action.help for action in arguments.parser("t", None, SYSTEMS["mct_hfr"])._actions}
    assert steps["step_dropout"].endswith("(default: mct_hfr 0.2, mct_hfr_code 0.2, mct 0.0)")


def test_flags_that_set_several_fields_agree():
    seed = next(flag for flag in flags_module.flags(SYSTEMS["avtnet"]) if flag.option == "--seed")
    assert seed.targets == [("data", "seed"), ("train", "seed")]
    args = avtnet.parse_args(["--seed", "3"])
    config = avtnet.experiment_config(args)
    assert config.data.seed == config.train.seed == 3


def test_recipe_flags_come_with_the_systems_that_train_with_them():
    for flag in flags_module.flags(SYSTEMS["mct_hfr"]):
        assert set(flag.setting.recipes) <= set(RECIPES)
    options = {system: {flag.option for flag in flags_module.flags(SYSTEMS[system])} for system in SYSTEMS}
    assert "--step-dropout" in options["mct_hfr"] and "--step-dropout" not in options["avtnet"]


def test_a_new_field_with_a_setting_gets_its_flag(monkeypatch):
    @dataclasses.dataclass(frozen=True)
    class Extended(TrainConfig):
        time_warp: float = setting(0.25, "largest time warp of a training spectrogram")
        mixup: bool = setting(True, "mixup of training pairs")

    monkeypatch.setattr(flags_module, "SECTIONS", tuple(
        (section, Extended if cls is TrainConfig else cls, group) for section, cls, group in flags_module.SECTIONS))
    parser = arguments.parser("test", None, SYSTEMS["avtnet"])
    assert parser.get_default("time_warp") == 0.25 and parser.get_default("mixup") is None
    args = parser.parse_args(["--time-warp", "0.5", "--no-mixup"])
    kwargs = arguments.experiment_kwargs(args, SYSTEMS["avtnet"])
    assert kwargs["train"]["time_warp"] == 0.5 and kwargs["train"]["mixup"] is False
    assert arguments.experiment_kwargs(parser.parse_args([]), SYSTEMS["avtnet"])["train"]["time_warp"] == 0.25
    action = next(action for action in parser._actions if "--time-warp" in action.option_strings)
    assert action.help == "largest time warp of a training spectrogram (default 0.25)" and action.type is float


def test_mct_hfr_flags_reach_the_config_and_name_the_run():
    args = mct_hfr.parse_args(["--missing-rates", "0,0.3", "--no-gfa", "--alignment", "smooth-l1", "--ramp-epochs",
                               "0", "--gfa-weight", "0.2"])
    config = mct_hfr.experiment_config(args)
    assert config.data.missing_rates == (0.0, 0.3) and config.train.ramp_epochs == 0
    assert (config.model.gfa, config.model.alignment, config.model.gfa_weight) == (False, "smooth_l1", 0.2)
    assert config.run_name == "mct_hfr-alignment-smooth_l1-no-gfa-gfa-weight-0.2-ramp-epochs-0-small-avt-fold1-seed0"
    assert mct_hfr.parse_args(["--alignment", "smooth_l1"]).alignment == "smooth_l1"  # the config's spelling
    default = mct_hfr.experiment_config(mct_hfr.parse_args([]))
    assert default.run_name == "mct_hfr-small-avt-fold1-seed0" and len(default.data.missing_rates) == 10
    assert mct_hfr.experiment_config(mct_hfr.parse_args(["--variant", "mct"])).model.lfi is False  # the variant's


def test_shared_flags_reach_every_section():
    args = avtnet.parse_args(["--audio-seconds", "0.5", "--image-size", "32", "--frame", "3", "--no-bn-neck",
                              "--gpus", "0", "--config", "paper", "--specialists", "--run-name", "x",
                              "--early-stopping", "4"])
    config = avtnet.experiment_config(args)
    assert config.data.features.audio_samples == round(0.5 * config.data.features.sample_rate)
    assert config.data.features.image_size == (32, 32) and config.data.frame == 3
    assert (config.model.bn_neck, config.runtime.gpus, config.preset, config.specialists, config.run_name) == (
        "none", 0, "paper", True, "x")
    assert config.train.early_stopping == 4 and config.train.epochs_embed == 50  # the rest from the paper preset
    sa = sa_fusion.experiment_config(sa_fusion.parse_args(["--fusion", "lt", "--heads", "4", "--dropout", "noise"]))
    assert (sa.variant, sa.train.replication, sa.data.missing_fill, sa.train.batch_size) == ("lt4", "noise", "noise", 8)
    assert sa.run_name == "lt4-noise-small-av-fold1-seed0"


def test_sa_fusion_sizes_reach_the_config_and_name_the_run():
    args = sa_fusion.parse_args(["--frame-units", "16", "--audio-width", "8", "--visual-width", "8", "--lt-units", "16",
                                 "--frame-filters", "4"])
    config = sa_fusion.experiment_config(args)
    model = config.model
    assert (model.frame_filters, model.frame_units, model.audio_width, model.visual_width, model.lt_units) == (
        4, 16, 8, 8, 16)
    assert config.run_name == ("ia1-audio-width-8-frame-filters-4-frame-units-16-lt-units-16-visual-width-8-softhard-"
                               "small-av-fold1-seed0")
    default = sa_fusion.experiment_config(sa_fusion.parse_args([])).model
    assert (default.frame_filters, default.frame_units, default.audio_width, default.visual_width,
            default.lt_units) == (16, 256, 64, 64, 128)  # the small preset's 16 frame filters, the paper's widths
    paper = sa_fusion.experiment_config(sa_fusion.parse_args(["--config", "paper"]))
    assert paper.model.frame_filters == 32 and paper.run_name == "ia1-softhard-paper-av-fold1-seed0"


@pytest.mark.parametrize("system", list(SYSTEMS))
def test_width_multiplier_and_weight_decay_flags_reach_the_config(system):
    entry = ENTRIES[system]
    config = entry.experiment_config(entry.parse_args(["--width-multiplier", "0.5", "--weight-decay", "0.01"]
                                                      if system != "sa_fusion" else ["--width-multiplier", "0.5"]))
    default = entry.experiment_config(entry.parse_args([]))
    assert config.model.width_multiplier == 0.5 and default.model.width_multiplier == 1.0
    assert config.run_name.replace("-width-multiplier-0.5-", "-", 1) == default.run_name != config.run_name
    if system != "sa_fusion":
        assert config.train.weight_decay == 0.01
    with pytest.raises(ValueError, match=r"width_multiplier: expected a finite number > 0 \(--width-multiplier\)"):
        entry.experiment_config(entry.parse_args(["--width-multiplier", "0"]))


def test_weight_decay_is_refused_beside_the_sgd_optimizers_coupled_l2():
    args = sa_fusion.parse_args(["--weight-decay", "0.01"])  # SA-fusion's presets: sgd with l2 1e-3
    with pytest.raises(ValueError, match=r"TrainConfig.weight_decay: expected 0 \(--weight-decay\) with the sgd "
                                         r"optimizer's coupled l2 0.001"):
        sa_fusion.experiment_config(args)


def test_run_names_come_from_one_function():
    assert default_run_name("prop", "small", ("audio", "visible", "thermal"), "paper", seed=0) == \
        "prop-small-avt-paper-seed0"
    assert default_run_name("prop", ("audio", "thermal"), "strict", None, seed=2) == "prop-at-strict-seed2"
    assert default_run_name("mct", ("gfa", False), ("ramp_epochs", 0), seed=1) == "mct-no-gfa-ramp-epochs-0-seed1"
    assert default_run_name("ia1", "none", "fold2") == "ia1-none-fold2"
    from avtfuse.training.lineup import run_flags
    from avtfuse.training.table import TableRun

    assert TableRun("prop", ("audio", "visible"), "strict", 0, "subsets").name == "prop-av-strict-subsets-seed0"
    flags = run_flags("mct", 2, "audio,visible", 1, (0.0, 0.5), "out")
    assert flags[flags.index("--run-name") + 1] == "mct-seed2"


class FakeRun:
    """run_experiment's stand-in: records its arguments, writes results.md."""

    def __init__(self):
        self.calls = []

    def __call__(self, config, fresh=False, verbose=2, redo=None):
        self.calls.append({"run_name": config.run_name, "fresh": fresh, "redo": redo})
        os.makedirs(config.run_dir, exist_ok=True)
        with open(os.path.join(config.run_dir, "results.md"), "w") as handle:
            handle.write("# results\n")
        return {"saved_model": "saved"}


def test_plan_prints_the_stages_and_trains_nothing(monkeypatch, tmp_path, capsys):
    import avtfuse.runs

    fake = FakeRun()
    monkeypatch.setattr(avtfuse.runs, "run_experiment", fake)
    monkeypatch.setattr(avtfuse.runs, "plan_text", lambda config: f"plan of {config.run_name}")
    config, results = runner.run_and_report(avtnet.parse_args(["--plan", "--output-dir", str(tmp_path), "--verbose",
                                                               "0"]), avtnet.experiment_config)
    assert results is None and fake.calls == [] and f"plan of {config.run_name}" in capsys.readouterr().out
    mct_hfr.main(["--plan", "--output-dir", str(tmp_path), "--verbose", "0"])  # no complexity table either
    assert capsys.readouterr().out.strip() == "plan of mct_hfr-small-avt-fold1-seed0" and fake.calls == []


def test_redo_and_fresh_reach_the_run(monkeypatch, tmp_path, capsys):
    import avtfuse.runs

    fake = FakeRun()
    monkeypatch.setattr(avtfuse.runs, "run_experiment", fake)
    avtnet.main(["--redo", "evaluate", "--output-dir", str(tmp_path), "--run-name", "r", "--verbose", "0"])
    avtnet.main(["--fresh", "--output-dir", str(tmp_path), "--run-name", "r", "--verbose", "0"])
    assert fake.calls == [{"run_name": "r", "fresh": False, "redo": "evaluate"},
                          {"run_name": "r", "fresh": True, "redo": None}]
    assert "# results" in capsys.readouterr().out


@pytest.mark.parametrize("system", list(SYSTEMS))
def test_help_lists_the_shared_and_own_flags(system, capsys):
    with pytest.raises(SystemExit):
        ENTRIES[system].parse_args(["--help"])
    text = capsys.readouterr().out
    for flag in ("--data", "--seed", "--gpus", "--plan", "--check-data", "--redo", "--epochs-embed", "--run-name"):
        assert flag in text
    for flag in flags_module.flags(SYSTEMS[system]):
        assert flag.option in text


@pytest.mark.parametrize("name", ["..", ".", "", "a/b", "bad\x07name"])
def test_a_run_name_that_is_not_a_folder_name_is_refused_and_nothing_deleted(tmp_path, monkeypatch, name):
    """--run-name .. with --fresh would have made <output-dir>/.. the run folder, and deleted it."""
    import avtfuse.runs

    outputs = tmp_path / "runs"
    outputs.mkdir()
    sentinels = [tmp_path / "sentinel.txt", outputs / "sentinel.txt"]
    for path in sentinels:
        path.write_text("keep")
    runs = []
    monkeypatch.setattr(avtfuse.runs, "run_experiment", lambda *args, **kwargs: runs.append(args))
    with pytest.raises(SystemExit, match=r"^error: --run-name \(ExperimentConfig.run_name\): expected a folder"):
        avtnet.main(["--run-name", name, "--output-dir", str(outputs), "--fresh", "--verbose", "0"])
    assert not runs and all(path.read_text() == "keep" for path in sentinels)


@pytest.mark.parametrize("system", list(SYSTEMS))
def test_system_variant_and_preset_names_are_folder_names(system):
    from avtfuse.files import check_name

    spec = SYSTEMS[system]
    for name in (spec.name, *spec.variants, *spec.presets):
        assert check_name(name, "name") == name
    with pytest.raises(ValueError, match="variant name"):
        dataclasses.replace(spec, variants={"../x": next(iter(spec.variants.values()))})


def test_corruptions_flag(capsys):
    from pipelines.corruptions import KEYS

    def parsed(text):
        return avtnet.experiment_config(avtnet.parse_args(["--corruptions", text])).data.corruptions

    assert parsed("all") == KEYS and parsed("none") == () and avtnet.experiment_config(avtnet.parse_args([])).data \
        .corruptions == ()
    assert parsed("visible/gaussian_blur,audio/noise") == ("audio/noise", "visible/gaussian_blur")
    with pytest.raises(SystemExit):
        avtnet.parse_args(["--corruptions", "audio/noise,visible/blur"])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "argument --corruptions: unknown corruption 'visible/blur'" in error
