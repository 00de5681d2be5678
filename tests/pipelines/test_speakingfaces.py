"""Tests for pipelines/speakingfaces.py on hand-made SpeakingFaces trees."""

import itertools
import logging
import os
import shutil
import statistics

import pytest

from pipelines.errors import DataError, ErrorPolicy, InputErrors
from pipelines.speakingfaces import read_speakingfaces
from pipelines.synthetic.speakingfaces import write_speakingfaces

AUDIO_TRIM, AUDIO_RAW = "mic1_audio_cmd_trim", "mic1_audio_cmd"
VISIBLE_DIR, THERMAL_DIR = "rgb_image_cmd_aligned", "thr_image_cmd"


def touch(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "wb").close()


def trial_dir(root, subject, trial, split="train_data"):
    return os.path.join(root, split, f"sub_{subject}", f"trial_{trial}")


def audio_path(root, s, t, pos, cmd, folder=AUDIO_TRIM, split="train_data"):
    return os.path.join(trial_dir(root, s, t, split), folder, f"{s}_{t}_2_{pos}_{cmd}_1.wav")


def frame_path(root, s, t, pos, cmd, frame, modality, split="train_data"):
    folder, stream = (VISIBLE_DIR, 3) if modality == "visible" else (THERMAL_DIR, 1)
    name = f"{s}_{t}_2_{pos}_{cmd}_{frame}_{stream}.png"
    return os.path.join(trial_dir(root, s, t, split), folder, name)


def make_tree(
    root,
    subjects=(1, 2),
    trials=(1, 2),
    positions=(1, 2),
    commands=(1, 3),
    frames=(1, 2, 3),
    split="train_data",
    audio_folder=AUDIO_TRIM,
):
    """Writes empty files named like SpeakingFaces session-2 command data, plus distractors."""
    for s, t, pos, cmd in itertools.product(subjects, trials, positions, commands):
        touch(audio_path(root, s, t, pos, cmd, audio_folder, split))
        for frame in frames:
            for modality in ("visible", "thermal"):
                touch(frame_path(root, s, t, pos, cmd, frame, modality, split))
        base = trial_dir(root, s, t, split)
        # Distractors the reader must ignore: session 1, another stream, unrelated names.
        touch(os.path.join(base, audio_folder, f"{s}_{t}_1_{pos}_{cmd}_1.wav"))
        touch(os.path.join(base, VISIBLE_DIR, f"{s}_{t}_1_{pos}_{cmd}_1_3.png"))
        touch(os.path.join(base, THERMAL_DIR, f"{s}_{t}_2_{pos}_{cmd}_1_2.png"))
        touch(os.path.join(base, THERMAL_DIR, "notes.txt"))
    touch(os.path.join(root, split, "README.md"))
    os.makedirs(os.path.join(root, split, "sub_x", "trial_1"), exist_ok=True)
    return root


def test_reads_every_recording_with_its_files(tmp_path):
    subjects, trials, positions, commands = (2, 10), (1, 2), (1, 2), (3, 12)
    root = make_tree(str(tmp_path), subjects, trials, positions, commands, frames=(1, 2, 3))
    recordings = read_speakingfaces(root)

    keys = list(itertools.product(subjects, trials, positions, commands))
    assert [r.recording for r in recordings] == [f"{s}_{t}_{p}_{c}" for s, t, p, c in keys]
    assert [r.person for r in recordings] == [str(s) for s, _, _, _ in keys]
    for r, (s, t, p, c) in zip(recordings, keys):
        assert r.audio == audio_path(root, s, t, p, c)
        assert r.visible == frame_path(root, s, t, p, c, 2, "visible")
        assert r.thermal == frame_path(root, s, t, p, c, 2, "thermal")
        assert all(os.path.isfile(r.path(m)) for m in ("audio", "visible", "thermal"))
        # One trial and position of a subject: near-duplicates that a strict split keeps together.
        assert r.group == r.group_key == f"{s}_{t}_{p}" and r.split == "train"


