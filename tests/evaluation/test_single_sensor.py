"""--single-sensor best: validation alone chooses each sensor's answer (planted validation/test disagreements with
oracle models), and the run then serves the chosen one."""

import numpy as np
import pytest

from avtfuse.evaluation import single_sensor as choice_module
from avtfuse.evaluation import stages as evaluation
from avtfuse.models.avtnet import AVTNet, build_recognizer
from avtfuse.models.base import ContractClassifier
from avtfuse.models.specialist_fallback import SpecialistFallback
from avtfuse.runs import build_experiment, plan
from avtfuse.runs.state import RunState
from avtfuse.training.runtime import setup_runtime
from pipelines.split_data import SPLIT_IDS, SplitData
from pipelines.synthetic.speakingfaces import THERMAL_PALETTE, write_speakingfaces

FEATURES = {"audio_samples": 4096, "n_mels": 16, "n_fft": 512, "hop_length": 256, "image_size": (16, 16),
            "thermal_palette": THERMAL_PALETTE}


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    """An opened RunState of an audio + thermal run with --single-sensor best, strict protocol (nothing trained)."""
    root = tmp_path_factory.mktemp("best")
    write_speakingfaces(root / "sf", subjects=range(1, 5), trials=(1, 2, 3, 4, 5), positions=(1,), commands=(1, 2),
                        image_size=16, audio_seconds=0.5, frames_per_recording=1)
    config = build_experiment(
        "avtnet", data={"source": str(root / "sf"), "protocol": "strict", "cache_dir": str(root / "cache"),
                        "modalities": ("audio", "thermal"), "validation_fraction": 0.25},
        features=FEATURES, train={"batch_size": 4}, runtime={"gpus": 0}, single_sensor="best",
        output_dir=str(root / "runs"), run_name="best")
    run = RunState(config, setup_runtime(config.runtime), verbose=0)
    run.open()
    run.stage_names = [stage.name for stage in plan(config)]
    return run


class Oracle:
    """A stand-in classifier: the true person for the recordings in `right`, the next person for the others,
    as probabilities in the order of `classes` (the run label of each output)."""

    def __init__(self, data, right, classes):
        self.truth = dict(zip(data.recordings, data.labels))
        self.right, self.classes, self.num_people = set(right), list(classes), data.num_people

    def __call__(self, inputs, training=False):
        rows = []
        for recording in np.asarray(inputs["recording"]).astype(str):
            label = self.truth[recording]
            answer = label if recording in self.right else (label + 1) % self.num_people
            rows.append(np.eye(len(self.classes), dtype=np.float32)[self.classes.index(answer)])
        return np.stack(rows)


def recordings(data, split):
    """The ids of the recordings with a sample on `split`."""
    return {str(r) for r, row in zip(data.recordings, data.assignment) if (row == SPLIT_IDS[split]).any()}


@pytest.fixture
def no_test_split(monkeypatch):
    """Makes any read of the test split fail: the choice must never read it."""
    batches = SplitData.batches

    def guarded(self, split, *args, **kwargs):
        assert split != "test", "the single-sensor choice read the test split"
        return batches(self, split, *args, **kwargs)

    monkeypatch.setattr(SplitData, "batches", guarded)


@pytest.mark.parametrize("right_on_validation", ["fused", "specialist"])
def test_validation_chooses_even_where_the_test_split_disagrees(state, right_on_validation, monkeypatch,
                                                               no_test_split):
    data = state.data
    valid, test = recordings(data, "valid"), recordings(data, "test")
    assert valid and test
    right = {"fused": valid, "specialist": test} if right_on_validation == "fused" else \
        {"fused": test, "specialist": valid}
    everyone = list(range(data.num_people))
    monkeypatch.setattr(state, "fused_classifier", lambda: Oracle(data, right["fused"], everyone))
    monkeypatch.setattr(state, "load_classifier", lambda run_dir: Oracle(
        data, right["specialist"], state.specialist_classes("thermal" if run_dir.endswith("thermal") else "audio")))
    outputs = evaluation.single_sensor(state)
    for modality in ("audio", "thermal"):
        chosen = outputs[modality]
        assert chosen["chosen"] == right_on_validation, chosen
        assert chosen["validation"][right_on_validation] == 1.0
        loser = "specialist" if right_on_validation == "fused" else "fused"
        assert chosen["validation"][loser] == 0.0
        assert chosen["samples"] == len(valid)  # every validation recording holds both sensors, each once
    assert set(outputs["audio"]["validation"]) == {"fused", "specialist", "mfcc_lr"}
    assert set(outputs["thermal"]["validation"]) == {"fused", "specialist", "pixels_lr", "fisherfaces"}


