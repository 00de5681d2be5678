"""Tests for pipelines/ravdess.py on hand-made RAVDESS trees."""

import itertools
import logging
import os
import shutil

import cv2
import numpy as np
import pytest
import soundfile

from pipelines.synthetic import ravdess as synthetic_ravdess
from pipelines.errors import DataError, ErrorPolicy
from pipelines.ravdess import EMOTIONS, LABELS, read_ravdess

ACTORS = (1, 2, 3)
TAKES = ((1, 1), (3, 1), (3, 2))  # (emotion, intensity): neutral, happy normal, happy strong
PER_ACTOR = len(TAKES) * 2 * 2  # takes x statements x repetitions


def touch(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "wb").close()
    return path


def code(performance):
    """The id "VV-EE-II-SS-RR-AA" of (vocal, emotion, intensity, statement, repetition, actor)."""
    return "-".join(f"{c:02d}" for c in performance)


def file_path(root, modality, performance, under="", video=".mp4"):
    """The path of a file; modality code 04 (thermal) sits in the actor's thermal/ folder."""
    suffix = ".wav" if modality == 3 else video
    folder = os.path.join(root, under, f"Actor_{performance[-1]:02d}", "thermal" if modality == 4 else "")
    return os.path.join(folder, f"{modality:02d}-{code(performance)}{suffix}")


def performances(actors=ACTORS, vocals=(1,)):
    """(vocal, emotion, intensity, statement, repetition, actor) in the reader's order."""
    return [(v, e, i, s, r, a) for a, v, (e, i), s, r in itertools.product(actors, vocals, TAKES, (1, 2), (1, 2))]


def make_tree(root, actors=ACTORS, vocals=(1,), modality_codes=(3, 2, 1), under=None, video=".mp4"):
    """Writes empty files named like RAVDESS; `under` maps a modality code to a sub-folder of root."""
    under = under or {}
    for performance in performances(actors, vocals):
        for modality in modality_codes:
            touch(file_path(root, modality, performance, under.get(modality, ""), video))
    return root


def raised_paths(info):
    """The paths named by a raised DataError, or by every error of a collected InputErrors."""
    return [error.path for error in getattr(info.value, "errors", [info.value])]


def test_reads_every_performance_with_its_files(tmp_path):
    root = make_tree(str(tmp_path))
    recordings = read_ravdess(root)
    expected = performances()
    assert [r.recording for r in recordings] == [code(p) for p in expected]
    for r, p in zip(recordings, expected):
        assert r.audio == file_path(root, 3, p)
        assert r.visible == file_path(root, 2, p)  # video-only preferred over full-AV
        assert r.thermal is None and r.split is None


def test_full_av_video_stands_in_for_a_missing_video_only_file(tmp_path):
    root = make_tree(str(tmp_path), modality_codes=(3, 1))
    chosen = performances()[5]
    touch(file_path(root, 2, chosen))
    recordings = read_ravdess(root)
    assert len(recordings) == len(ACTORS) * PER_ACTOR
    for r, p in zip(recordings, performances()):
        assert r.visible == file_path(root, 2 if p == chosen else 1, p)


def test_person_follows_the_label(tmp_path):
    root = make_tree(str(tmp_path))
    by_actor = {r.recording: r.person for r in read_ravdess(root, label="actor")}
    by_emotion = {r.recording: r.person for r in read_ravdess(root, label="emotion")}
    assert set(by_actor.values()) == {"1", "2", "3"}
    assert set(by_emotion.values()) == {"neutral", "happy"}
    assert by_actor["01-03-02-01-01-02"] == "2" and by_emotion["01-03-02-01-01-02"] == "happy"
    assert EMOTIONS[2] == "happy" and len(EMOTIONS) == 8 and LABELS == ("actor", "emotion")