def test_scans_every_split_folder(tmp_path):
    root = str(tmp_path)
    make_tree(root, subjects=(1,), trials=(1,), split="train_data")
    make_tree(root, subjects=(2,), trials=(1,), split="valid_data")
    make_tree(root, subjects=(3,), trials=(1,), split="test_data")
    recordings = read_speakingfaces(root)
    assert sorted({r.person for r in recordings}) == ["1", "2", "3"]
    assert len(recordings) == 3 * 2 * 2
    # Each recording's split is the folder it lies in.
    assert {(r.person, r.split) for r in recordings} == {("1", "train"), ("2", "valid"), ("3", "test")}


@pytest.mark.parametrize("frame", ["middle", "first", "last", 10])
def test_frame_selection_sorts_frame_numbers_numerically(tmp_path, frame):
    frames = [11, 2, 10, 9]  # string order would be 10, 11, 2, 9
    root = make_tree(str(tmp_path), subjects=(1,), trials=(1,), frames=frames)
    expected = {
        "middle": statistics.median_low(frames),
        "first": min(frames),
        "last": max(frames),
        10: 10,
    }[frame]
    recordings = read_speakingfaces(root, frame=frame)
    assert len(recordings) == 4
    for r in recordings:
        _, _, pos, cmd = (int(x) for x in r.recording.split("_"))
        assert r.visible == frame_path(root, 1, 1, pos, cmd, expected, "visible")
        assert r.thermal == frame_path(root, 1, 1, pos, cmd, expected, "thermal")


def test_modality_subset_leaves_other_modalities_out(tmp_path):
    root = make_tree(str(tmp_path), subjects=(1,), trials=(1,))
    # Thermal is not in the run, so its absence is no error.
    for name in os.listdir(os.path.join(trial_dir(root, 1, 1), THERMAL_DIR)):
        os.remove(os.path.join(trial_dir(root, 1, 1), THERMAL_DIR, name))
    os.rmdir(os.path.join(trial_dir(root, 1, 1), THERMAL_DIR))
    recordings = read_speakingfaces(root, modalities=("visible", "audio"))
    assert len(recordings) == 4
    assert all(r.thermal is None and r.audio and r.visible for r in recordings)


def test_recordings_come_from_the_union_of_the_run_modalities(tmp_path):
    root = make_tree(str(tmp_path), subjects=(1,), trials=(1,))
    # A recording that only has thermal frames exists for a thermal-only run ...
    touch(frame_path(root, 1, 1, 5, 7, 4, "thermal"))
    only_thermal = read_speakingfaces(root, modalities=("thermal",))
    assert "1_1_5_7" in [r.recording for r in only_thermal]
    # ... and is a missing wav / frame for a full run.
    with pytest.raises(InputErrors, match="missing audio wav"):
        read_speakingfaces(root)


def test_trim_folder_falls_back_to_untrimmed_audio(tmp_path):
    root = make_tree(str(tmp_path), subjects=(1,), trials=(1,), audio_folder=AUDIO_RAW)
    recordings = read_speakingfaces(root)
    assert all(os.path.dirname(r.audio).endswith(AUDIO_RAW) for r in recordings)
    # With both folders present the trimmed one wins.
    make_tree(root, subjects=(1,), trials=(1,), audio_folder=AUDIO_TRIM)
    recordings = read_speakingfaces(root)
    assert all(os.path.dirname(r.audio).endswith(AUDIO_TRIM) for r in recordings)


def test_missing_stream_folder_raises_or_skips_the_trial(tmp_path):
    root = make_tree(str(tmp_path), subjects=(1, 2), trials=(1,))
    folder = os.path.join(trial_dir(root, 2, 1), THERMAL_DIR)
    for name in os.listdir(folder):
        os.remove(os.path.join(folder, name))
    os.rmdir(folder)
    with pytest.raises(InputErrors) as info:
        read_speakingfaces(root)
    assert [e.path for e in info.value.errors] == [folder]
    policy = ErrorPolicy("skip")
    recordings = read_speakingfaces(root, policy=policy)
    assert len(policy.skipped) == 1 and policy.skipped[0].path == folder
    assert {r.person for r in recordings} == {"1"} and len(recordings) == 4


