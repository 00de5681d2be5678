"""--natural-missing: synthetic recordings written without some sensors (files left out, listed in
not_recorded.csv), every recording keeping one; prepare() reads them as not recorded, each sample's condition what
its recording holds."""

import csv
import filecmp
import os

import numpy as np
import pytest

from avtfuse.contract import MODALITIES, condition_name
from pipelines import speakingfaces
from pipelines.dataset import DataConfig, prepare
from pipelines.errors import InputErrors
from pipelines.synthetic import ravdess as synthetic_ravdess, speakingfaces as synthetic_speakingfaces
from pipelines.synthetic.unrecorded import NOT_RECORDED_FILE, unrecorded_cells
from tests.pipelines.conftest import TINY
from tests.pipelines.test_dataset import collect

SHARES = {"audio": 0.25, "visible": 0.25, "thermal": 0.5}
SMALL_SPEAKINGFACES = dict(trials=(1, 2), positions=(1, 2), commands=(1,), image_size=16, audio_seconds=0.5,
                           frames_per_recording=1)  # 4 recordings a person
SMALL_RAVDESS = dict(emotions=("neutral", "happy"), intensities=(1,), statements=(1, 2), repetitions=(1,),
                     video_frames=2, fps=2, image_size=16, sample_rate=16000)  # 4 takes an actor


def listed(root):
    with open(os.path.join(root, NOT_RECORDED_FILE), newline="") as file:
        return {(row["recording"], row["modality"]) for row in csv.DictReader(file)}


@pytest.mark.parametrize("count, shares", [(12, (0.25, 0.0, 0.5)), (10, (0.6, 0.7, 0.65)), (7, (1.0, 0.5, 0.5))])
def test_exact_shares_and_every_recording_keeps_a_sensor(count, shares):
    cells = unrecorded_cells(count, shares, seed=3)
    assert all(abs(lacking - share * count) < 1 for lacking, share in zip(cells.sum(axis=0), shares))  # rounding
    if count == 12:
        assert cells.sum(axis=0).tolist() == [3, 0, 6]
    assert not cells.all(axis=1).any()
    assert (unrecorded_cells(count, shares, seed=3) == cells).all()
    assert (unrecorded_cells(count, shares, seed=4) != cells).any()


def test_shares_that_would_leave_a_recording_empty_are_refused():
    with pytest.raises(ValueError, match="natural_missing: .* keeps one sensor"):
        unrecorded_cells(4, (1.0, 0.75, 0.5), seed=0)
    with pytest.raises(ValueError, match="DataConfig.natural_missing: expected shares adding up to at most 2"):
        DataConfig(natural_missing=(1.0, 0.75, 0.5))
    with pytest.raises(ValueError, match="DataConfig.natural_missing: expected the built-in synthetic set"):
        DataConfig(source="manifest.csv", natural_missing=(0.0, 0.0, 0.5))
    with pytest.raises(ValueError, match="DataConfig.natural_missing: expected three shares"):
        DataConfig(natural_missing=(0.5, 0.5))


def test_the_speakingfaces_tree_leaves_out_the_files_of_the_sensors_a_recording_lacks(tmp_path):
    full = synthetic_speakingfaces.write_speakingfaces(tmp_path / "full", subjects=(1, 2, 3), **SMALL_SPEAKINGFACES)
    written = synthetic_speakingfaces.write_speakingfaces(tmp_path / "nm", subjects=(1, 2, 3), **SMALL_SPEAKINGFACES,
                                                          natural_missing=SHARES)
    held = np.array([[bool(w.audio), bool(w.visible), bool(w.thermal)] for w in written])
    assert (~held).sum(axis=0).tolist() == [3, 3, 6] and held.any(axis=1).all()  # 12 recordings
    files = [f for _, _, names in os.walk(tmp_path / "nm" / "train_data") for f in names]
    assert [sum(name.endswith(end) for name in files) for end in (".wav", "_3.png", "_1.png")] == \
        held.sum(axis=0).tolist()
    assert listed(tmp_path / "nm") == {(f"{w.subject}_{w.trial}_{w.position}_{w.command}", m)
                                       for w, row in zip(written, held) for m, kept in zip(MODALITIES, row)
                                       if not kept}
    for ours, theirs in zip(written, full):  # what is kept is what the complete set holds, byte for byte
        kept = [(ours.audio, theirs.audio)] if ours.audio else []
        kept += list(zip(ours.visible, theirs.visible)) + list(zip(ours.thermal, theirs.thermal))
        assert kept and all(filecmp.cmp(mine, whole, shallow=False) for mine, whole in kept)