def test_groups_join_repetitions_under_actor_and_statements_under_emotion(tmp_path):
    root = make_tree(str(tmp_path))
    groups = {}
    for r in read_ravdess(root, label="actor"):
        groups.setdefault(r.group, []).append(r.recording)
    assert len(groups) == len(ACTORS) * PER_ACTOR // 2
    assert groups["02-03-02-01"] == ["01-03-02-01-01-02", "01-03-02-01-02-02"]

    groups = {}
    for r in read_ravdess(root, label="emotion"):
        groups.setdefault(r.group, []).append(r.recording)
    assert sorted(groups) == [f"{a:02d}-{s:02d}" for a in ACTORS for s in (1, 2)]
    for group, ids in groups.items():
        actor, statement = group.split("-")
        assert len(ids) == PER_ACTOR // 2
        assert all(i.split("-")[3] == statement and i.split("-")[5] == actor for i in ids)


def test_nested_zip_layout_up_to_three_levels(tmp_path):
    root = str(tmp_path)
    under = {3: "Audio_Speech_Actors_01-24", 2: os.path.join("video", "Video_Speech_Actor_xx")}
    make_tree(root, actors=(1, 2), modality_codes=(3, 2), under=under)
    make_tree(root, actors=(3,), modality_codes=(3,), under={3: os.path.join("a", "b")})
    make_tree(root, actors=(4,), modality_codes=(3,), under={3: os.path.join("a", "b", "c")})  # too deep
    recordings = read_ravdess(root)
    assert [r.person for r in recordings] == ["1"] * PER_ACTOR + ["2"] * PER_ACTOR + ["3"] * PER_ACTOR
    first = performances()[0]
    assert recordings[0].audio == file_path(root, 3, first, under[3])
    assert recordings[0].visible == file_path(root, 2, first, under[2])
    assert all(r.visible is None for r in recordings if r.person == "3")


def test_audio_only_tree_leaves_visible_none_and_says_so(tmp_path, caplog):
    root = make_tree(str(tmp_path), modality_codes=(3,))
    with caplog.at_level(logging.INFO, logger="pipelines.ravdess"):
        recordings = read_ravdess(root)
    assert len(recordings) == len(ACTORS) * PER_ACTOR
    assert all(r.audio and r.visible is None and r.thermal is None for r in recordings)
    assert f"visible 0 with, {len(recordings)} without" in caplog.text
    assert f"audio {len(recordings)} with, 0 without" in caplog.text


def test_video_without_audio_keeps_audio_none(tmp_path):
    root = make_tree(str(tmp_path), actors=(1,))
    only_video = performances(actors=(1,))[3]
    os.remove(file_path(root, 3, only_video))
    recordings = {r.recording: r for r in read_ravdess(root)}
    assert len(recordings) == PER_ACTOR
    assert recordings[code(only_video)].audio is None
    assert recordings[code(only_video)].visible == file_path(root, 2, only_video)


def test_vocal_channel_speech_by_default(tmp_path):
    root = make_tree(str(tmp_path), vocals=(1, 2))
    speech = read_ravdess(root)
    song = read_ravdess(root, vocal_channel="song")
    both = read_ravdess(root, vocal_channel="all", label="emotion")
    assert {r.recording[:2] for r in speech} == {"01"} and len(speech) == len(ACTORS) * PER_ACTOR
    assert {r.recording[:2] for r in song} == {"02"} and len(song) == len(speech)
    assert len(both) == 2 * len(speech)
    groups = {r.recording: r.group for r in both}
    assert groups["01-03-01-02-01-01"] == groups["02-03-02-02-02-01"] == "01-02"


def test_modality_subset_leaves_other_files_unchecked(tmp_path, caplog):
    root = make_tree(str(tmp_path), actors=(1,))
    touch(os.path.join(root, "Actor_01", "03-bad.wav"))
    with caplog.at_level(logging.DEBUG, logger="pipelines.ravdess"):
        visible = read_ravdess(root, modalities=("visible",))
    assert len(visible) == PER_ACTOR and all(r.audio is None and r.visible for r in visible)
    assert f"and {PER_ACTOR + 1} files of other modalities" in caplog.text
    audio = read_ravdess(root, modalities=("audio", "thermal"), on_error="skip")
    assert len(audio) == PER_ACTOR and all(r.visible is None and r.thermal is None for r in audio)