def test_missing_audio_folders_name_the_trim_folder(tmp_path):
    root = make_tree(str(tmp_path), subjects=(1,), trials=(1,))
    folder = os.path.join(trial_dir(root, 1, 1), AUDIO_TRIM)
    for name in os.listdir(folder):
        os.remove(os.path.join(folder, name))
    os.rmdir(folder)
    with pytest.raises(InputErrors, match=AUDIO_RAW) as info:
        read_speakingfaces(root)
    assert [e.path for e in info.value.errors] == [folder]
    assert len(read_speakingfaces(root, modalities=("visible", "thermal"))) == 4


@pytest.mark.parametrize("modality", ["visible", "thermal"])
def test_missing_frame_raises_or_skips_the_recording(tmp_path, modality):
    root = make_tree(str(tmp_path), subjects=(1, 2), trials=(1,), frames=(1, 2))
    for frame in (1, 2):
        os.remove(frame_path(root, 2, 1, 2, 3, frame, modality))
    folder = os.path.dirname(frame_path(root, 2, 1, 2, 3, 1, modality))
    with pytest.raises(InputErrors, match=f"missing {modality} frame") as info:
        read_speakingfaces(root)
    [error] = info.value.errors
    assert error.path.startswith(os.path.join(folder, "2_1_2_2_3_"))
    policy = ErrorPolicy("skip")
    recordings = read_speakingfaces(root, policy=policy)
    assert len(policy.skipped) == 1
    assert len(recordings) == 2 * 2 * 2 - 1
    assert "2_1_2_3" not in [r.recording for r in recordings]


def test_absent_int_frame_names_the_expected_file(tmp_path):
    root = make_tree(str(tmp_path), subjects=(1,), trials=(1,), frames=(1, 2))
    os.remove(frame_path(root, 1, 1, 1, 1, 2, "visible"))
    with pytest.raises(InputErrors) as info:
        read_speakingfaces(root, frame=2)
    assert [e.path for e in info.value.errors] == [frame_path(root, 1, 1, 1, 1, 2, "visible")]
    # "middle" still finds frame 1 for that recording.
    assert len(read_speakingfaces(root, frame="middle")) == 4


def test_missing_wav_raises_or_skips_the_recording(tmp_path):
    root = make_tree(str(tmp_path), subjects=(1,), trials=(1, 2))
    os.remove(audio_path(root, 1, 2, 1, 3))
    with pytest.raises(InputErrors, match="missing audio wav") as info:
        read_speakingfaces(root)
    [error] = info.value.errors
    assert error.path.startswith(os.path.join(trial_dir(root, 1, 2), AUDIO_TRIM, "1_2_2_1_3_"))
    recordings = read_speakingfaces(root, on_error="skip")
    assert len(recordings) == 2 * 2 * 2 - 1
    assert "1_2_1_3" not in [r.recording for r in recordings]


def test_subject_selection_and_absent_subjects(tmp_path):
    root = make_tree(str(tmp_path), subjects=(1, 2, 3), trials=(1,))
    chosen = read_speakingfaces(root, subjects=[3, 1])
    assert {r.person for r in chosen} == {"1", "3"} and len(chosen) == 8
    with pytest.raises(InputErrors, match=r"\[7, 9\]") as info:
        read_speakingfaces(root, subjects=[1, 9, 7])
    assert [e.path for e in info.value.errors] == [root]
    policy = ErrorPolicy("skip")
    kept = read_speakingfaces(root, subjects=[1, 9], policy=policy)
    assert len(policy.skipped) == 1 and {r.person for r in kept} == {"1"}


