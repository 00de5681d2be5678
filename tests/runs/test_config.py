"""The run config: built from presets and variants, round trip, identity, run-folder checks."""

import dataclasses
import json

import pytest

from avtfuse.models import SYSTEMS
from avtfuse.models.avtnet import AVTNetConfig
from avtfuse.runs import ExperimentConfig, RunMismatch, build_experiment, finished_results, specialist_config
from avtfuse.runs.folder import RunFolder


def test_build_from_preset_and_variant():
    config = build_experiment("avtnet", variant="prop-2", data={"modalities": "audio,thermal", "protocol": "strict"},
                              train={"epochs_embed": 2})
    assert config.run_name == "prop-2-small-at-strict-seed0"
    assert isinstance(config.model, AVTNetConfig) and config.model.modality_loss == "batch_hard"
    assert config.model.audio_shape == (130, 64) and config.model.image_size == (48, 48)
    assert config.train.epochs_embed == 2 and config.train.epochs_recognizer == 30  # the rest from the preset
    paper = build_experiment("avtnet", preset="paper")
    assert paper.model.audio_shape == (589, 128) and paper.data.features.image_size == (224, 224)


def test_json_round_trip():
    config = build_experiment("avtnet", variant="jer-2", features={"n_mels": 16}, runtime={"gpus": 0})
    values = json.loads(json.dumps(config.to_dict()))
    assert ExperimentConfig.from_dict(values) == config


def test_identity_leaves_out_runtime_and_locations():
    base = build_experiment("avtnet")
    moved = build_experiment("avtnet", data={"cache_dir": "/elsewhere"}, runtime={"gpus": 0, "precision": "float32"},
                             output_dir="out", saved_models_dir="saved", run_name="other")
    assert base.identity() == moved.identity()
    assert base.identity() != build_experiment("avtnet", train={"learning_rate": 0.01}).identity()


@pytest.mark.parametrize("kwargs, word", [
    ({"system": "nope"}, "system"), ({"variant": "prop-9"}, "variant"), ({"preset": "huge"}, "preset"),
    ({"train": {"batch_size": 1}}, "TrainConfig.batch_size"), ({"data": {"protocol": "loose"}}, "protocol"),
    ({"model": {"bn_neck": "some"}}, "AVTNetConfig.bn_neck"),
])
def test_bad_settings_name_the_field(kwargs, word):
    with pytest.raises(ValueError, match=word):
        build_experiment(**{"system": "avtnet", **kwargs})


def test_run_folder_refuses_other_settings_or_data(tmp_path):
    config = build_experiment("avtnet", output_dir=str(tmp_path))

    def open_folder(config, data_sha256):
        RunFolder(config.run_dir).open({"config": config.identity(), "data_sha256": data_sha256}, config.to_dict())

    open_folder(config, "a" * 64)
    open_folder(config.replace(runtime=config.runtime.replace(gpus=0)), "a" * 64)  # runtime does not block
    open_folder(config.replace(data=config.data.replace(missing_rates=(0.0, 0.5))), "a" * 64)  # evaluation only
    with pytest.raises(RunMismatch, match="other data"):
        open_folder(config, "b" * 64)
    with pytest.raises(RunMismatch, match="other settings"):
        open_folder(config.replace(train=config.train.replace(seed=3)), "a" * 64)
    assert finished_results(config) is None
    with pytest.raises(RunMismatch, match="other settings"):
        finished_results(config.replace(train=config.train.replace(seed=3)))


@pytest.mark.parametrize("system", ["avtnet", "cfn_sr"])
def test_specialist_config_is_the_same_run_on_one_modality(system):
    config = build_experiment(system, data={"modalities": "audio,visible", "protocol": "strict"},
                              train={"epochs_embed": 2}, specialists=True, run_name="fused")
    alone = specialist_config(config, "visible")
    assert alone.data.modalities == ("visible",) and alone.model.modalities == ("visible",)
    assert alone.run_name == "fused-specialist-visible" and not alone.specialists
    # Everything else is the fused run's: the same split, training and model settings.
    assert alone.data.replace(modalities=config.data.modalities) == config.data
    assert alone.train == config.train
    # The model: the visible input as a visible-only run builds it, every other setting the fused run's.
    direct = build_experiment(system, data={"modalities": "visible", "protocol": "strict"}, train={"epochs_embed": 2})
    inputs = SYSTEMS[system].input_fields(config.data.features.shapes(("visible",)))
    assert inputs and all(getattr(alone.model, name) == getattr(direct.model, name) for name in inputs)
    for field in dataclasses.fields(config.model):
        if field.name not in inputs and field.name != "modalities":
            assert getattr(alone.model, field.name) == getattr(config.model, field.name), field.name


def test_specialists_are_part_of_the_identity():
    assert build_experiment("avtnet", specialists=True).identity() != build_experiment("avtnet").identity()
    with pytest.raises(ValueError, match="specialists"):
        build_experiment("avtnet", specialists="yes")


def test_attention_enters_the_identity_only_when_changed():
    """The joint transformer's attention settings came after runs were made: at their defaults a run keeps the
    identity (and stage keys) it had; changed, they make another run."""
    base = build_experiment("avtnet")
    assert not {"attention", "attention_block"} & set(base.identity()["model"])
    full = build_experiment("avtnet", model={"attention": "full"})
    assert full.identity() != base.identity()
    assert full.identity()["model"] == {**base.identity()["model"], "attention": "full"}
    smaller = build_experiment("avtnet", model={"attention_block": 128})
    assert smaller.identity() != base.identity() and smaller.identity() != full.identity()
    assert base.to_dict()["model"]["attention"] == "blocked"  # config.json still writes every field


def test_a_specialist_fallback_trains_the_specialists_and_they_answer_for_themselves():
    config = build_experiment("avtnet", single_sensor="specialist", run_name="fused")
    assert config.trains_specialists
    assert config.identity() != build_experiment("avtnet", run_name="fused").identity()
    assert specialist_config(config, "audio").single_sensor == "fused"
    assert build_experiment("avtnet", specialists=True).trains_specialists
    assert not build_experiment("avtnet", specialists=True, data={"modalities": "audio"}).trains_specialists
    best = build_experiment("avtnet", single_sensor="best", run_name="fused")
    assert best.trains_specialists and specialist_config(best, "audio").single_sensor == "fused"
    with pytest.raises(ValueError, match="single_sensor"):
        build_experiment("avtnet", single_sensor="oracle")