def test_actor_selection_and_absent_actors(tmp_path):
    root = make_tree(str(tmp_path))
    chosen = read_ravdess(root, actors=[3, 1])
    assert {r.person for r in chosen} == {"1", "3"} and len(chosen) == 2 * PER_ACTOR
    with pytest.raises(ValueError, match=r"\[4, 5\]") as info:
        read_ravdess(root, actors=[1, 5, 4])
    assert raised_paths(info) == [root]
    policy = ErrorPolicy("skip")
    kept = read_ravdess(root, actors=[2, 5], policy=policy)
    assert len(policy.skipped) == 1 and {r.person for r in kept} == {"2"}


BAD_NAMES = [
    ("03-01-03-01-01-01.wav", "does not parse as seven"),
    ("03-01-3-01-01-01-01.wav", "does not parse as seven"),
    ("03-01-03-01-01-01-01-01.mp4", "does not parse as seven"),
    ("05-01-03-01-01-01-01.mp4", "modality code 05 out of range 01..04"),
    ("04-01-03-01-01-01-01.avi", r"modality code 04 in a .avi file in Actor_XX/, which needs 02 or 01"),
    ("thermal/02-01-03-01-01-01-01.mp4", r"modality code 02 in a .mp4 file in Actor_XX/thermal/, which needs 04"),
    ("03-03-03-01-01-01-01.wav", "vocal channel code 03 out of range"),
    ("03-01-09-01-01-01-01.wav", "emotion code 09 out of range"),
    ("03-01-00-01-01-01-01.wav", "emotion code 00 out of range"),
    ("03-01-03-03-01-01-01.wav", "intensity code 03 out of range"),
    ("03-01-01-02-01-01-01.wav", "neutral"),
    ("03-01-03-01-03-01-01.wav", "statement code 03 out of range"),
    ("03-01-03-01-01-03-01.wav", "repetition code 03 out of range"),
    ("03-01-03-01-01-01-25.wav", "actor code 25 out of range"),
    ("03-01-03-01-01-01-02.wav", "actor code 02 disagrees with its folder Actor_01"),
    ("02-01-03-01-01-01-01.WAV", "modality code 02 in a .wav file"),
    ("03-01-03-01-01-01-01.mp4", "modality code 03 in a .mp4 file"),
]


@pytest.mark.parametrize("name, reason", BAD_NAMES)
def test_bad_file_name_raises_or_is_skipped(tmp_path, name, reason):
    root = make_tree(str(tmp_path), modality_codes=(3, 2, 1, 4))
    bad = touch(os.path.join(root, "Actor_01", name))
    with pytest.raises(ValueError, match=reason) as info:
        read_ravdess(root)
    assert raised_paths(info) == [bad]
    policy = ErrorPolicy("skip")
    recordings = read_ravdess(root, policy=policy)
    assert [e.path for e in policy.skipped] == [bad]
    assert len(recordings) == len(ACTORS) * PER_ACTOR


def test_every_problem_is_collected_before_raising(tmp_path):
    root = make_tree(str(tmp_path))
    bad = [touch(os.path.join(root, f"Actor_0{a}", f"03-01-09-01-01-01-0{a}.wav")) for a in ACTORS]
    with pytest.raises(ValueError) as info:
        read_ravdess(root)
    assert sorted(raised_paths(info)) == bad
    policy = ErrorPolicy("raise")  # a caller's policy: the caller reports at the end of its stage
    assert len(read_ravdess(root, policy=policy)) == len(ACTORS) * PER_ACTOR
    with pytest.raises(ValueError) as info:
        policy.report()
    assert sorted(raised_paths(info)) == bad


