"""The corrupted test features (pipelines.corruptions.features): their bytes whatever the decoding threads, the
hook's equivalence with the clean cache, babble from other speakers only, the refusal of `.npy` features."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from pipelines import cache
from pipelines.corruptions import features as corrupted
from pipelines.dataset import DataConfig, prepare
from pipelines.recording import Recording
from tests.pipelines.conftest import TINY


@pytest.fixture(scope="module")
def data(tree, tmp_path_factory):
    return prepare(DataConfig(source=tree, features=TINY, cache_dir=str(tmp_path_factory.mktemp("cache"))))


def elsewhere(data, folder):
    """`data` writing its corrupted caches under `folder` (the clean cache stays where it is)."""
    return dataclasses.replace(data, config=data.config.replace(cache_dir=str(folder)))


def records(path):
    """{clean index: the record's dict} of a cache."""
    return {int(example["index"]): example for example in cache.read_cache(path).as_numpy_iterator()}


EVERY = {"audio": ("noise", "babble"), "visible": ("low_light",), "thermal": ("sensor_noise",)}


def test_same_bytes_whatever_the_threads_and_another_seed_other_bytes(data, tmp_path):
    one = corrupted.corrupted_split(elsewhere(data, tmp_path / "one"), EVERY, 4, seed=0, workers=1)
    four = corrupted.corrupted_split(elsewhere(data, tmp_path / "four"), EVERY, 4, seed=0, workers=4)
    other_seed = corrupted.corrupted_split(elsewhere(data, tmp_path / "one"), EVERY, 4, seed=1, workers=4)
    hashes = [cache.read_meta(view.cache_path)["content_sha256"] for view in (one, four, other_seed)]
    assert hashes[0] == hashes[1] != hashes[2]
    rows = corrupted.complete_test_rows(data)
    assert sorted(records(one.cache_path)) == rows.tolist() and len(rows) >= 2
    assert sum(len(label) for _, label in one.batches("test", 4, complete_only=True)) == len(rows)
    # Random access (what verification reads) finds each record by its clean index, not its position.
    backwards = rows[::-1].copy()
    assert cache.example_reader(one.cache_path)(tf.constant(backwards))["index"].numpy().tolist() == backwards.tolist()


def test_another_recording_draws_other_noise():
    hook = corrupted.corruption_hook({"audio": ("noise",)}, 3, 0, TINY)
    window = np.sin(np.arange(TINY.audio_samples) / 7.0).astype(np.float32)
    noises = [hook(Recording(name, "1"), "audio")(window) - window for name in ("r1", "r2", "r1")]
    assert np.array_equal(noises[0], noises[2])
    assert abs(np.corrcoef(noises[0], noises[1])[0, 1]) < 0.5  # other noise, not the same noise rescaled


@pytest.mark.parametrize("choice", [EVERY, {"audio": ("noise",)}], ids=["every-sensor", "audio-alone"])
def test_hooks_that_change_nothing_give_the_clean_features_bit_for_bit(data, tmp_path, monkeypatch, choice):
    """Through the real path: the corrupted modalities decoded again (and only they: the others are copied from
    the clean cache), the records equal to the clean cache's."""
    monkeypatch.setattr(corrupted, "corrupt_audio", lambda window, *args, **kwargs: window)
    monkeypatch.setattr(corrupted, "corrupt_frame", lambda frame, *args, **kwargs: frame)
    decoded = []
    decode = corrupted.feature_stage.decode_recording
    monkeypatch.setattr(corrupted.feature_stage, "decode_recording",
                        lambda recording, modalities, *args: decoded.append(modalities) or decode(
                            recording, modalities, *args))
    view = corrupted.corrupted_split(elsewhere(data, tmp_path), choice, 5, seed=0)
    # only the chosen modalities are decoded (babble's pool decodes the clean audio too)
    assert tuple(choice) in decoded and all(set(modalities) <= set(choice) for modalities in decoded)
    clean, same = records(data.cache_path), records(view.cache_path)
    assert same and set(same) <= set(clean)
    for index, example in same.items():
        for key, value in example.items():
            assert value.tobytes() == clean[index][key].tobytes(), (index, key)


def test_babble_mixes_other_speakers_only(data, tmp_path, monkeypatch):
    pool = {}
    calls = []

    def record(window, sample_rate, name, severity, rng, babble=None):
        calls.append((window, babble))
        return window

    monkeypatch.setattr(corrupted, "corrupt_audio", record)
    rows = corrupted.complete_test_rows(data)
    for subject, window in corrupted.babble_pool(
            [Recording(data.recordings[row], data.persons[row], subject=data.subjects[row], **data.files[row])
             for row in rows], [], TINY)["test"]:
        pool[window.tobytes()] = subject
    corrupted.corrupted_split(elsewhere(data, tmp_path), {"audio": ("babble",)}, 2, seed=0)
    assert len(calls) == len(rows) and len(set(pool.values())) >= 2
    for window, babble in calls:
        assert babble and all(pool[talker.tobytes()] != pool[window.tobytes()] for talker in babble)


def test_npy_features_are_refused_naming_the_corruption_and_the_modality(data):
    npy = dataclasses.replace(data, files=[{**files, "audio": "features.npy"} for files in data.files])
    with pytest.raises(ValueError, match=r"--corruptions audio/noise: the audio inputs are \.npy features"):
        corrupted.corrupted_split(npy, {"audio": ("noise",)}, 1, seed=0)


def test_a_retuned_level_is_another_cache(data, monkeypatch):
    from pipelines.corruptions import CORRUPTIONS
    choice = {"audio": ("noise",)}
    before = {severity: corrupted._key(data, choice, severity, 0, []) for severity in (3, 4)}
    noise = CORRUPTIONS["audio", "noise"]
    monkeypatch.setitem(CORRUPTIONS, ("audio", "noise"), dataclasses.replace(noise, levels=(20, 15, 9, 5, 0)))
    assert corrupted._key(data, choice, 3, 0, []) != before[3]  # severity 3's level changed: another cache
    assert corrupted._key(data, choice, 4, 0, []) == before[4]  # severity 4's did not


def test_babble_on_a_test_split_of_one_speaker_mixes_validation_speakers():
    """A test fold of one person (the RAVDESS layout's actor folds): babble's talkers are the validation
    recordings' other speakers; with none, one line naming the speaker."""
    rng = np.random.default_rng(0)
    pool = {"test": [("a", np.zeros(4)), ("a", np.ones(4))],
            "validation": [("a", np.full(4, 2.0)), ("b", np.full(4, 3.0)), ("c", np.full(4, 4.0))]}
    talkers = corrupted.babble_talkers("a", pool, rng)
    assert sorted(float(window[0]) for window in talkers) == [3.0, 4.0]
    with pytest.raises(ValueError, match="neither the test nor the validation recordings hold a speaker other "
                                         "than 'a'"):
        corrupted.babble_talkers("a", {"test": pool["test"], "validation": pool["test"]}, rng)
