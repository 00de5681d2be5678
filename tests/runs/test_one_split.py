"""One split per run: each specialist trains on the run's training samples reduced to its sensor and is tested on
the run's test samples that hold its sensor alone, under every protocol. The recording ids are those the
specialists' training batches really held (a recipe that reads its batches stands in for training)."""

import csv
import os

import numpy as np
import pytest

from avtfuse.runs import build_experiment, plan
from avtfuse.runs.folder import read_split
from avtfuse.runs.state import RunState
from avtfuse.runs.stages import prepare_data, train_fused, train_specialist
from avtfuse.training import recipes
from avtfuse.training.runtime import setup_runtime
from pipelines.synthetic.speakingfaces import THERMAL_PALETTE, write_speakingfaces

MODALITIES = ("audio", "visible", "thermal")
TINY_FEATURES = {"audio_samples": 4096, "n_mels": 16, "n_fft": 512, "hop_length": 256, "image_size": (16, 16),
                 "thermal_palette": THERMAL_PALETTE}


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """A SpeakingFaces tree (train, valid and test folders; one thermal frame missing) and two manifests of its
    training recordings with empty cells: one split by subject (person = subject), one emotion-like (person =
    the command, subject = who was recorded)."""
    root = tmp_path_factory.mktemp("one-split")
    tree = root / "sf"
    common = dict(subjects=range(1, 7), positions=(1,), commands=(1, 2), image_size=16, audio_seconds=0.5,
                  frames_per_recording=1)
    written = write_speakingfaces(tree, trials=(1, 2, 3), **common)
    write_speakingfaces(tree, trials=(4,), split="valid", **common)
    test = write_speakingfaces(tree, trials=(5,), split="test", **common)
    os.remove(test[0].thermal[0])  # a missing file: that recording is skipped (--on-error skip)
    rows = []
    for index, recording in enumerate(written):
        cells = {"audio": recording.audio, "visible": recording.visible[0], "thermal": recording.thermal[0]}
        if index % 4 == 1:
            cells["thermal"] = ""
        if index % 5 == 2:
            cells["visible"] = ""
        rows.append({"recording": f"{recording.subject}_{recording.trial}_{recording.command}", **cells,
                     "split": ("train", "valid", "test")[recording.trial - 1], "subject": str(recording.subject),
                     "group": f"{recording.subject}_{recording.trial}", "speaker": str(recording.subject),
                     "command": f"command{recording.command}"})
    manifests = {}
    for name, person in (("people", "speaker"), ("emotions", "command")):
        manifests[name] = root / f"{name}.csv"
        with open(manifests[name], "w", newline="") as handle:
            writer = csv.DictWriter(handle, ["person", "recording", *MODALITIES, "split", "group", "subject"])
            writer.writeheader()
            writer.writerows({"person": row[person], **{k: row[k] for k in writer.fieldnames if k != "person"}}
                             for row in rows)
    return {"tree": str(tree), **{name: str(path) for name, path in manifests.items()}, "cache": str(root / "cache"),
            "runs": root / "runs"}


class BatchSpy:
    """A recipe that trains nothing and records the recording ids of the training and validation batches it was
    given, per run modalities."""

    def __init__(self):
        self.held = {}

    def __call__(self, context):
        epochs = [context.training_batches(0)[0]]
        validation = context.validation_batches()
        self.held[tuple(context.data.modalities)] = {
            "train": set().union(*(_recordings(batches) for batches in epochs)),
            "valid": _recordings(validation) if validation is not None else set()}


def _recordings(batches):
    return {r.decode() for inputs, _ in batches for r in inputs["recording"].numpy()}


def _fused_samples(data, split):
    """{(recording id, presence tuple)} of the run's samples of `split`, as its model reads them."""
    return {(inputs["recording"].decode(), tuple(inputs["present"].astype(int)))
            for inputs, _ in data.samples(split).as_numpy_iterator()}


CASES = {"paper": ("people", {}), "strict": ("people", {}), "manifest": ("people", {}),
         "official": ("tree", {"on_error": "skip"}), "folds": ("emotions", {"label": "emotion"})}


