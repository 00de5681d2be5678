import itertools

import numpy as np
import pytest
import tensorflow as tf

from pipelines.ablation import (ModalityDropout, ReplicatedModalityDropout, ablation_conditions, apply_presence,
                                fill_missing_with_noise, modality_dropout)

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


def test_complete_conditions_are_the_complete_one_alone():
    assert ablation_conditions(ALL, mode="complete") == [(1, 1, 1)]
    assert ablation_conditions(("audio", "visible"), mode="complete") == [(1, 1)]


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


def dropped_counts(rate, seed, batches=150, size=32):
    """How many of 3 present modalities ModalityDropout drops per sample, over `batches` batches: [batches * size]."""
    dataset = tf.data.Dataset.from_tensors((dropout_batch(size), np.zeros(size, np.int32))).repeat(batches)
    dataset = dataset.enumerate().map(ModalityDropout(rate, seed=seed))
    return np.concatenate([3 - inputs["present"].numpy().sum(axis=1) for inputs, _ in dataset])


@pytest.mark.parametrize("rate", [0.3, 0.7])
def test_dropout_drops_several_modalities_at_once_at_the_configured_rates(rate):
    counts = dropped_counts(rate, seed=2)
    # Each of 3 modalities drops independently with `rate`; when all 3 would drop, one is kept.
    expected = {0: (1 - rate) ** 3, 1: 3 * rate * (1 - rate) ** 2, 2: 3 * rate ** 2 * (1 - rate) + rate ** 3}
    for dropped, share in expected.items():
        assert abs((counts == dropped).mean() - share) < 0.025, (dropped, (counts == dropped).mean(), share)
    assert counts.max() == 2


def test_dropout_schedule_warms_up_then_ramps_to_the_rate():
    from avtfuse.training.config import TrainConfig

    train = TrainConfig(modality_dropout=0.6, dropout_warmup_epochs=2, dropout_ramp_epochs=3)
    rates = [train.modality_dropout_at(epoch) for epoch in range(7)]
    np.testing.assert_allclose(rates, [0, 0, 0.2, 0.4, 0.6, 0.6, 0.6])
    assert train.full_dropout_epoch == 4 and TrainConfig(modality_dropout=0.6).full_dropout_epoch == 0
    for epoch, rate in enumerate(rates[1:5], start=1):
        realised = dropped_counts(rate, seed=epoch, batches=60).mean() / 3  # share of present modalities dropped
        assert abs(realised - (rate - rate ** 3 / 3)) < 0.03, (epoch, realised, rate)
    with pytest.raises(ValueError, match="dropout_ramp_epochs"):
        TrainConfig(dropout_ramp_epochs=-1)


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


# ---------------------------------------------------------------- replicated modality dropout (SA-fusion)


def replicate(mode, modalities, size, seed=3, index=0, present=None):
    """A batch of `size` samples (labels = sample number, recording = "r<number>") through ReplicatedModalityDropout;
    returns (batch, outputs as NumPy, labels as NumPy)."""
    present = np.ones((size, len(modalities)), np.float32) if present is None else present
    batch = make_example(np.random.default_rng(0), modalities, present=present, batch=(size,))
    batch["recording"] = np.array([f"r{i}" for i in range(size)])
    inputs, labels = ReplicatedModalityDropout(mode, modalities, seed=seed)(
        tf.constant(index, tf.int64), (batch, tf.range(size)))
    return batch, {k: v.numpy() for k, v in inputs.items()}, labels.numpy()


def copies_of(out, labels, batch, modalities):
    """Sorts the replicated samples into their copies: {"all", "soft", "<m> zeroed" / "<m> noise": [(sample, row)]}."""
    kinds = {}
    for row, sample in enumerate(labels):
        assert out["recording"][row].decode() == f"r{sample}"  # other keys travel with their sample
        same = [np.array_equal(out[m][row], batch[m][sample]) for m in modalities]
        if all(same):
            kind = "all"
        elif out["present"][row].all():
            kind = "soft"
        else:
            (lost,) = np.flatnonzero(out["present"][row] == 0)
            kind = f"{modalities[lost]} dropped"
            assert all(same[i] for i in range(len(modalities)) if i != lost)
        kinds.setdefault(kind, []).append((sample, row))
    return kinds


def test_softhard_gives_4b_with_the_papers_copies():
    """M = 2: [A, V], [cA, (1 - c)V] with c in {0, 0.01, ..., 0.99}, [0, V], [A, 0]; labels repeated; shuffled."""
    modalities, size = ("audio", "visible"), 64
    batch, out, labels = replicate("softhard", modalities, size)
    assert labels.shape == (4 * size,) and out["audio"].shape == (4 * size, 5, 4)
    assert sorted(labels.tolist()) == sorted(list(range(size)) * 4)
    assert not np.array_equal(labels[:size], np.arange(size))  # shuffled
    kinds = copies_of(out, labels, batch, modalities)
    assert {k: len(v) for k, v in kinds.items()} == {"all": size, "soft": size, "audio dropped": size,
                                                      "visible dropped": size}
    for sample, row in kinds["audio dropped"]:
        np.testing.assert_array_equal(out["present"][row], [0, 1])
        assert not out["audio"][row].any()
    for sample, row in kinds["visible dropped"]:
        np.testing.assert_array_equal(out["present"][row], [1, 0])
        assert not out["visible"][row].any()
    weights = []
    for sample, row in kinds["soft"]:
        c = out["audio"][row] / batch["audio"][sample]
        v = out["visible"][row] / batch["visible"][sample]
        np.testing.assert_allclose(c, c.flat[0], rtol=1e-5)
        np.testing.assert_allclose(v, v.flat[0], rtol=1e-5, atol=1e-6)
        weights.append((c.flat[0], v.flat[0]))
    weights = np.array(weights)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(weights[:, 0] * 100, np.round(weights[:, 0] * 100), atol=1e-3)
    assert weights[:, 0].min() >= 0 and weights[:, 0].max() <= 0.99 + 1e-6
    assert len(np.unique(np.round(weights[:, 0], 2))) > size // 3  # a c per sample


