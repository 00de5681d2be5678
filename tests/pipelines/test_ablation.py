import itertools

import numpy as np
import pytest
import tensorflow as tf

from pipelines.ablation import ModalityDropout, ablation_conditions, apply_presence, modality_dropout

ALL = ("audio", "visible", "thermal")


def make_example(rng, modalities=ALL, present=None, batch=()):
    shapes = {"audio": (5, 4), "visible": (3, 3, 3), "thermal": (3, 3, 1)}
    inputs = {m: rng.uniform(0.1, 1.0, batch + shapes[m]).astype(np.float32) for m in modalities}
    if present is not None:
        inputs["present"] = np.asarray(present, np.float32)
    inputs["recording"] = np.full(batch, "rec-1") if batch else "rec-1"
    return inputs


def test_paper_conditions_are_complete_then_one_missing_each():
    assert ablation_conditions(ALL) == [(1, 1, 1), (0, 1, 1), (1, 0, 1), (1, 1, 0)]
    assert ablation_conditions(("visible", "thermal")) == [(1, 1), (0, 1), (1, 0)]
    assert ablation_conditions("audio") == [(1,)]


@pytest.mark.parametrize("modalities", [ALL, ("audio", "thermal"), ("visible",)])
def test_subset_conditions_are_every_nonempty_subset(modalities):
    conditions = ablation_conditions(modalities, mode="subsets")
    expected = {bits for bits in itertools.product((0, 1), repeat=len(modalities)) if any(bits)}
    assert len(conditions) == 2 ** len(modalities) - 1
    assert set(conditions) == expected
    assert conditions[0] == (1,) * len(modalities)
    sizes = [sum(bits) for bits in conditions]
    assert sizes == sorted(sizes, reverse=True)


def test_conditions_reject_bad_mode_and_order():
    with pytest.raises(ValueError, match="mode"):
        ablation_conditions(ALL, mode="all")
    with pytest.raises(ValueError, match="canonical order"):
        ablation_conditions(("thermal", "audio"))


@pytest.mark.parametrize("condition", ablation_conditions(ALL, mode="subsets"))
def test_apply_presence_zeroes_missing_tensors(condition):
    example = make_example(np.random.default_rng(0), present=[1, 1, 1])
    out = apply_presence(example, condition, ALL)
    np.testing.assert_array_equal(out["present"].numpy(), np.asarray(condition, np.float32))
    for bit, modality in zip(condition, ALL):
        expected = example[modality] * bit
        assert out[modality].dtype == tf.float32
        assert out[modality].shape == example[modality].shape
        np.testing.assert_array_equal(out[modality].numpy(), expected)
    assert out["recording"] == "rec-1"


def test_apply_presence_keeps_unrecorded_modality_missing():
    example = make_example(np.random.default_rng(1), present=[1, 0, 1])
    example["visible"] = np.zeros_like(example["visible"])
    out = apply_presence(example, [1, 1, 0], ALL)
    np.testing.assert_array_equal(out["present"].numpy(), [1, 0, 0])
    np.testing.assert_array_equal(out["audio"].numpy(), example["audio"])
    assert not out["visible"].numpy().any() and not out["thermal"].numpy().any()


def test_apply_presence_without_present_key_and_in_dataset_map():
    example = make_example(np.random.default_rng(2), modalities=("audio", "thermal"))
    dataset = tf.data.Dataset.from_tensors(example).map(
        lambda inputs: apply_presence(inputs, tf.constant([0.0, 1.0]), ("audio", "thermal")))
    out = next(iter(dataset))
    np.testing.assert_array_equal(out["present"].numpy(), [0, 1])
    assert not out["audio"].numpy().any()
    np.testing.assert_array_equal(out["thermal"].numpy(), example["thermal"])


def test_apply_presence_on_a_batch():
    rng = np.random.default_rng(3)
    recorded = np.array([[1, 1, 1], [0, 1, 1], [1, 1, 0]], np.float32)
    batch = make_example(rng, present=recorded, batch=(3,))
    out = apply_presence(batch, [1, 0, 1], ALL)
    expected_present = recorded * np.array([1, 0, 1], np.float32)
    np.testing.assert_array_equal(out["present"].numpy(), expected_present)
    for index, modality in enumerate(ALL):
        for sample in range(3):
            expected = batch[modality][sample] * expected_present[sample, index]
            np.testing.assert_array_equal(out[modality].numpy()[sample], expected)


def test_apply_presence_rejects_wrong_length_and_missing_key():
    example = make_example(np.random.default_rng(4), present=[1, 1, 1])
    with pytest.raises(ValueError, match="present"):
        apply_presence(example, [1, 0], ALL)
    del example["thermal"]
    with pytest.raises(ValueError, match="thermal"):
        apply_presence(example, [1, 1, 1], ALL)


