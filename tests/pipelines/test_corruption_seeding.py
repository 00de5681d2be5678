"""corruption_rng draws the same values for the same five fields in any process or thread order, other values for
any other field; the Corruption record and the registry of every table."""

import concurrent.futures
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from pipelines.corruptions import CORRUPTIONS
from pipelines.corruptions.audio import AUDIO_CORRUPTIONS, corrupt_audio
from pipelines.corruptions.seeding import SEVERITIES, Corruption, check_severity, corruption_rng

REPO = pathlib.Path(__file__).resolve().parents[2]
FIELDS = ("rec_001", "audio", "noise", 3, 7)


def draws(*fields):
    return corruption_rng(*fields).standard_normal(4)


def test_same_fields_draw_the_same_values():
    np.testing.assert_array_equal(draws(*FIELDS), draws(*FIELDS))
    assert isinstance(corruption_rng(*FIELDS), np.random.Generator)


def test_another_process_draws_the_same_values_whatever_its_hash_seed():
    # Python's hash() of a string changes with PYTHONHASHSEED (random in this process): the seeding must not use it.
    code = ("from pipelines.corruptions.seeding import corruption_rng;"
            f"print(corruption_rng(*{FIELDS!r}).standard_normal(4).tolist())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(REPO)})
    assert result.stdout.strip() == str(draws(*FIELDS).tolist())


@pytest.mark.parametrize("position, other", [(0, "rec_002"), (1, "visible"), (2, "babble"), (3, 4), (4, 8)])
def test_any_other_field_draws_other_values(position, other):
    fields = list(FIELDS)
    fields[position] = other
    assert not np.allclose(draws(*fields), draws(*FIELDS))


def test_fields_are_not_merely_concatenated():
    # "a,b" + "c" and "a" + "b,c" must not collide, whatever a recording id holds.
    assert not np.allclose(draws("a,b", "c", "noise", 1, 0), draws("a", "b,c", "noise", 1, 0))
    assert not np.allclose(draws("1", "audio", "noise", 1, 23), draws("12", "audio", "noise", 1, 3))


def test_thread_order_does_not_change_the_corrupted_audio():
    waveform = np.random.default_rng(0).uniform(-0.5, 0.5, 800).astype(np.float32)
    recordings = [f"rec_{index}" for index in range(6)]

    def corrupted(recording):
        return corrupt_audio(waveform, 16000, "noise", 2, corruption_rng(recording, "audio", "noise", 2, 0))

    in_order = [corrupted(recording) for recording in recordings]
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        reversed_in_threads = list(pool.map(corrupted, recordings[::-1]))[::-1]
    for expected, got in zip(in_order, reversed_in_threads):
        assert expected.tobytes() == got.tobytes()


@pytest.mark.parametrize("position, value, argument", [
    (0, "", "recording"), (1, None, "modality"), (2, 3, "corruption"), (3, 0, "severity"), (3, 6, "severity"),
    (3, 2.0, "severity"), (3, True, "severity"), (4, "0", "seed"), (4, 1.5, "seed")])
def test_bad_fields_raise_a_one_line_error_naming_them(position, value, argument):
    fields = list(FIELDS)
    fields[position] = value
    with pytest.raises(ValueError, match=argument) as error:
        corruption_rng(*fields)
    assert "\n" not in str(error.value)


def test_corruption_holds_one_level_per_severity():
    corruption = Corruption("hum", "audio", (1, 2, 3, 4, 5), "dB", "a hum")
    assert [corruption.level(severity) for severity in SEVERITIES] == [1, 2, 3, 4, 5]
    assert corruption.level(np.int64(2)) == 2
    with pytest.raises(ValueError, match="severity"):
        corruption.level(0)
    with pytest.raises(ValueError, match="levels"):
        Corruption("hum", "audio", (1, 2, 3), "dB", "a hum")
    assert check_severity(np.int32(5)) == 5


def test_the_registry_holds_every_audio_corruption_by_modality_and_name():
    for name, corruption in AUDIO_CORRUPTIONS.items():
        assert CORRUPTIONS["audio", name] is corruption
        assert corruption.name == name and corruption.modality == "audio"
        assert corruption.unit and corruption.description