def test_a_chosen_classical_model_is_saved_and_served_for_its_sensor_alone(state, monkeypatch, no_test_split):
    """Fused model and specialists wrong everywhere: a classical model wins each sensor; the served classifier
    routes a lone sensor to the saved classical model and the rest to the fused model."""
    data = state.data
    everyone = list(range(data.num_people))
    monkeypatch.setattr(state, "fused_classifier", lambda: Oracle(data, (), everyone))
    monkeypatch.setattr(state, "load_classifier", lambda run_dir: Oracle(data, (), everyone))
    outputs = evaluation.single_sensor(state)
    for modality, kinds in (("audio", ("mfcc_lr",)), ("thermal", ("pixels_lr", "fisherfaces"))):
        assert outputs[modality]["chosen"] in kinds, outputs[modality]
    backbone = AVTNet(state.resolved.model.replace(width_multiplier=0.125))
    fused = ContractClassifier(backbone, build_recognizer(backbone.feature_dim, data.num_people, hidden_units=(8,)))
    monkeypatch.setattr(state, "fused_classifier", lambda: fused)
    state.outputs["single-sensor"] = outputs
    served = state.served_classifier()
    assert isinstance(served, SpecialistFallback) and set(served.specialists) == {"audio", "thermal"}
    inputs, _ = next(iter(data.sensor_alone("thermal", "valid").batches("valid", 8)))
    routed = np.asarray(served(inputs, training=False))
    thermal = served.specialists["thermal"]
    own = np.asarray(thermal(dict(inputs, present=inputs["present"][:, 1:]), training=False))
    placed = np.zeros_like(routed)
    placed[:, outputs["thermal"]["classes"]] = own
    np.testing.assert_allclose(routed, placed, atol=1e-6)


def test_ties_go_to_the_simpler_answer_and_nothing_scored_keeps_the_fused_model():
    assert choice_module.choose({"fused": 0.5, "specialist": 0.5, "pixels_lr": 0.5}) == "fused"
    assert choice_module.choose({"fused": 0.4, "specialist": 0.5, "fisherfaces": 0.5}) == "specialist"
    assert choice_module.choose({"fused": 0.4, "specialist": None, "pixels_lr": 0.45, "fisherfaces": 0.6}) == \
        "fisherfaces"
    assert choice_module.choose({"fused": None, "specialist": None}) == "fused"


def test_the_report_names_each_sensors_answer_and_its_candidates():
    text = choice_module.single_sensor_markdown({
        "audio": {"chosen": "mfcc_lr", "validation": {"fused": 0.5, "specialist": 0.75, "mfcc_lr": 1.0},
                  "samples": 8},
        "thermal": {"chosen": "fused", "validation": {"fused": 0.625, "specialist": None, "pixels_lr": 0.5,
                                                      "fisherfaces": 0.25}, "samples": 8}})
    lines = text.splitlines()
    assert lines[0] == f"## {choice_module.TITLE}"
    header = [cell.strip() for cell in lines[2].strip("|").split("|")]
    assert header == ["sensor", "answer served", "fused (%)", "specialist (%)", "mfcc_lr (%)", "pixels_lr (%)",
                      "fisherfaces (%)", "validation samples"]
    audio = [cell.strip() for cell in lines[4].strip("|").split("|")]
    thermal = [cell.strip() for cell in lines[5].strip("|").split("|")]
    assert audio == ["audio", "mfcc_lr", "50.00", "75.00", "100.00", "", "", "8"]
    assert thermal == ["thermal", "fused", "62.50", "", "", "50.00", "25.00", "8"]