def dropout_batch(size, present=None, seed=0):
    present = np.ones((size, 3), np.float32) if present is None else present
    return make_example(np.random.default_rng(seed), present=present, batch=(size,))


@pytest.mark.parametrize("rate", [0.2, 0.6])
def test_hard_dropout_rate_and_never_all_dropped(rate):
    size = 4000
    recorded = np.ones((size, 3), np.float32)
    recorded[: size // 4, 1] = 0  # a quarter of the samples never had a visible frame
    batch = dropout_batch(size, recorded)
    batch["visible"][: size // 4] = 0.0
    out = modality_dropout(batch, rate, tf.constant([7, 11]), mode="hard")
    present = out["present"].numpy()
    dropped = (recorded == 1) & (present == 0)
    assert np.all(present <= recorded)
    assert np.all(present.sum(axis=1) >= 1)
    for k, rows in ((3, slice(size // 4, None)), (2, slice(None, size // 4))):
        expected = rate - rate ** k / k  # one modality is rescued when all k would drop
        observed = dropped[rows][recorded[rows] == 1].mean()
        assert abs(observed - expected) < 0.035, (k, observed, expected)
    for index, modality in enumerate(ALL):
        for sample in range(0, size, 97):
            expected = batch[modality][sample] * present[sample, index]
            np.testing.assert_array_equal(out[modality].numpy()[sample], expected)


def test_dropout_is_reproducible_for_a_seed():
    batch = dropout_batch(64)
    first = modality_dropout(batch, 0.5, tf.constant([1, 2]), mode="noise")
    second = modality_dropout(batch, 0.5, tf.constant([1, 2]), mode="noise")
    other = modality_dropout(batch, 0.5, tf.constant([1, 3]), mode="noise")
    for key in ("present",) + ALL:
        np.testing.assert_array_equal(first[key].numpy(), second[key].numpy())
    assert not np.array_equal(first["present"].numpy(), other["present"].numpy())


def test_modality_dropout_class_in_dataset_is_seeded():
    batch = dropout_batch(16)
    labels = np.arange(16, dtype=np.int32)

    def run(seed):
        dataset = tf.data.Dataset.from_tensors((batch, labels)).repeat(5).enumerate().map(
            ModalityDropout(0.4, seed=seed))
        return np.stack([inputs["present"].numpy() for inputs, _ in dataset])

    first, second, other = run(5), run(5), run(6)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)
    assert not np.array_equal(first[0], first[1])  # a fresh draw per batch


def test_soft_dropout_scales_and_keeps_bits():
    alpha = 0.3
    batch = dropout_batch(300)
    hard = modality_dropout(batch, 0.5, tf.constant([3, 4]), mode="hard")
    soft = modality_dropout(batch, 0.5, tf.constant([3, 4]), mode="soft", alpha=alpha)
    np.testing.assert_array_equal(soft["present"].numpy(), batch["present"])
    dropped = hard["present"].numpy() == 0  # same seed -> same draws
    assert dropped.any() and (~dropped.any(axis=1)).any()
    for index, modality in enumerate(ALL):
        for sample in range(300):
            if dropped[sample, index]:
                scale = alpha
            elif dropped[sample].any():
                scale = 1 - alpha
            else:
                scale = 1.0
            np.testing.assert_allclose(soft[modality].numpy()[sample], batch[modality][sample] * scale, rtol=1e-6)


def test_noise_dropout_replaces_with_standard_normal():
    batch = dropout_batch(400)
    out = modality_dropout(batch, 0.5, tf.constant([5, 6]), mode="noise")
    present = out["present"].numpy()
    assert np.all(present.sum(axis=1) >= 1)
    audio = out["audio"].numpy()
    dropped_audio = audio[present[:, 0] == 0]
    np.testing.assert_array_equal(audio[present[:, 0] == 1], batch["audio"][present[:, 0] == 1])
    assert dropped_audio.size > 1000
    assert abs(dropped_audio.mean()) < 0.1 and abs(dropped_audio.std() - 1.0) < 0.1


def test_zero_rate_changes_nothing():
    batch = dropout_batch(50)
    out = modality_dropout(batch, 0.0, tf.constant([0, 0]))
    for key in ("present",) + ALL:
        np.testing.assert_array_equal(out[key].numpy(), batch[key])


@pytest.mark.parametrize("kwargs, name", [
    ({"rate": 1.0}, "rate"), ({"rate": -0.1}, "rate"), ({"rate": 0.2, "mode": "drop"}, "mode"),
    ({"rate": 0.2, "alpha": 1.5}, "alpha"),
])
def test_dropout_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ModalityDropout(**kwargs)


def test_dropout_needs_a_batch():
    example = make_example(np.random.default_rng(0), present=[1, 1, 1])
    with pytest.raises(ValueError, match="batch"):
        modality_dropout(example, 0.3, tf.constant([0, 1]))
