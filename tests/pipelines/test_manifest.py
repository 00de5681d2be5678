"""Tests for pipelines/manifest.py: reading, checking and writing manifest CSVs."""

import logging
import os
import pathlib
import re

import cv2
import numpy as np
import pytest
import soundfile as sf

from pipelines.errors import DataError, ErrorPolicy, InputErrors
from pipelines.manifest import read_manifest, write_manifest
from pipelines.recording import Recording
from pipelines.speakingfaces import read_speakingfaces
from pipelines.synthetic.speakingfaces import write_speakingfaces

HEADER = "person,recording,audio,visible,thermal,notes"


@pytest.fixture
def data(tmp_path):
    """A 48 kHz wav, an 8-bit png and a 16-bit tiff under tmp_path/media."""
    media = tmp_path / "media"
    media.mkdir()
    rng = np.random.default_rng(0)
    sf.write(media / "a.wav", rng.uniform(-0.5, 0.5, 480).astype(np.float32), 48000)
    sf.write(media / "b.flac", rng.uniform(-0.5, 0.5, 160).astype(np.float32), 16000)
    cv2.imwrite(str(media / "v.png"), rng.integers(0, 256, (4, 5, 3), dtype=np.uint8))
    thermal = rng.integers(0, 65536, (4, 5), dtype=np.uint16)
    cv2.imwrite(str(media / "t.tiff"), thermal)
    return {"root": tmp_path, "media": media, "thermal": thermal}