@pytest.mark.parametrize("protocol", list(CASES))
def test_specialists_read_the_runs_one_split(sources, protocol, monkeypatch):
    source, data = CASES[protocol]
    config = build_experiment(
        "avtnet", data={"source": sources[source], "protocol": protocol, "cache_dir": sources["cache"], **data},
        features=TINY_FEATURES, train={"batch_size": 4}, runtime={"gpus": 0}, specialists=True,
        output_dir=str(sources["runs"]), run_name=protocol)
    assert [stage.name for stage in plan(config)][:5] == ["data", "specialist-audio", "specialist-visible",
                                                          "specialist-thermal", "fused"]
    spy = BatchSpy()
    monkeypatch.setitem(recipes.RECIPES, "embed_then_recognize", spy)
    state = RunState(config, setup_runtime(config.runtime), verbose=0)
    state.open()
    for modality in MODALITIES:
        train_specialist(state, modality)
    train_fused(state)
    fused = {split: _fused_samples(state.data, split) for split in ("train", "valid", "test")}
    fused_ids = {split: {recording for recording, _ in samples} for split, samples in fused.items()}
    assert spy.held[MODALITIES]["train"] <= fused_ids["train"]
    for column, modality in enumerate(MODALITIES):
        held = spy.held[(modality,)]
        keeping = {recording for recording, present in fused["train"] if present[column]}
        alone = {recording for recording, present in fused["test"] if sum(present) == 1 and present[column]}
        specialist = state.specialist(modality)[1]
        tested = _recordings(specialist.batches("test", 8))
        assert held["train"] and held["train"] <= keeping, modality  # the run's training samples holding it
        assert tested == alone, modality  # the run's test samples holding it alone
        if protocol == "paper":  # leaks exactly as the run's model does: its copies of a recording
            assert held["train"] & tested <= keeping & alone
        else:
            assert not held["train"] & (fused_ids["valid"] | fused_ids["test"]), modality
            assert not held["valid"] & fused_ids["test"], modality
        # The specialist's run folder holds its own split.csv: these samples, nothing else.
        rows = read_split(specialist_dir(config, modality))
        assert {row["recording"] for row in rows if row["role"] == "train"} >= held["train"]
        assert {row["recording"] for row in rows if row["role"] == "test"} == tested
        assert {row["kept"] for row in rows} == {modality}


def specialist_dir(config, modality):
    return os.path.join(config.output_dir, f"{config.run_name}-specialist-{modality}")


def test_split_csv_has_one_row_per_sample(sources, monkeypatch):
    config = build_experiment(
        "avtnet", data={"source": sources["people"], "protocol": "strict", "cache_dir": sources["cache"]},
        features=TINY_FEATURES, runtime={"gpus": 0}, output_dir=str(sources["runs"]), run_name="split-csv")
    state = RunState(config, setup_runtime(config.runtime), verbose=0)
    state.open()
    rows = read_split(config.run_dir)
    data = state.data
    assert len(rows) == int((data.assignment >= 0).sum())
    for split in ("train", "valid", "test"):
        assert sum(row["role"] == split for row in rows) == data.count(split)
    by_recording = {}
    for row in rows:
        by_recording.setdefault(row["recording"], set()).add(row["role"])
        kept, recorded = set(row["kept"].split("+")), set(row["recorded"].split("+"))
        assert kept <= recorded and kept
    assert all(len(roles) == 1 for roles in by_recording.values())  # strict: a recording on one side
    thermal = MODALITIES.index("thermal")
    lacking = {data.recordings[i] for i in np.nonzero(data.recorded[:, thermal] == 0)[0]}
    assert lacking and all("thermal" not in row["recorded"] for row in rows if row["recording"] in lacking)


