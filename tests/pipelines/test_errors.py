"""Tests for pipelines/errors.py: DataError, InputErrors, check_input_file and the collecting ErrorPolicy."""

import logging
import pathlib

import pytest

from pipelines.errors import DataError, DataErrors, ErrorPolicy, InputErrors, check_input_file


def test_data_error_names_the_path_first():
    error = DataError(pathlib.Path("/data/a.wav"), "cannot read audio")
    assert str(error) == "/data/a.wav: cannot read audio"
    assert error.path == "/data/a.wav" and error.reason == "cannot read audio"
    assert isinstance(error, ValueError)


def test_input_errors_lists_every_error_one_line_each():
    errors = [DataError("/d/a.wav", "truncated audio"), DataError("/d/m.csv, line 4", "malformed row")]
    raised = InputErrors(errors, "recordings")
    assert raised.errors == errors and isinstance(raised, ValueError)
    lines = str(raised).splitlines()
    assert lines[0].startswith("2 recordings with bad input")
    assert lines[1:] == ["  /d/a.wav: truncated audio", "  /d/m.csv, line 4: malformed row"]


def test_policy_rejects_unknown_modes():
    with pytest.raises(ValueError, match="on_error must be one of"):
        ErrorPolicy("ignore")


def test_raise_policy_collects_and_raises_everything_at_report():
    policy = ErrorPolicy("raise")
    assert policy.report() == 0  # nothing collected: nothing raised
    first, second = DataError("/d/a.wav", "bad"), DataError("/d/b.png", "worse")
    policy.handle(first)  # handing a problem over does not raise ...
    policy.handle(second)
    with pytest.raises(InputErrors) as info:  # ... the report raises all of them together
        policy.report("files")
    assert info.value.errors == [first, second]
    assert "2 files with bad input" in str(info.value)


def test_skip_policy_logs_every_problem_and_returns_the_count(caplog):
    policy = ErrorPolicy("skip")
    for name in ("a.wav", "b.png", "c.npy"):
        policy.handle(DataError(f"/d/{name}", "bad"))
    with caplog.at_level(logging.WARNING, logger="pipelines.errors"):
        assert policy.report("recordings") == 3
    assert "skipped 3 recordings" in caplog.text
    for name in ("a.wav", "b.png", "c.npy"):
        assert f"/d/{name}: bad" in caplog.text
    assert len(policy.skipped) == 3


def test_check_input_file(tmp_path):
    good = tmp_path / "a.WAV"
    good.write_bytes(b"RIFF")
    assert check_input_file(good, (".wav",), "audio") == str(good)  # suffixes compare lower-case
    with pytest.raises(DataError, match="audio file not found") as info:
        check_input_file(tmp_path / "gone.wav", (".wav",), "audio")
    assert info.value.path == str(tmp_path / "gone.wav")
    with pytest.raises(DataError, match=r"unsupported audio suffix '\.mp4'; expected one of \.wav"):
        (tmp_path / "v.mp4").write_bytes(b"x")
        check_input_file(tmp_path / "v.mp4", (".wav",), "audio")
    empty = tmp_path / "e.wav"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match=r"empty audio file \(0 bytes\)") as info:
        check_input_file(empty, (".wav",), "audio")
    assert info.value.path == str(empty)
    with pytest.raises(DataError, match="not found"):
        check_input_file(tmp_path, (".wav",), "audio")  # a folder is not a file


def test_the_problems_of_one_recording_are_listed_each_and_counted_once(caplog):
    three = [DataError("/d/r1.wav", "truncated audio"), DataError("/d/r1.png", "empty image file"),
             DataError("/d/r1_t.png", "missing thermal frame")]
    one = DataError("/d/r2.wav", "audio holds NaN")
    raised = ErrorPolicy("raise")
    raised.handle(DataErrors.of(three))
    raised.handle(DataErrors.of([one]))  # a single problem stays a plain DataError
    with pytest.raises(InputErrors) as info:
        raised.report("recordings")
    assert info.value.errors == [*three, one] and str(info.value).startswith("2 recordings with bad input")
    assert len(str(info.value).splitlines()) == 1 + 4
    skipped = ErrorPolicy("skip")
    skipped.handle(DataErrors(three[:1]))
    skipped.merge(three)  # the same recording's problems read back from a cache: one item, every line once
    skipped.merge([one])
    with caplog.at_level(logging.WARNING, logger="pipelines.errors"):
        assert skipped.report("recordings") == 2
    assert skipped.skipped == [*three, one] and "skipped 2 recordings" in caplog.text
