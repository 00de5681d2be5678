"""A sample's condition is what it holds (the sensors its recording has AND its ablation keeps): the split's counts,
its log line and the report's sources agree with the presence bits of the samples themselves; a specialist's view
reads the recordings holding its sensor, and its classes are the people recorded by it."""

import numpy as np
import pytest

from avtfuse.contract import MODALITIES, condition_name
from pipelines.dataset import DataConfig, prepare
from pipelines.manifest import write_manifest
from pipelines.recording import Recording
from tests.pipelines.test_dataset import collect, feature_recordings


def incomplete_recordings(folder):
    """feature_recordings (18, 3 people, a split column) with empty cells: a quarter of them without thermal, two
    without audio, two without visible; person p2 has no thermal at all."""
    recordings = feature_recordings(folder)
    lacking = {i: "thermal" for i in (0, 3, 12, 13, 14, 15, 16, 17)}  # 12..17: every recording of p2
    lacking.update({1: "audio", 7: "audio", 4: "visible", 9: "visible"})
    return [Recording(r.recording, r.person, **{m: r.path(m) for m in MODALITIES if lacking.get(i) != m},
                      group=r.group, split=r.split) for i, r in enumerate(recordings)]


@pytest.fixture(scope="module")
def incomplete_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("incomplete")
    recordings = incomplete_recordings(str(root / "features"))
    return write_manifest(recordings, str(root / "manifest.csv")), recordings, str(root / "cache")


def numpy_counts(rows):
    """{condition name: count} of the rows' presence bits."""
    present = np.array([r["present"] for r in rows]) > 0
    patterns, counts = np.unique(present, axis=0, return_counts=True)
    return {condition_name(p, MODALITIES): int(c) for p, c in zip(patterns, counts)}


def recorded_bits(recordings):
    return {r.recording.encode(): np.array([r.path(m) is not None for m in MODALITIES]) for r in recordings}


@pytest.mark.parametrize("protocol", ["paper", "strict", "manifest"])
@pytest.mark.parametrize("ablation", ["paper", "subsets"])
def test_every_count_per_condition_is_what_the_samples_hold(incomplete_set, protocol, ablation):
    csv, recordings, cache_dir = incomplete_set
    data = prepare(DataConfig(source=csv, cache_dir=cache_dir, protocol=protocol, ablation=ablation))
    recorded = recorded_bits(recordings)
    summary = data.summary()
    for split in ("train", "valid", "test"):
        rows = collect(data, split)
        expected = numpy_counts(rows) if rows else {}
        assert data.condition_counts(split) == expected
        arrived = {}
        for row in rows:
            name = condition_name(row["present"] > 0, MODALITIES)
            came = bool(((row["present"] > 0) == recorded[row["recording"]]).all())
            arrived.setdefault(name, {"arrived": 0, "ablated": 0})["arrived" if came else "ablated"] += 1
        assert data.condition_sources(split) == arrived
        # No complete sample lacks a sensor: its recording has every file.
        assert all(recorded[r["recording"]].all() for r in rows if r["present"].all())
        if split != "valid":
            assert f"{split} {len(rows)} samples {data.condition_counts(split)}" in summary  # the run's log line
    # The empty cells arrive: some test sample is missing thermal without the run having removed it.
    assert data.condition_sources("test")["missing_thermal"]["arrived"] > 0


def test_a_specialist_reads_the_recordings_holding_its_sensor_and_knows_only_the_people_recorded_by_it(
        incomplete_set):
    csv, recordings, cache_dir = incomplete_set
    data = prepare(DataConfig(source=csv, cache_dir=cache_dir, protocol="strict"))
    recorded = recorded_bits(recordings)
    person = {r.recording.encode(): r.person for r in recordings}
    thermal = data.for_modality("thermal")
    assert data.class_names == ["p0", "p1", "p2"] and thermal.class_names == ["p0", "p1"]  # p2: no thermal
    assert data.for_modality("audio").class_names == data.class_names
    for split in ("train", "test"):
        rows = collect(thermal, split)
        assert rows and all(recorded[r["recording"]][2] for r in rows)  # only recordings that hold thermal
        assert all(thermal.class_names[r["label"]] == person[r["recording"]] for r in rows)
        inputs, labels = data.modality_arrays("thermal", split)  # the reference reads the same recordings
        assert len(labels) == len(rows) and sorted(labels) == sorted(
            data.class_names.index(person[r["recording"]]) for r in rows)


def test_folds_on_an_emotion_labelled_set_count_what_the_samples_hold(tmp_path, monkeypatch):
    """The synthetic RAVDESS set (emotion classes, actor folds) written with recordings lacking visible or
    thermal (--natural-missing): every count per condition is the NumPy count of the samples' presence bits."""
    from pipelines.synthetic import ravdess as synthetic_ravdess
    from tests.pipelines.conftest import TINY

    original = synthetic_ravdess.write_ravdess
    monkeypatch.setattr(synthetic_ravdess, "write_ravdess", lambda root, **kwargs: original(
        root, **kwargs, emotions=("neutral", "happy"), intensities=(1,), statements=(1, 2), repetitions=(1,),
        video_frames=2, fps=2, image_size=16, sample_rate=16000))
    data = prepare(DataConfig(synthetic="ravdess", synthetic_subjects=6, label="emotion", protocol="folds", fold=1,
                              natural_missing=(0.0, 0.4, 0.4), features=TINY.replace(thermal_palette="auto"),
                              cache_dir=str(tmp_path / "cache")))
    recorded = {r.encode(): bits > 0 for r, bits in zip(data.recordings, data.recorded)}
    assert 0 < sum(not bits.all() for bits in recorded.values()) < len(recorded)  # some arrived incomplete
    for split in ("train", "valid", "test"):
        rows = collect(data, split)
        assert rows and data.condition_counts(split) == numpy_counts(rows)
        assert all(recorded[r["recording"]].all() for r in rows if r["present"].all())
        assert all(not (r["present"] > 0)[~recorded[r["recording"]]].any() for r in rows)  # nothing beyond the file