def test_bad_files_alone_are_reported_rather_than_no_recording(tmp_path):
    bad = touch(os.path.join(tmp_path, "Actor_01", "03-01-03-01-01-01-02.wav"))
    with pytest.raises(ValueError, match="disagrees") as info:
        read_ravdess(tmp_path, policy=ErrorPolicy("raise"))
    assert raised_paths(info) == [bad]


def test_a_second_copy_of_the_tree_is_a_duplicate(tmp_path):
    root = make_tree(str(tmp_path), actors=(1, 2))
    copy = shutil.copytree(os.path.join(root, "Actor_02"), os.path.join(root, "copy", "Actor_02"))
    with pytest.raises(ValueError, match="duplicate of") as info:
        read_ravdess(root)
    assert all(path.startswith(copy) for path in raised_paths(info))
    policy = ErrorPolicy("skip")
    recordings = read_ravdess(root, policy=policy)
    assert len(policy.skipped) == 3 * PER_ACTOR  # every file of the copy
    assert len(recordings) == 2 * PER_ACTOR
    assert not any(r.audio.startswith(copy) or r.visible.startswith(copy) for r in recordings)


def test_actor_folder_out_of_range_is_skipped(tmp_path):
    root = make_tree(str(tmp_path), actors=(1,))
    folder = os.path.dirname(touch(os.path.join(root, "Actor_25", "03-01-03-01-01-01-25.wav")))
    with pytest.raises(ValueError, match="out of range") as info:
        read_ravdess(root)
    assert raised_paths(info) == [folder]
    assert len(read_ravdess(root, on_error="skip")) == PER_ACTOR


def test_no_actor_folder_or_no_recording_names_the_root(tmp_path):
    missing = str(tmp_path / "nowhere")
    with pytest.raises(DataError) as info:
        read_ravdess(missing)
    assert info.value.path == missing
    make_tree(str(tmp_path), actors=(1,), modality_codes=(3,), under={3: os.path.join("a", "b", "c")})
    with pytest.raises(DataError, match="no Actor_XX folder") as info:
        read_ravdess(tmp_path)
    assert info.value.path == str(tmp_path)
    make_tree(str(tmp_path), actors=(1,), modality_codes=(3,))
    touch(os.path.join(tmp_path, "Actor_02", "notes.txt"))
    for kwargs in ({"vocal_channel": "song"}, {"modalities": ("thermal",)}):
        with pytest.raises(DataError, match="no RAVDESS") as info:
            read_ravdess(tmp_path, **kwargs)
        assert info.value.path == str(tmp_path)


def test_other_and_hidden_files_are_ignored_and_counted(tmp_path, caplog):
    root = make_tree(str(tmp_path), actors=(1,))
    actor_dir = os.path.join(root, "Actor_01")
    for name in ("notes.txt", ".DS_Store", "._03-01-03-01-01-01-01.wav", "03-01-03-01-01-01-01.flac"):
        touch(os.path.join(actor_dir, name))
    os.makedirs(os.path.join(actor_dir, "extra.mp4"))
    touch(os.path.join(root, "__MACOSX", "Actor_01", "._03-01-03-01-01-01-01.wav"))
    with caplog.at_level(logging.DEBUG, logger="pipelines.ravdess"):
        recordings = read_ravdess(root)
    assert len(recordings) == PER_ACTOR
    assert "ignored 5 other files and 0 files" in caplog.text


@pytest.mark.parametrize(
    "kwargs",
    [
        {"label": "speaker"},
        {"vocal_channel": "songs"},
        {"actors": ["a"]},
        {"actors": []},
        {"actors": [0, 1]},
        {"actors": [25]},
    ],
)
def test_bad_arguments_raise_value_error(tmp_path, kwargs):
    root = make_tree(str(tmp_path), actors=(1,))
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        read_ravdess(root, **kwargs)


def test_logs_counts_and_reports_skips(tmp_path, caplog):
    root = make_tree(str(tmp_path))
    touch(os.path.join(root, "Actor_02", "03-01-03-01-01-01-01.wav"))
    with caplog.at_level(logging.INFO):
        read_ravdess(root, label="emotion", on_error="skip")
    assert f"{len(ACTORS) * PER_ACTOR} recordings of 2 emotions" in caplog.text
    assert "skipped 1 RAVDESS files" in caplog.text