def test_noise_replication_gives_3b_with_standard_normal_noise():
    modalities, size = ("audio", "visible"), 400
    batch, out, labels = replicate("noise", modalities, size)
    assert labels.shape == (3 * size,)
    kinds = copies_of(out, labels, batch, modalities)
    assert {k: len(v) for k, v in kinds.items()} == {"all": size, "audio dropped": size, "visible dropped": size}
    for modality, bits in (("audio", [0, 1]), ("visible", [1, 0])):
        rows = [row for _, row in kinds[f"{modality} dropped"]]
        assert (out["present"][rows] == bits).all()
        noise = out[modality][rows]
        assert noise.size > 3000 and abs(noise.mean()) < 0.05 and abs(noise.std() - 1.0) < 0.05
        assert noise.min() < 0  # the inputs were in [0.1, 1]: this is the noise


@pytest.mark.parametrize("mode, copies", [("softhard", 5), ("noise", 4)])
def test_three_modalities_replicate_into_2_plus_m_or_1_plus_m(mode, copies):
    size = 32
    batch, out, labels = replicate(mode, ALL, size)
    assert labels.shape == (copies * size,) and out["thermal"].shape == (copies * size, 3, 3, 1)
    kinds = copies_of(out, labels, batch, ALL)
    expected = {"all": size, **{f"{m} dropped": size for m in ALL}} | ({"soft": size} if mode == "softhard" else {})
    assert {k: len(v) for k, v in kinds.items()} == expected
    for sample, row in kinds.get("soft", []):
        weights = np.array([out[m][row].flat[0] / batch[m][sample].flat[0] for m in ALL])
        assert abs(weights.sum() - 1) < 1e-5 and np.allclose(weights * 100, np.round(weights * 100), atol=1e-3)


def test_soft_weights_cover_only_present_modalities():
    """Samples without thermal spread their convex weights over audio and visible: a + v = 1."""
    size = 64
    present = np.ones((size, 3), np.float32)
    present[:, 2] = 0
    batch, out, labels = replicate("softhard", ALL, size, present=present)
    ratio = {m: out[m].reshape(len(labels), -1)[:, 0] / batch[m].reshape(size, -1)[labels, 0]
             for m in ("audio", "visible")}
    soft = (out["present"].sum(axis=1) == 2) & (ratio["audio"] != 1) & (ratio["visible"] != 1)
    assert soft.sum() >= size - 3  # all soft copies but those with a weight of 0
    np.testing.assert_allclose(ratio["audio"][soft] + ratio["visible"][soft], 1.0, atol=1e-5)


def test_replication_is_a_function_of_seed_and_batch_index():
    first = replicate("softhard", ALL, 16, seed=1, index=4)[1:]
    again = replicate("softhard", ALL, 16, seed=1, index=4)[1:]
    for key in first[0]:
        np.testing.assert_array_equal(first[0][key], again[0][key])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], replicate("softhard", ALL, 16, seed=1, index=5)[2])
    assert not np.array_equal(first[1], replicate("softhard", ALL, 16, seed=2, index=4)[2])


def test_replication_in_a_dataset_and_bad_arguments():
    batch = make_example(np.random.default_rng(1), ("audio", "visible"), present=np.ones((4, 2)), batch=(4,))
    dataset = tf.data.Dataset.from_tensors((batch, np.arange(4))).repeat(2).enumerate().map(
        ReplicatedModalityDropout("noise", ("audio", "visible"), seed=0))
    assert [int(labels.shape[0]) for _, labels in dataset] == [12, 12]
    with pytest.raises(ValueError, match="--dropout softhard: .*two or more modalities.*only audio"):
        ReplicatedModalityDropout("softhard", ("audio",))
    with pytest.raises(ValueError, match="--dropout: replication mode must be one of"):
        ReplicatedModalityDropout("hard", ALL)


def test_noise_fill_is_keyed_by_recording_modality_and_seed():
    """Missing modalities get N(0, 1) noise that depends on the recording, modality and seed alone."""
    example = make_example(np.random.default_rng(2), present=[0, 1, 0])
    filled = fill_missing_with_noise(example, ALL, seed=7)
    np.testing.assert_array_equal(filled["visible"].numpy(), example["visible"])
    np.testing.assert_array_equal(filled["present"], [0, 1, 0])
    noise = filled["audio"].numpy()
    assert noise.min() < 0  # each modality draws noise of its own:
    assert not np.array_equal(noise.ravel()[:9], filled["thermal"].numpy().ravel())
    np.testing.assert_array_equal(fill_missing_with_noise(example, ALL, seed=7)["audio"].numpy(), noise)
    assert not np.array_equal(fill_missing_with_noise(example, ALL, seed=8)["audio"].numpy(), noise)
    other = dict(example, recording="rec-2")
    assert not np.array_equal(fill_missing_with_noise(other, ALL, seed=7)["audio"].numpy(), noise)
    big = {"audio": np.zeros((200, 100), np.float32), "present": np.zeros(1, np.float32), "recording": "r"}
    values = fill_missing_with_noise(big, ("audio",), seed=0)["audio"].numpy()
    assert abs(values.mean()) < 0.02 and abs(values.std() - 1) < 0.02
