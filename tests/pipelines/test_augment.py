"""SpecAugment: one frequency band and one time span of each present spectrogram set to its mean."""

import numpy as np
import pytest
import tensorflow as tf

from pipelines.augment import SpecAugment


def batch(present):
    rng = np.random.default_rng(0)
    audio = rng.normal(-40.0, 10.0, size=(len(present), 30, 12)).astype(np.float32)
    audio[np.array(present) == 0] = 0.0
    inputs = {"audio": tf.constant(audio), "present": tf.constant(np.array(present, np.float32)[:, None])}
    return inputs, tf.constant(np.arange(len(present)))


def masked_cells(before, after):
    return ~np.isclose(before, after)


def test_masks_are_bands_filled_with_the_mean_and_missing_audio_stays_zero():
    inputs, labels = batch([1, 1, 1, 1, 0])
    outputs, same_labels = SpecAugment(6, seed=3)(0, (inputs, labels))
    before, after = inputs["audio"].numpy(), outputs["audio"].numpy()
    assert after.shape == before.shape and np.array_equal(same_labels.numpy(), labels.numpy())
    np.testing.assert_array_equal(after[4], 0.0)
    changed = 0
    for sample in range(4):
        cells = masked_cells(before[sample], after[sample])
        np.testing.assert_allclose(after[sample][cells], before[sample].mean(), rtol=1e-5)
        rows, columns = np.nonzero(cells)
        # Each masked cell lies in a masked time span (whole rows) or frequency band (whole columns) of < 6.
        full_rows = {r for r in set(rows) if cells[r].all()}
        full_columns = {c for c in set(columns) if cells[:, c].all()}
        assert all(r in full_rows or c in full_columns for r, c in zip(rows, columns))
        assert len(full_rows) < 6 and len(full_columns) < 6
        changed += cells.any()
    assert changed >= 3  # widths are drawn in [0, 6): a mask may be empty, but not on nearly every sample


def test_masks_are_a_function_of_the_seed_and_the_batch_index_alone():
    """What makes a resumed run mask what an uninterrupted one masked: no global random state is read."""
    inputs, labels = batch([1] * 8)
    augment = SpecAugment(6, seed=11)
    first = augment(2, (inputs, labels))[0]["audio"].numpy()
    tf.random.set_seed(99)
    tf.random.uniform([5])  # the global state moves; the masks do not
    np.testing.assert_array_equal(SpecAugment(6, seed=11)(2, (inputs, labels))[0]["audio"].numpy(), first)
    assert not np.array_equal(augment(3, (inputs, labels))[0]["audio"].numpy(), first)
    assert not np.array_equal(SpecAugment(6, seed=12)(2, (inputs, labels))[0]["audio"].numpy(), first)


def test_width_must_be_a_positive_integer():
    with pytest.raises(ValueError, match="width"):
        SpecAugment(0, seed=0)