def test_duplicate_trial_across_splits_is_an_error(tmp_path):
    root = str(tmp_path)
    make_tree(root, subjects=(1,), trials=(1,), split="train_data")
    make_tree(root, subjects=(1,), trials=(1,), split="test_data")
    with pytest.raises(InputErrors, match="duplicate") as info:
        read_speakingfaces(root)
    [error] = info.value.errors  # train_data is read first: the copy in test_data is the duplicate
    assert error.path == trial_dir(root, 1, 1, "test_data") and trial_dir(root, 1, 1) in error.reason
    # Skipping keeps the first copy of the trial (and its split).
    recordings = read_speakingfaces(root, on_error="skip")
    assert len(recordings) == 4 and {r.split for r in recordings} == {"train"}


def test_empty_or_absent_root_names_the_root(tmp_path):
    missing = str(tmp_path / "nowhere")
    with pytest.raises(DataError) as info:
        read_speakingfaces(missing)
    assert info.value.path == missing
    with pytest.raises(DataError, match="split folders") as info:
        read_speakingfaces(tmp_path)
    assert info.value.path == str(tmp_path)
    os.makedirs(tmp_path / "valid_data" / "sub_1" / "trial_1" / THERMAL_DIR)
    with pytest.raises(DataError, match="no SpeakingFaces recording") as info:
        read_speakingfaces(tmp_path, modalities=("thermal",))
    assert info.value.path == str(tmp_path)


@pytest.mark.parametrize(
    "kwargs", [{"frame": "centre"}, {"frame": True}, {"subjects": ["a"]}, {"subjects": []}]
)
def test_bad_arguments_raise_value_error(tmp_path, kwargs):
    root = make_tree(str(tmp_path), subjects=(1,), trials=(1,))
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        read_speakingfaces(root, **kwargs)


def test_logs_counts_and_reports_skips(tmp_path, caplog):
    root = make_tree(str(tmp_path), subjects=(1, 2), trials=(1,))
    os.remove(audio_path(root, 1, 1, 1, 1))
    with caplog.at_level(logging.INFO):
        read_speakingfaces(root, on_error="skip")
    text = caplog.text
    assert "7 recordings of 2 people" in text
    assert "skipped 1 SpeakingFaces recordings" in text


# ---------------------------------------------------------------- trees from pipelines.synthetic

SYNTHETIC = {"trials": (1, 2), "positions": (1, 3), "commands": (2, 4)}
SYNTHETIC_FRAMES = 4


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """A tiny synthetic tree: subjects 1, 2 in train_data and 3 in test_data."""
    root = str(tmp_path_factory.mktemp("speakingfaces"))
    small = {"frames_per_recording": SYNTHETIC_FRAMES, "image_size": 16, "audio_seconds": 0.5}
    written = write_speakingfaces(root, subjects=(1, 2), split="train", **SYNTHETIC, **small)
    written += write_speakingfaces(root, subjects=(3,), split="test", **SYNTHETIC, **small)
    return root, written


@pytest.mark.parametrize("frame", ["middle", "first", "last", 3])
def test_reads_a_synthetic_tree(synthetic, frame):
    root, written = synthetic
    recordings = read_speakingfaces(root, frame=frame)
    assert len(recordings) == 3 * 2 * 2 * 2 == len(written)
    numbers = range(1, SYNTHETIC_FRAMES + 1)
    chosen = {"middle": statistics.median_low(numbers), "first": 1, "last": SYNTHETIC_FRAMES, 3: 3}
    index = chosen[frame] - 1  # written frames are listed in frame order 1..n
    for r, w in zip(recordings, written):
        assert r.recording == f"{w.subject}_{w.trial}_{w.position}_{w.command}"
        assert r.person == str(w.subject)
        assert (r.audio, r.visible, r.thermal) == (w.audio, w.visible[index], w.thermal[index])
        assert all(os.path.isfile(r.path(m)) for m in ("audio", "visible", "thermal"))