def test_a_missing_file_that_the_tree_does_not_list_is_still_a_bad_recording(tmp_path):
    written = synthetic_speakingfaces.write_speakingfaces(tmp_path, subjects=(1,), **SMALL_SPEAKINGFACES,
                                                          natural_missing={"thermal": 0.25})
    assert len(speakingfaces.read_speakingfaces(tmp_path)) == 4
    lacking = next(w for w in written if w.thermal and w.audio)
    os.remove(lacking.audio)
    with pytest.raises(InputErrors, match="missing audio wav"):
        speakingfaces.read_speakingfaces(tmp_path)


def small(module, name, sizes, calls):
    original = getattr(module, name)

    def write(root, **kwargs):
        calls.append(kwargs["natural_missing"])
        return original(root, **kwargs, **sizes)

    return write


@pytest.mark.parametrize("layout", ["speakingfaces", "ravdess"])
def test_prepare_reads_the_conditions_each_recording_holds(layout, tmp_path, monkeypatch):
    module, name, sizes = ((synthetic_speakingfaces, "write_speakingfaces", SMALL_SPEAKINGFACES)
                           if layout == "speakingfaces" else (synthetic_ravdess, "write_ravdess", SMALL_RAVDESS))
    calls = []
    monkeypatch.setattr(module, name, small(module, name, sizes, calls))
    config = DataConfig(synthetic=layout, synthetic_subjects=3, features=TINY.replace(thermal_palette="auto"),
                        cache_dir=str(tmp_path / "cache"), protocol="strict", ablation="subsets", seed=1,
                        natural_missing=tuple(SHARES.values()))
    data = prepare(config)
    assert calls == [SHARES]
    [folder] = [f for f in os.listdir(tmp_path / "cache") if f.startswith("synthetic")]
    assert "-natural-missing-0.25-0.25-0.5-" in folder
    unrecorded = listed(tmp_path / "cache" / folder)
    recordings = data.recordings
    assert len(recordings) == 12 and data.modalities == MODALITIES
    expected = np.array([[(r, m) not in unrecorded for m in MODALITIES] for r in recordings])
    np.testing.assert_array_equal(data.recorded > 0, expected)  # read as not recorded, no file refused
    assert data.skipped == 0 and (~expected).sum(axis=0).tolist() == [3, 3, 6]
    bits = dict(zip(recordings, expected))
    for split in ("train", "valid", "test"):
        rows = collect(data, split)
        for row in rows:  # a sample holds at most what its recording holds
            assert not ((row["present"] > 0) & ~bits[row["recording"].decode()]).any()
        names = [condition_name(row["present"] > 0, MODALITIES) for row in rows]
        assert data.condition_counts(split) == {n: names.count(n) for n in set(names)}
        arrived = sum(((row["present"] > 0) == bits[row["recording"].decode()]).all() for row in rows)
        assert sum(entry["arrived"] for entry in data.condition_sources(split).values()) == arrived


def test_a_tree_written_a_split_at_a_time_lists_the_cells_of_every_split(tmp_path):
    train = synthetic_speakingfaces.write_speakingfaces(tmp_path, subjects=(1, 2), **SMALL_SPEAKINGFACES,
                                                        natural_missing={"thermal": 0.5})
    test = synthetic_speakingfaces.write_speakingfaces(tmp_path, subjects=(3, 4), **SMALL_SPEAKINGFACES,
                                                       natural_missing={"audio": 0.25}, split="test", seed=1)
    assert len(listed(tmp_path)) == 4 + 2
    read = speakingfaces.read_speakingfaces(tmp_path)
    assert sum(r.thermal is None for r in read) == 4 and sum(r.audio is None for r in read) == 2
    assert len(read) == len(train) + len(test) == 16