def test_reads_real_media_in_the_public_zip_layout(tmp_path):
    root = str(tmp_path)
    takes = [(1, 3, 1, 1, r, 5) for r in (1, 2)]
    for performance in takes:
        audio = file_path(root, 3, performance, "Audio_Speech_Actors_01-24")
        os.makedirs(os.path.dirname(audio), exist_ok=True)
        soundfile.write(audio, np.zeros(1600, np.float32), 16000, subtype="PCM_16")
        video = file_path(root, 1, performance, "Video_Speech_Actor_05")
        os.makedirs(os.path.dirname(video), exist_ok=True)
        writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (32, 24))
        for _ in range(3):
            writer.write(np.full((24, 32, 3), 128, np.uint8))
        writer.release()
    recordings = read_ravdess(root)
    assert [r.recording for r in recordings] == [code(p) for p in takes]
    assert recordings[0].group == recordings[1].group == "05-03-01-01"
    for r in recordings:
        assert soundfile.info(r.audio).samplerate == 16000
        capture = cv2.VideoCapture(r.visible)
        ok, frame = capture.read()
        capture.release()
        assert ok and frame.shape == (24, 32, 3)


# ---------------------------------------------------------------- .avi videos and thermal videos (code 04)


def test_avi_videos_and_thermal_videos_are_read(tmp_path, caplog):
    """.avi stands for .mp4; Actor_XX/thermal/04-* is the thermal modality, looked at only when thermal is run."""
    root = make_tree(str(tmp_path), modality_codes=(3, 2, 4), video=".avi")
    recordings = read_ravdess(root, label="emotion")
    assert len(recordings) == len(ACTORS) * PER_ACTOR
    for r, p in zip(recordings, performances()):
        assert (r.audio, r.visible, r.thermal) == (file_path(root, 3, p), file_path(root, 2, p, video=".avi"),
                                                   file_path(root, 4, p, video=".avi"))
        assert r.subject == str(p[-1]) and r.person in ("neutral", "happy")
    with caplog.at_level(logging.DEBUG, logger="pipelines.ravdess"):
        without = read_ravdess(root, modalities=("audio", "visible"), label="actor")
    assert all(r.thermal is None and r.subject == r.person for r in without)
    assert "ignored 0 other files and 0 files" in caplog.text  # thermal/ is neither counted nor read
    only = read_ravdess(root, modalities=("thermal",))
    assert all(r.thermal and r.audio is None and r.visible is None for r in only)


def test_an_mp4_and_an_avi_of_one_take_are_duplicates(tmp_path):
    """The first in sorted order (.avi) is kept; the .mp4 is named."""
    root = make_tree(str(tmp_path), actors=(1,))
    take = performances(actors=(1,))[0]
    avi = touch(file_path(root, 2, take, video=".avi"))
    with pytest.raises(ValueError, match="duplicate of .*avi") as info:
        read_ravdess(root)
    assert raised_paths(info) == [file_path(root, 2, take)]
    assert read_ravdess(root, on_error="skip")[0].visible == avi


def test_reads_the_synthetic_tree_with_thermal_avi_videos(tmp_path):
    written = synthetic_ravdess.write_ravdess(
        tmp_path, actors=(1, 2), emotions=("happy",), intensities=(1,), statements=(1,), repetitions=(1,),
        video_frames=2, fps=2, image_size=16, sample_rate=16000, video_format="avi", thermal=True)
    recordings = read_ravdess(tmp_path, label="emotion")
    assert [(r.recording, r.audio, r.visible, r.thermal, r.subject) for r in recordings] == [
        (t.recording, t.audio, t.visible, t.thermal, str(t.actor)) for t in written]
    assert all(r.thermal.endswith(".avi") for r in recordings)