@pytest.mark.parametrize("protocol", ["strict", "paper"])
def test_the_data_stage_counts_shared_files(sources, protocol, tmp_path):
    """Subject 1's recordings share one photo, subject 2's trials 1 and 2 another: under strict subject 1 trains and
    is left out of the test split, and no test sample shares a file with training; under paper the count is that
    of the split.csv rows (the results.json entries come from these outputs)."""
    with open(sources["people"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    folder = os.path.dirname(sources["people"])
    photos = {"1": next(row["visible"] for row in rows if row["person"] == "1" and row["visible"])}
    for row in rows:
        if row["visible"] and row["person"] in ("1", "2"):
            key = row["person"] if row["person"] == "1" else f"2-{row['group'] in ('2_1', '2_2')}"
            row["visible"] = photos.setdefault(key, row["visible"])
        row.update({m: os.path.join(folder, row[m]) if row[m] else "" for m in MODALITIES})
    manifest = tmp_path / "shared.csv"
    with open(manifest, "w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    config = build_experiment(
        "avtnet", data={"source": str(manifest), "protocol": protocol, "cache_dir": sources["cache"]},
        features=TINY_FEATURES, runtime={"gpus": 0}, output_dir=str(tmp_path / "runs"), run_name=protocol)
    state = RunState(config, setup_runtime(config.runtime), verbose=0)
    outputs = prepare_data(state)
    visible = {row["recording"]: row["visible"] for row in rows}
    split = read_split(config.run_dir)
    trained = {}
    for row in split:
        if row["role"] == "train" and "visible" in row["kept"].split("+"):
            trained.setdefault(visible[row["recording"]], set()).add(row["recording"])
    sharing = sum(row["role"] == "test" and "visible" in row["kept"].split("+")
                  and bool(trained.get(visible[row["recording"]], set()) - {row["recording"]}) for row in split)
    assert outputs["test_sharing_a_file_with_training"] == sharing
    if protocol == "strict":
        assert outputs["people_left_out_of_test"] == 1 and sharing == 0
        assert {row["role"] for row in split if row["person"] == "1"} == {"train"}
    else:
        assert sharing > 0


# (data settings, batch size) on the manifest of 6 people with empty cells: 4 held out, 2 people train
HELD_OUT_CASES = {protocol: ({"source": "people", "held_out_people": 4, "enrol_per_person": 2, "protocol": protocol}, 2)
                  for protocol in ("paper", "strict", "manifest")}


@pytest.mark.parametrize("case", list(HELD_OUT_CASES))
def test_held_out_people_are_in_no_training_batch(sources, case, monkeypatch):
    """--held-out-people on a manifest with empty cells, split by the paper and strict protocols and by its own
    split column: the training and validation batches of the run's model and of its specialists hold no recording of a held-out
    person, who is no class; split.csv gives each held-out sample its role, enrol or probe."""
    data, batch_size = HELD_OUT_CASES[case]
    data = {**data, "source": sources[data["source"]]} if "source" in data else data
    config = build_experiment("avtnet", data={"cache_dir": sources["cache"], **data}, features=TINY_FEATURES,
                              train={"batch_size": batch_size}, runtime={"gpus": 0}, specialists=True,
                              output_dir=str(sources["runs"]), run_name=f"held-out-{case}")
    spy = BatchSpy()
    monkeypatch.setitem(recipes.RECIPES, "embed_then_recognize", spy)
    state = RunState(config, setup_runtime(config.runtime), verbose=0)
    outputs = prepare_data(state)
    for modality in MODALITIES:
        train_specialist(state, modality)
    train_fused(state)
    data = state.data
    held = {r for r, code in zip(data.recordings, data.held_out) if code}
    people = {p for p, code in zip(data.persons, data.held_out) if code}
    assert len(people) == 4 and data.class_names == sorted(set(data.persons) - people, key=int)
    assert set(spy.held) == {MODALITIES, *((m,) for m in MODALITIES)}
    for batches in spy.held.values():
        assert batches["train"] and batches["valid"] and not (batches["train"] | batches["valid"]) & held
    assert outputs["held_out"] == {"validation_people": 2, "test_people": 2,
                                   "enrolment_recordings": int(data.enrolment.sum()),
                                   "probe_recordings": len(held) - int(data.enrolment.sum())}
    rows = read_split(config.run_dir)
    roles = {}
    for row in rows:
        roles.setdefault(row["people"], set()).add(row["role"])
        assert (row["person"] in people) == (row["people"] != "trained")
    assert roles == {"trained": {"train", "valid", "test"}, "validation": {"enrol", "probe"},
                     "test": {"enrol", "probe"}}
    assert {row["recording"] for row in rows if row["people"] != "trained"} == held