def test_synthetic_tree_subjects_and_modalities(synthetic):
    root, _ = synthetic
    recordings = read_speakingfaces(root, modalities=("audio", "thermal"), subjects=[3])
    assert len(recordings) == 8 and {r.person for r in recordings} == {"3"}
    assert all(r.visible is None and r.audio and r.thermal for r in recordings)
    with pytest.raises(InputErrors, match=r"\[4\]"):
        read_speakingfaces(root, subjects=[3, 4])


def test_synthetic_tree_with_bad_recordings(synthetic, tmp_path):
    root = shutil.copytree(synthetic[0], str(tmp_path / "copy"))
    missing_folder = os.path.join(trial_dir(root, 3, 2, "test_data"), VISIBLE_DIR)
    shutil.rmtree(missing_folder)
    missing_wav = audio_path(root, 1, 1, 3, 4)
    os.remove(missing_wav)
    for frame in range(1, SYNTHETIC_FRAMES + 1):
        os.remove(frame_path(root, 2, 2, 1, 2, frame, "thermal"))
    with pytest.raises(InputErrors) as info:
        read_speakingfaces(root)
    # Every problem at once: the missing wav, the missing thermal frames and the missing visible folder.
    raised = [e.path for e in info.value.errors]
    assert len(raised) == 3 and missing_folder in raised
    assert any(p.startswith(os.path.dirname(missing_wav)) for p in raised)

    policy = ErrorPolicy("skip")
    recordings = read_speakingfaces(root, policy=policy)
    paths = [e.path for e in policy.skipped]
    assert len(paths) == 3 and missing_folder in paths
    wav_prefix = os.path.join(os.path.dirname(missing_wav), "1_1_2_3_4_")
    assert any(p.startswith(wav_prefix) for p in paths)
    # One trial (4 recordings) and two single recordings are gone.
    assert len(recordings) == 3 * 2 * 2 * 2 - 4 - 2
    ids = {r.recording for r in recordings}
    assert not ids & {"1_1_3_4", "2_2_1_2", "3_2_1_2", "3_2_3_4"}


# ---------------------------------------------------------------- the official protocol follows the folders


def test_official_protocol_follows_the_split_folders(tmp_path):
    import numpy as np

    from pipelines.dataset import DataConfig, prepare
    from pipelines.split_data import SPLIT_IDS
    from pipelines.features import FeatureConfig
    from pipelines.synthetic.speakingfaces import THERMAL_PALETTE

    root = str(tmp_path / "sf")
    small = {"subjects": (1, 2), "positions": (1,), "commands": (1, 2), "frames_per_recording": 1,
             "image_size": 16, "audio_seconds": 0.5}
    for trial, split in ((1, "train"), (2, "valid"), (3, "test")):
        write_speakingfaces(root, trials=(trial,), split=split, **small)
    features = FeatureConfig(sample_rate=8000, audio_samples=2048, n_mels=8, n_fft=256, hop_length=128,
                             image_size=(8, 8), thermal_palette=THERMAL_PALETTE)
    data = prepare(DataConfig(source=root, features=features, protocol="official", cache_dir=str(tmp_path / "c")))
    split_of_trial = {"1": "train", "2": "valid", "3": "test"}
    trained = data.assignment[:, :4]  # complete + one copy per missing modality
    for recording, row in zip(data.recordings, trained):
        assert set(row.tolist()) == {SPLIT_IDS[split_of_trial[recording.split("_")[1]]]}, recording
    assert data.count("train") == data.count("valid") == 4 * 4
    assert data.count("test") == 4 * 4 + 4 * 3  # plus the evaluation-only single-modality copies
    assert np.array_equal(np.sort(data.class_names), ["1", "2"])
    # The paper protocol on the same data ignores the folders: some training recordings have test copies.
    paper = prepare(DataConfig(source=root, features=features, protocol="paper", cache_dir=str(tmp_path / "c")))
    assert paper.cache_path == data.cache_path  # the split is no part of the cache
    train_rows = [i for i, r in enumerate(paper.recordings) if r.split("_")[1] == "1"]
    assert (paper.assignment[train_rows, :4] == SPLIT_IDS["test"]).any()
