"""Train/test splits of (ablated) samples, by sample (the paper) or by recording (strict)."""

import numpy as np

PROTOCOLS = ("paper", "strict")
PAPER_TEST_FRACTION = 2729 / 13893  # the paper: 11,164 train / 2,729 test samples


def split_samples(recordings, labels, protocol="paper", test_fraction=PAPER_TEST_FRACTION, seed=0):
    """Returns is_test, a bool array with one entry per sample.

    recordings: per-sample recording id (an ablated data set has several
    samples per recording); labels: per-sample person label.
    protocol="paper": round(n * test_fraction) samples drawn at random go to
    test, so copies of one recording can land on both sides (as in the paper).
    protocol="strict": whole recordings go to one side; per person,
    round(r * test_fraction) of their r recordings, clipped to [1, r - 1], go
    to test, so every person is on both sides and no recording is on both.
    Every person needs at least two recordings. Deterministic for a seed.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    recordings = np.asarray(recordings)
    labels = np.asarray(labels)
    if recordings.ndim != 1 or labels.ndim != 1:
        raise ValueError(f"recordings and labels must be 1-D, got shapes {recordings.shape} and {labels.shape}")
    if len(recordings) == 0:
        raise ValueError("recordings: no samples to split")
    if len(recordings) != len(labels):
        raise ValueError(f"recordings has {len(recordings)} entries but labels has {len(labels)}")
    rng = np.random.default_rng(seed)
    if protocol == "paper":
        return _split_paper(len(recordings), test_fraction, rng)
    return _split_strict(recordings, labels, test_fraction, rng)


def _split_paper(count, test_fraction, rng):
    test_count = int(round(count * test_fraction))
    if not 0 < test_count < count:
        side = "test" if test_count == 0 else "train"
        raise ValueError(
            f"test_fraction={test_fraction} of {count} samples leaves the {side} split empty")
    is_test = np.zeros(count, dtype=bool)
    is_test[rng.permutation(count)[:test_count]] = True
    return is_test


def _split_strict(recordings, labels, test_fraction, rng):
    unique_recordings, first, recording_index = np.unique(
        recordings, return_index=True, return_inverse=True)
    person_of_recording = labels[first]
    mixed = np.flatnonzero(person_of_recording[recording_index] != labels)
    if mixed.size:
        raise ValueError(
            f"recordings: recording {unique_recordings[recording_index[mixed[0]]]!r} "
            "has samples of more than one person")
    people, recording_counts = np.unique(person_of_recording, return_counts=True)
    single = people[recording_counts < 2]
    if single.size:
        raise ValueError(
            f"labels: person {single[0]!r} has a single recording ({single.size} such people in all); "
            "the strict protocol needs every person on both sides, so each needs at least two recordings")
    test_recording = np.zeros(len(unique_recordings), dtype=bool)
    for person, count in zip(people, recording_counts):
        own = np.flatnonzero(person_of_recording == person)
        test_count = min(max(int(round(count * test_fraction)), 1), count - 1)
        test_recording[rng.permutation(own)[:test_count]] = True
    return test_recording[recording_index]