def write_csv(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def test_reads_rows_with_relative_absolute_and_empty_cells(data):
    media = data["media"]
    csv_path = write_csv(
        data["root"] / "m.csv",
        [
            HEADER,
            "p1,r1,media/a.wav,media/v.png,media/t.tiff,first",
            f"p2,r2,{media / 'b.flac'},,media/t.tiff,",
            "",  # blank lines are ignored
            " p1 , r3 ,,media/v.png,,",
        ],
    )
    recordings = read_manifest(csv_path)
    assert recordings == [
        Recording("r1", "p1", str(media / "a.wav"), str(media / "v.png"), str(media / "t.tiff")),
        Recording("r2", "p2", str(media / "b.flac"), None, str(media / "t.tiff")),
        Recording("r3", "p1", None, str(media / "v.png"), None),
    ]
    # The files are handed on untouched: a 48 kHz wav and a 16-bit tiff.
    assert sf.info(recordings[0].audio).samplerate == 48000
    thermal = cv2.imread(recordings[0].thermal, cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(thermal, data["thermal"])


def test_modality_subset_keeps_only_the_run_modalities(data):
    csv_path = write_csv(
        data["root"] / "m.csv",
        [HEADER, "p1,r1,media/a.wav,media/v.png,media/t.tiff,", "p2,r2,,media/v.png,media/t.tiff,"],
    )
    recordings = read_manifest(csv_path, modalities=("thermal", "audio"))
    assert [r.visible for r in recordings] == [None, None]
    assert recordings[0].audio.endswith("a.wav") and recordings[1].audio is None
    assert all(r.thermal.endswith("t.tiff") for r in recordings)


def test_columns_of_modalities_outside_the_run_are_optional(data):
    csv_path = write_csv(data["root"] / "m.csv", ["recording,person,audio", "r1,p1,media/a.wav"])
    assert read_manifest(csv_path, modalities="audio") == [
        Recording("r1", "p1", str(data["media"] / "a.wav"))
    ]
    missing = r"missing required columns \['visible', 'thermal'\]"
    with pytest.raises(DataError, match=missing) as info:
        read_manifest(csv_path)
    assert info.value.path == str(csv_path)


BAD_ROWS = {
    "empty person": (",r9,media/a.wav,,,", "empty person"),
    "empty recording": ("p9,,media/a.wav,,,", "empty recording"),
    "duplicate id": ("p9,r1,media/a.wav,,,", "duplicate recording id 'r1' \\(first on line 2\\)"),
    "missing file": ("p9,r9,media/nope.wav,,,", "nope.wav does not exist"),
    "bad audio suffix": ("p9,r9,media/v.png,,,", "audio file .*v.png must end with"),
    "bad image suffix": ("p9,r9,,media/a.wav,,", "visible file .*a.wav must end with"),
    "no modality": ("p9,r9,,,,only notes", "no file for any of the run's modalities"),
    "malformed": ("p9,r9,media/a.wav", "malformed row: 3 fields, header has 6"),
}


@pytest.mark.parametrize("name", list(BAD_ROWS))
def test_bad_row_names_csv_and_line(data, name):
    row, reason = BAD_ROWS[name]
    csv_path = write_csv(
        data["root"] / "m.csv",
        [HEADER, "p1,r1,media/a.wav,media/v.png,media/t.tiff,", row, "p2,r2,media/a.wav,,,"],
    )
    with pytest.raises(InputErrors) as info:
        read_manifest(csv_path)
    [error] = info.value.errors
    assert isinstance(error, DataError) and error.path == f"{csv_path}, line 3"
    assert re.search(reason, error.reason)

    policy = ErrorPolicy("skip")
    recordings = read_manifest(csv_path, policy=policy)
    assert [r.recording for r in recordings] == ["r1", "r2"]
    assert len(policy.skipped) == 1 and str(policy.skipped[0]).startswith(f"{csv_path}, line 3")


def test_skip_mode_reports_the_count(data, caplog):
    csv_path = write_csv(
        data["root"] / "m.csv",
        [HEADER, "p1,r1,media/a.wav,,,", "p1,r2,media/gone.wav,,,", "p1,r2,,,media/x.bmp,"],
    )
    with caplog.at_level(logging.INFO):
        recordings = read_manifest(csv_path, on_error="skip")
    assert [r.recording for r in recordings] == ["r1"]
    assert "skipped 2 manifest rows" in caplog.text
    assert "1 recordings of 1 people" in caplog.text


def test_a_manifest_without_usable_rows_is_an_error(data):
    root = data["root"]
    missing = root / "absent.csv"
    with pytest.raises(DataError, match="does not exist") as info:
        read_manifest(missing)
    assert info.value.path == str(missing)
    for lines, reason in [
        ([HEADER], "no data rows"),
        ([HEADER, "", ","], "no data rows"),
        ([""], "empty"),
        ([HEADER, "p1,r1,media/gone.wav,,,"], "none of the 1 manifest rows"),
    ]:
        csv_path = write_csv(root / "m.csv", lines)
        with pytest.raises(DataError, match=reason) as info:
            read_manifest(csv_path, on_error="skip")
        assert info.value.path == str(csv_path)


def test_write_manifest_round_trip(data):
    csv_path = write_csv(
        data["root"] / "m.csv",
        [HEADER, "p1,r1,media/a.wav,media/v.png,media/t.tiff,", "p2,\"r,2\",,,media/t.tiff,"],
    )
    recordings = read_manifest(csv_path)
    out = data["root"] / "elsewhere" / "deeper" / "copy.csv"
    assert write_manifest(recordings, out) == str(out)
    text = out.read_text()
    assert str(data["root"]) not in text  # paths are relative to the new csv
    assert os.path.join("..", "..", "media", "a.wav") in text
    assert read_manifest(out) == recordings
    with pytest.raises(ValueError, match="no recordings"):
        write_manifest([], out)


def test_round_trip_of_a_speakingfaces_tree(tmp_path):
    write_speakingfaces(
        tmp_path / "sf", subjects=(1, 2), trials=(1,), positions=(1,), commands=(1, 2),
        frames_per_recording=2, image_size=16, audio_seconds=0.5,
    )
    recordings = read_speakingfaces(tmp_path / "sf")
    out = write_manifest(recordings, tmp_path / "manifest.csv")
    assert read_manifest(out) == recordings
    assert {r.split for r in recordings} == {"train"} and recordings[0].group == "1_1_1"
    assert read_manifest(out, modalities=("visible",)) == [
        Recording(r.recording, r.person, visible=r.visible, group=r.group, split=r.split) for r in recordings
    ]


# ---------------------------------------------------------------- split and group columns, features, videos


def test_split_and_group_columns_are_read(data):
    csv_path = write_csv(
        data["root"] / "m.csv",
        ["person,recording,audio,visible,thermal,split,group,notes",
         "p1,r1,media/a.wav,,,train,g1,x",
         "p1,r2,media/a.wav,,,Validation,g1,",
         "p1,r3,media/a.wav,,,,,"],
    )
    recordings = read_manifest(csv_path, modalities="audio")
    assert [(r.split, r.group) for r in recordings] == [("train", "g1"), ("Validation", "g1"), (None, None)]
    # A recording without a group is a group of its own.
    assert [r.group_key for r in recordings] == ["g1", "g1", "r3"]
    out = write_manifest(recordings, data["root"] / "copy.csv")
    assert pathlib.Path(out).read_text().splitlines()[0] == "person,recording,audio,visible,thermal,split,group"
    assert read_manifest(out, modalities="audio") == recordings


def test_subject_column_is_read_and_written(data):
    csv_path = write_csv(data["root"] / "s.csv", ["person,recording,audio,visible,thermal,subject",
                                                  "happy,r1,media/a.wav,,,actor1", "sad,r2,media/a.wav,,,"])
    recordings = read_manifest(csv_path, modalities="audio")
    assert [r.subject for r in recordings] == ["actor1", None]
    out = write_manifest(recordings, data["root"] / "s-copy.csv")
    assert pathlib.Path(out).read_text().splitlines()[0] == "person,recording,audio,visible,thermal,subject"
    assert read_manifest(out, modalities="audio") == recordings


def test_feature_and_video_cells(data):
    media = data["media"]
    np.save(media / "a.npy", np.zeros((3, 4), np.float32))
    np.save(media / "a2.npy", np.zeros((2, 4), np.float32))
    with open(media / "v.NPY", "wb") as f:  # suffixes compare lower-case (np.save would append .npy)
        np.save(f, np.zeros(8, np.float32))
    (media / "clip.mp4").write_bytes(b"\x00")  # checked for existence here, decoded later
    csv_path = write_csv(data["root"] / "m.csv", [
        HEADER,
        "p1,r1,media/a.npy,media/v.NPY,media/t.tiff,",
        "p1,r2,media/a2.npy,,media/clip.mp4,",
        "p1,r3,media/clip.mp4,,,",  # a video is no audio file
    ])
    with pytest.raises(InputErrors) as info:
        read_manifest(csv_path)
    [error] = info.value.errors
    assert error.path == f"{csv_path}, line 4" and "audio file" in error.reason and "clip.mp4" in error.reason
    recordings = read_manifest(csv_path, on_error="skip")
    assert [r.recording for r in recordings] == ["r1", "r2"]
    assert recordings[0].audio == str(media / "a.npy") and recordings[0].visible == str(media / "v.NPY")
    assert recordings[1].thermal == str(media / "clip.mp4")


def test_a_column_mixing_features_and_media_is_refused(data):
    media = data["media"]
    for name in ("a.npy", "b.npy"):
        np.save(media / name, np.zeros((3, 4), np.float32))
    csv_path = write_csv(data["root"] / "m.csv", [
        HEADER, "p1,r1,media/a.npy,,,", "p1,r2,media/b.npy,,,", "p1,r3,media/a.wav,,,"])
    with pytest.raises(InputErrors) as info:
        read_manifest(csv_path)
    [error] = info.value.errors
    assert error.path == str(media / "a.wav") and "all features or all media" in error.reason
    assert [r.recording for r in read_manifest(csv_path, on_error="skip")] == ["r1", "r2"]


# ---------------------------------------------------------------- every problem at once


def test_every_bad_row_is_reported_at_once(data):
    csv_path = write_csv(data["root"] / "m.csv", [
        HEADER,
        "p1,r1,media/a.wav,,,",
        "p1,r2,media/gone.wav,,,",  # line 3
        "p1,r3,media/a.txt,,,",  # line 4
        "p1,r1,media/b.flac,,,",  # line 5: duplicate id
        "p1,r4,media/a.wav",  # line 6: too few fields
        "p2,r5,,media/v.png,,",
    ])
    with pytest.raises(InputErrors) as info:
        read_manifest(csv_path)
    errors = info.value.errors
    assert [e.path for e in errors] == [f"{csv_path}, line {n}" for n in (3, 4, 5, 6)]
    assert ["does not exist" in errors[0].reason, "must end with" in errors[1].reason,
            "duplicate recording id 'r1' (first on line 2)" in errors[2].reason,
            "malformed row" in errors[3].reason] == [True] * 4
    message = str(info.value).splitlines()
    assert message[0].startswith("4 manifest rows with bad input") and len(message) == 5


# ---------------------------------------------------------------- text that is no UTF-8 CSV


def test_a_latin1_manifest_names_the_file_and_line(data):
    csv_path = data["root"] / "m.csv"
    csv_path.write_bytes(f"{HEADER}\np1,r1,media/a.wav,,,\nJos\u00e9,r2,media/a.wav,,,\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"not UTF-8 text \(byte 0xe9 on line 3\)") as info:
        read_manifest(csv_path)
    assert info.value.path == str(csv_path)
    with pytest.raises(DataError, match="line 3"):  # skipping cannot help: the whole file is unreadable
        read_manifest(csv_path, on_error="skip")


def test_utf8_with_a_byte_order_mark_and_non_ascii_ids(data):
    csv_path = data["root"] / "m.csv"
    csv_path.write_bytes(f"{HEADER}\nJos\u00e9,r\u00e9,media/a.wav,,,\n".encode("utf-8-sig"))
    [recording] = read_manifest(csv_path)
    assert (recording.person, recording.recording) == ("Jos\u00e9", "r\u00e9")


def test_an_unterminated_quote_is_reported_with_its_line(data):
    csv_path = write_csv(data["root"] / "m.csv", [
        HEADER, "p1,r1,media/a.wav,,,", "p1,r2,media/a.wav,,,", '"p1,r3,media/a.wav,,,', "p2,r4,media/a.wav,,,"])
    policy = ErrorPolicy("skip")
    recordings = read_manifest(csv_path, policy=policy)
    assert [r.recording for r in recordings] == ["r1", "r2"]
    [error] = policy.skipped
    assert error.path.startswith(f"{csv_path}, line ")
    with pytest.raises(InputErrors) as info:
        read_manifest(csv_path)
    assert len(info.value.errors) == 1


def test_an_unterminated_quote_names_the_line_it_opens_on(data):
    csv_path = write_csv(data["root"] / "m.csv", [
        HEADER, "p1,r1,media/a.wav,,,", '"p1,r3,media/a.wav,,,', "p2,r4,media/a.wav,,,", "p2,r5,media/a.wav,,,"])
    policy = ErrorPolicy("skip")
    read_manifest(csv_path, policy=policy)
    assert [e.path for e in policy.skipped] == [f"{csv_path}, line 3"]


def test_a_nul_byte_is_an_unreadable_row(data):
    csv_path = data["root"] / "m.csv"
    csv_path.write_bytes(b"\n".join([HEADER.encode(), b"p1,r1,media/a.wav,,,", b"p\x002,r2,media/a.wav,,,"]))
    policy = ErrorPolicy("skip")
    recordings = read_manifest(csv_path, policy=policy)
    assert [r.recording for r in recordings] == ["r1"]
    assert [e.path for e in policy.skipped] == [f"{csv_path}, line 3"]


def test_a_camera_cell_may_name_a_folder_of_frames(data):
    """A folder of frame images is read in the natural order of its names (f2 before f10): the middle one."""
    from pipelines.features import FeatureConfig, decode_recording, fingerprint

    frames = data["media"] / "frames"
    frames.mkdir()
    for number in (1, 2, 10):  # the middle of f1, f2, f10 is f2 (a plain sort would give f10)
        cv2.imwrite(str(frames / f"f{number}.png"), np.full((8, 8, 3), 20 * number, np.uint8))
    (frames / "notes.txt").write_text("not a frame")
    (data["media"] / "empty").mkdir()
    csv_path = write_csv(data["root"] / "f.csv", [HEADER, "p1,r1,media/a.wav,media/frames,media/frames,",
                                                  "p1,r2,media/a.wav,media/empty,,"])
    with pytest.raises(InputErrors) as info:
        read_manifest(csv_path)
    [error] = info.value.errors
    assert error.path == f"{csv_path}, line 3" and "holds no frame image" in error.reason
    [recording] = read_manifest(csv_path, on_error="skip")
    assert recording.visible == recording.thermal == str(frames)
    config = FeatureConfig(image_size=(8, 8), thermal_palette="grey")
    decoded = decode_recording(recording, ("visible", "thermal"), config, {"visible": (8, 8, 3),
                                                                           "thermal": (8, 8, 1)})
    np.testing.assert_allclose(decoded["visible"], 40 / 255, atol=1e-6)
    before = fingerprint([recording], ("visible",), config, "middle")
    os.utime(frames / "f10.png", ns=(1, 1))  # a frame changed in place: the cache must not be reused
    assert fingerprint([recording], ("visible",), config, "middle") != before


def test_subjects_pick_manifest_rows_by_their_subject_column(data):
    from pipelines.dataset import DataConfig
    from pipelines.sources import load_recordings

    plain = write_csv(data["root"] / "plain.csv", [HEADER, "p1,r1,media/a.wav,,,", "p2,r2,media/a.wav,,,"])
    with pytest.raises(ValueError, match=r"^--subjects: .*plain.csv has no subject column"):
        load_recordings(DataConfig(source=str(plain), modalities=("audio",), subjects=(1,)), ErrorPolicy("raise"))
    lines = ["person,recording,audio,visible,thermal,subject", "happy,r1,media/a.wav,,,01", "sad,r2,media/a.wav,,,2",
             "sad,r3,media/a.wav,,,3"]
    subjects = write_csv(data["root"] / "subjects.csv", lines)
    picked = load_recordings(DataConfig(source=str(subjects), modalities=("audio",), subjects=(1, 3)),
                             ErrorPolicy("raise"))
    assert [r.recording for r in picked] == ["r1", "r3"]
    with pytest.raises(ValueError, match="^--subjects: no row of .* is of subjects 7"):
        load_recordings(DataConfig(source=str(subjects), modalities=("audio",), subjects=(7,)), ErrorPolicy("raise"))
