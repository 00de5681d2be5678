import numpy as np
import pytest

from pipelines.splits import PAPER_TEST_FRACTION, split_samples


def ablated_samples(recordings_per_person, copies=4):
    """Per-sample recording ids and person labels: `copies` samples per recording."""
    recordings, labels = [], []
    for person, count in enumerate(recordings_per_person):
        for index in range(count):
            recordings += [f"p{person}-r{index}"] * copies
            labels += [f"person{person}"] * copies
    return np.array(recordings), np.array(labels)


def test_paper_fraction_matches_the_paper_counts():
    assert round(13893 * PAPER_TEST_FRACTION) == 2729
    assert 13893 - round(13893 * PAPER_TEST_FRACTION) == 11164


def test_paper_split_size_and_determinism():
    recordings, labels = ablated_samples([5, 7, 3, 9, 6])
    is_test = split_samples(recordings, labels, seed=3)
    assert is_test.dtype == bool and is_test.shape == (len(labels),)
    assert is_test.sum() == round(len(labels) * PAPER_TEST_FRACTION)
    np.testing.assert_array_equal(is_test, split_samples(recordings, labels, seed=3))
    assert not np.array_equal(is_test, split_samples(recordings, labels, seed=4))


def test_paper_split_lets_copies_of_a_recording_cross_sides():
    recordings, labels = ablated_samples([10] * 6)
    is_test = split_samples(recordings, labels, test_fraction=0.5, seed=0)
    crossing = [r for r in np.unique(recordings) if len(set(is_test[recordings == r])) == 2]
    assert crossing


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_strict_split_keeps_recordings_whole_and_people_on_both_sides(seed):
    counts = [2, 3, 5, 8, 13]
    recordings, labels = ablated_samples(counts)
    is_test = split_samples(recordings, labels, protocol="strict", test_fraction=0.3, seed=seed)
    for recording in np.unique(recordings):
        assert len(set(is_test[recordings == recording])) == 1, recording
    for person, count in zip(np.unique(labels), counts):
        own = labels == person
        assert is_test[own].any() and not is_test[own].all(), person
        test_recordings = len(np.unique(recordings[own & is_test]))
        assert test_recordings == min(max(round(count * 0.3), 1), count - 1)
    np.testing.assert_array_equal(
        is_test, split_samples(recordings, labels, protocol="strict", test_fraction=0.3, seed=seed))


def test_strict_split_rejects_a_person_with_one_recording():
    recordings, labels = ablated_samples([3, 1, 4])
    with pytest.raises(ValueError, match="person1.*single recording"):
        split_samples(recordings, labels, protocol="strict")


def test_strict_split_rejects_a_recording_of_two_people():
    recordings, labels = ablated_samples([2, 2])
    labels[1] = "person1"
    with pytest.raises(ValueError, match="p0-r0"):
        split_samples(recordings, labels, protocol="strict")


def test_empty_split_raises():
    recordings, labels = ablated_samples([1], copies=3)
    with pytest.raises(ValueError, match="test split empty"):
        split_samples(recordings, labels, test_fraction=0.1)
    with pytest.raises(ValueError, match="train split empty"):
        split_samples(recordings, labels, test_fraction=0.9)


@pytest.mark.parametrize("kwargs, message", [
    ({"protocol": "random"}, "protocol"),
    ({"test_fraction": 0.0}, "test_fraction"),
    ({"test_fraction": 1.0}, "test_fraction"),
])
def test_bad_arguments_raise(kwargs, message):
    recordings, labels = ablated_samples([3, 3])
    with pytest.raises(ValueError, match=message):
        split_samples(recordings, labels, **kwargs)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="no samples"):
        split_samples([], [])
    with pytest.raises(ValueError, match="labels has 2"):
        split_samples(["a", "b", "c"], [0, 1])
