"""Per-step masks (SYSTEMS.md 1.1, 1.2, 3.4): the keys, static rate masks, dynamic step dropout with its ramp."""

import math
import os

import numpy as np
import pytest
import tensorflow as tf

from pipelines import cache, step_masks
from pipelines.ablation import apply_presence
from pipelines.batching import BatchPolicy, training_batches
from pipelines.dataset import DataConfig, prepare
from pipelines.features import FeatureConfig
from pipelines.manifest import write_manifest
from pipelines.recording import Recording
from tests.pipelines.conftest import TINY
from pipelines.step_masks import (DynamicStepDropout, apply_static_rate, ramp_share, realised_missing_rate,
                                  static_step_missing, sync_missing, with_step_masks)

ALL = ("audio", "visible", "thermal")
# audio [T, D] features, a single visible frame, thermal frames [T, H, W, C].
SHAPES = {"audio": (6, 2), "visible": (3, 3, 3), "thermal": (4, 2, 2, 1)}


def example(steps=(4, 0, 4), present=(1, 1, 1), recording="rec-1", seed=0):
    rng = np.random.default_rng(seed)
    inputs = {m: rng.uniform(0.1, 1.0, SHAPES[m]).astype(np.float32) for m in ALL}
    inputs["audio"][steps[0]:] = 0.0  # padding, as the cache holds it
    inputs.update(present=np.asarray(present, np.float32), recording=recording)
    return inputs, np.asarray(steps, np.int64)


def check_contract(x, modalities=("audio", "thermal")):
    """`<m>` = `<m>_full` * (1 - `<m>_missing`), missing only on real steps (numpy, example or batch)."""
    for m in modalities:
        mask, missing = np.asarray(x[m + "_mask"]), np.asarray(x[m + "_missing"])
        assert ((missing == 0) | (missing == 1)).all() and (missing <= mask).all()
        if m + "_full" in x:
            keep = (1 - missing).reshape(missing.shape + (1,) * (np.ndim(x[m]) - missing.ndim))
            np.testing.assert_array_equal(np.asarray(x[m]), np.asarray(x[m + "_full"]) * keep)


# ---------------------------------------------------------------- keys of one example


def test_step_keys_of_sequences_only_with_padding_and_full():
    inputs, steps = example(present=(1, 1, 0))
    out = with_step_masks(inputs, steps, ALL, SHAPES, full=True)
    assert step_masks.sequence_modalities(ALL, SHAPES) == ("audio", "thermal")
    assert not {"visible_mask", "visible_missing", "visible_full"} & set(out)
    np.testing.assert_array_equal(out["audio_mask"], [1, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(out["audio_missing"], 0)
    np.testing.assert_array_equal(out["thermal_mask"], 1)
    np.testing.assert_array_equal(out["thermal_missing"], 1)  # absent: every step missing
    assert out["audio_mask"].dtype == tf.float32 and out["thermal_missing"].shape == (4,)
    np.testing.assert_array_equal(out["audio_full"], inputs["audio"])
    assert "audio_full" not in with_step_masks(inputs, steps, ALL, SHAPES)


@pytest.mark.parametrize("condition", [(1, 1, 1), (0, 1, 1), (1, 1, 0), (0, 1, 0)])
def test_whole_modality_absence_marks_every_real_step_missing(condition):
    inputs, steps = example()
    out = with_step_masks(inputs, steps, ALL, SHAPES, full=True)
    out = sync_missing(apply_presence(out, condition, ALL), ALL)
    out = {k: np.asarray(v) for k, v in out.items()}
    for bit, m in zip(condition, ALL):
        if m == "visible":
            continue
        expected = out[m + "_mask"] * (1 - bit)
        np.testing.assert_array_equal(out[m + "_missing"], expected)
        assert (out[m].any() if bit else not out[m].any())
    check_contract(out)


def test_an_unrecorded_modality_counts_t_missing_steps():
    """Recorded 0 (zeros in the cache, steps T): mask all ones, all missing, keys still there."""
    inputs, steps = example(present=(0, 1, 1))
    inputs["audio"][:] = 0.0
    out = with_step_masks(inputs, np.array([6, 0, 4]), ALL, SHAPES)
    out = sync_missing(apply_presence(out, [1, 1, 1], ALL), ALL)
    np.testing.assert_array_equal(out["audio_mask"], 1)
    np.testing.assert_array_equal(out["audio_missing"], 1)


# ---------------------------------------------------------------- static rate masks


def test_static_masks_are_keyed_and_respect_the_mask():
    mask = tf.constant([1.0] * 300 + [0.0] * 100)
    first = static_step_missing(tf.constant("r1"), 0, 0.3, 7, mask).numpy()
    np.testing.assert_array_equal(first, static_step_missing(tf.constant("r1"), 0, 0.3, 7, mask).numpy())
    assert not first[300:].any()  # padding never missing
    share = first[:300].mean()
    assert abs(share - 0.3) < 4 * math.sqrt(0.3 * 0.7 / 300)
    for other in [("r2", 0, 0.3, 7), ("r1", 1, 0.3, 7), ("r1", 0, 0.3, 8), ("r1", 0, 0.31, 7)]:
        assert not np.array_equal(first, static_step_missing(tf.constant(other[0]), *other[1:], mask).numpy())
    assert not static_step_missing(tf.constant("r1"), 0, 0.0, 7, mask).numpy().any()
    with pytest.raises(ValueError, match="rate"):
        static_step_missing(tf.constant("r1"), 0, 1.5, 7, mask)


def static_rows(order, batch_size, rate=0.4, seed=3):
    """apply_static_rate over 12 examples in `order`, batched by `batch_size`: {recording: (audio, missing...)}."""
    examples = []
    for i in order:
        inputs, steps = example(steps=(2 + i % 5, 0, 4), present=(1, 1, int(i % 4 != 0)), recording=f"r{i}", seed=i)
        out = with_step_masks(inputs, steps, ALL, SHAPES)
        examples.append({k: np.asarray(v) for k, v in out.items()})
    data = tf.data.Dataset.from_tensor_slices({k: np.stack([e[k] for e in examples]) for k in examples[0]})
    data = data.map(lambda x: apply_static_rate(x, ALL, rate, seed)).batch(batch_size)
    rows = {}
    for batch in data.as_numpy_iterator():
        for j, recording in enumerate(batch["recording"]):
            rows[recording.decode()] = {k: v[j] for k, v in batch.items() if k != "recording"}
    return rows


def test_a_single_frame_counts_as_one_step_of_the_static_masks():
    rows = static_rows(range(12), 4, rate=0.5)
    rows.update({f"{k}-b": v for k, v in static_rows(range(12, 200), 16, rate=0.5).items()})
    dropped = np.array([row["present"][1] == 0 for row in rows.values()])
    assert 0.4 < dropped.mean() < 0.6  # 200 draws of p = 0.5
    for row in rows.values():
        if row["present"][1] == 0:
            np.testing.assert_array_equal(row["visible"], 0)
        else:
            assert row["visible"].min() > 0
    batch = {k: np.stack([row[k] for row in rows.values()]) for k in ("present", "visible", "audio_mask",
                                                                     "audio_missing")}
    assert realised_missing_rate(batch, ("audio", "visible"))["visible"] == dropped.mean()
    assert all(row["present"][1] == 1 for row in static_rows(range(12), 4, rate=0.0).values())


def test_static_masks_are_the_same_whatever_the_batch_size_or_order():
    base = static_rows(range(12), 3)
    for other in (static_rows(range(12), 5), static_rows(range(11, -1, -1), 4), static_rows(range(12), 3)):
        assert other.keys() == base.keys()
        for recording, row in base.items():
            for key, value in row.items():
                np.testing.assert_array_equal(other[recording][key], value)
    lost = sum(row["audio_missing"].sum() for row in base.values())
    assert lost > 0
    for recording, row in base.items():
        np.testing.assert_array_equal(row["audio"], row["audio"] * (1 - row["audio_missing"])[:, None])
        assert (row["audio_missing"] <= row["audio_mask"]).all()  # padding never
        if row["present"][2] == 0:  # whole-modality absence kept as it was
            np.testing.assert_array_equal(row["thermal_missing"], row["thermal_mask"])
    for row in static_rows(range(12), 4, rate=0.0).values():  # rate 0: only absences
        np.testing.assert_array_equal(row["audio_missing"], 0)
        np.testing.assert_array_equal(row["thermal_missing"], row["thermal_mask"] * (1 - row["present"][2]))


# ---------------------------------------------------------------- dynamic step dropout


def batch_of(size, steps=40, seed=0, present=None):
    """A batch with the step keys and `<m>_full`: audio [size, steps, 3] with a quarter of it padding."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(steps // 2, steps + 1, size)
    mask = (np.arange(steps)[None, :] < lengths[:, None]).astype(np.float32)
    full = rng.uniform(0.1, 1.0, (size, steps, 3)).astype(np.float32) * mask[..., None]
    present = np.ones((size, 1), np.float32) if present is None else present
    missing = mask * (1 - present[:, :1])
    inputs = {"audio": full * (1 - missing)[..., None], "audio_full": full, "audio_mask": mask,
              "audio_missing": missing, "present": present}
    return {k: tf.constant(v) for k, v in inputs.items()}, tf.zeros([size], tf.int32)


def dropped(dropout, index, inputs):
    labels = tf.range(tf.shape(inputs["present"])[0])
    out, same = dropout(tf.constant(index, tf.int64), (inputs, labels))
    assert same is labels
    return {k: v.numpy() for k, v in out.items()}


def test_realised_rate_at_full_share_matches_the_binomial():
    inputs = batch_of(256)
    dropout = DynamicStepDropout(0.2, ramp_steps=0, steps_per_epoch=10, modalities=("audio",), seed=4)
    outs = [dropped(dropout, i, inputs[0]) for i in range(2)]
    real = sum(o["audio_mask"].sum() for o in outs)
    rate = realised_missing_rate(outs, ("audio",))["audio"]
    assert real > 12000 and abs(rate - 0.2) < 4 * math.sqrt(0.2 * 0.8 / real)
    for out in outs:
        check_contract(out, ("audio",))
    assert not np.array_equal(outs[0]["audio_missing"], outs[1]["audio_missing"])  # afresh each batch
    np.testing.assert_array_equal(dropped(dropout, 1, inputs[0])["audio_missing"], outs[1]["audio_missing"])


def test_the_ramp_goes_from_complete_samples_to_every_sample():
    inputs = batch_of(256, seed=1)[0]
    steps_per_epoch, ramp_epochs = 4, 2
    ramp = ramp_epochs * steps_per_epoch
    assert float(ramp_share(0, ramp)) == 0.0 and float(ramp_share(ramp, ramp)) == 1.0
    assert float(ramp_share(3 * ramp, ramp)) == 1.0 and float(ramp_share(0, 0)) == 1.0
    first = dropped(DynamicStepDropout(0.5, ramp, steps_per_epoch, epoch=0, modalities=("audio",)), 0, inputs)
    np.testing.assert_array_equal(first["audio_missing"], 0)  # share 0 at step 0: complete samples
    np.testing.assert_array_equal(first["audio"], first["audio_full"])
    for epoch, index in [(0, 2), (1, 0), (1, 3), (2, 0), (3, 1)]:
        dropout = DynamicStepDropout(0.5, ramp, steps_per_epoch, epoch=epoch, modalities=("audio",))
        share = min(1.0, (epoch * steps_per_epoch + index) / ramp)
        assert float(dropout.share(index)) == pytest.approx(share)
        out = dropped(dropout, index, inputs)
        check_contract(out, ("audio",))
        chosen = out["audio_missing"].any(axis=1)  # a chosen sample of >= 20 steps loses one (1 - 2**-20)
        assert abs(chosen.mean() - share) < 4 * math.sqrt(share * (1 - share) / 256) + 1e-6
        real = out["audio_mask"][chosen].sum()
        if share:
            rate = out["audio_missing"][chosen].sum() / real
            assert abs(rate - 0.5) < 4 * math.sqrt(0.25 / real)


def test_dropout_keeps_absences_and_never_marks_padding():
    present = np.array([[0.0], [1.0]] * 64, np.float32)
    inputs = batch_of(128, present=present, seed=2)[0]
    out = dropped(DynamicStepDropout(0.9, modalities=("audio",), seed=1), 5, inputs)
    absent = present[:, 0] == 0
    np.testing.assert_array_equal(out["audio_missing"][absent], out["audio_mask"][absent])
    assert not (out["audio_missing"] * (1 - out["audio_mask"])).any()
    check_contract(out, ("audio",))
    rates = realised_missing_rate([(out, None)], ("audio",), present_only=True)
    assert 0.85 < rates["audio"] < 0.95
    assert realised_missing_rate(out, ("audio",))["audio"] > rates["audio"]


def test_dropout_rejects_bad_arguments():
    with pytest.raises(ValueError, match="rate"):
        DynamicStepDropout(1.2)
    with pytest.raises(ValueError, match="ramp_steps"):
        DynamicStepDropout(0.2, ramp_steps=-1)


# ---------------------------------------------------------------- SplitData

@pytest.fixture(scope="module")
def tree_data(tree, tmp_path_factory):
    return prepare(DataConfig(source=tree, features=TINY, cache_dir=str(tmp_path_factory.mktemp("cache"))))


@pytest.fixture(scope="module")
def feature_data(tmp_path_factory):
    """.npy features: audio [T, 4] with T = 2..6 (padded to 6), visible [3]; 18 recordings of 3 people."""
    root = tmp_path_factory.mktemp("npy")
    rng = np.random.default_rng(0)
    recordings, lengths = [], {}
    for i in range(3):
        for g in range(3):
            for k in range(2):
                name = f"p{i}_g{g}_{k}"
                lengths[name] = 2 + (i + g + k) % 5
                audio, visible = root / f"{name}_a.npy", root / f"{name}_v.npy"
                np.save(audio, rng.normal(size=(lengths[name], 4)))
                np.save(visible, rng.normal(size=3))
                recordings.append(Recording(name, f"p{i}", audio=str(audio), visible=str(visible),
                                            group=f"p{i}_g{g}"))
    csv = write_manifest(recordings, str(root / "m.csv"))
    return prepare(DataConfig(source=csv, modalities=("audio", "visible"), cache_dir=str(root / "cache"))), lengths


def test_feature_sequences_have_masks_of_their_real_length(feature_data):
    data, lengths = feature_data
    assert data.shapes == {"audio": (6, 4), "visible": (3,)} and data.sequence_modalities == ("audio",)
    seen = 0
    for split in ("train", "test"):
        for inputs, _ in data.samples(split, full=True):
            x = {k: v.numpy() for k, v in inputs.items()}
            length = lengths[x["recording"].decode()]
            np.testing.assert_array_equal(x["audio_mask"], np.arange(6) < length)
            np.testing.assert_array_equal(x["audio_missing"], x["audio_mask"] * (1 - x["present"][0]))
            assert "visible_mask" not in x and x["audio_full"][:length].any()
            check_contract(x, ("audio",))
            seen += 1
    assert seen == data.count("train") + data.count("test")
    inputs, _ = next(iter(data.samples("valid")))
    assert "audio_full" not in inputs


def test_evaluation_batches_take_the_static_rate(tree_data):
    data = tree_data
    assert data.sequence_modalities == ("audio",)  # log-mel [T, n_mels]; single frames have no step keys

    def rows(batch_size, rate):
        batches = list(data.batches("test", batch_size, missing_rate=rate))
        assert all("audio_full" not in x and "visible_mask" not in x for x, _ in batches)
        return {k: np.concatenate([x[k].numpy() for x, _ in batches])
                for k in ("audio", "audio_mask", "audio_missing", "present", "recording")}

    small, large = rows(3, 0.3), rows(8, 0.3)
    for key in small:
        np.testing.assert_array_equal(small[key], large[key])
    np.testing.assert_array_equal(small["audio_mask"], 1)
    present = small["present"][:, 0] == 1
    realised = small["audio_missing"][present].mean()
    assert 0.2 < realised < 0.4
    np.testing.assert_array_equal(small["audio_missing"][~present], 1)
    np.testing.assert_array_equal(small["audio"], small["audio"] * (1 - small["audio_missing"])[..., None])
    plain = rows(8, 0.0)
    np.testing.assert_array_equal(plain["audio_missing"], 1 - plain["present"][:, :1] * np.ones_like(
        plain["audio_mask"]))
    unmasked = next(iter(data.batches("test", 8)))[0]
    np.testing.assert_array_equal(unmasked["audio"].numpy(), plain["audio"][:8])
    with pytest.raises(ValueError, match="missing_rate"):
        data.batches("test", 8, missing_rate=1.5)


def test_training_batches_with_step_dropout(tree_data):
    data = tree_data

    def epoch(number, **kwargs):
        batches, steps = training_batches(data, number, BatchPolicy(4, seed=1, step_dropout=0.3, **kwargs))
        return [{k: v.numpy() for k, v in x.items()} for x, _ in batches], steps

    ramped, steps = epoch(0, ramp_epochs=1)
    np.testing.assert_array_equal(ramped[0]["audio_missing"], 1 - ramped[0]["present"][:, :1] * np.ones((4, 17)))
    np.testing.assert_array_equal(ramped[0]["audio_full"] * (1 - ramped[0]["audio_missing"])[..., None],
                                  ramped[0]["audio"])
    full, _ = epoch(0)
    again, _ = epoch(0)
    for a, b in zip(full, again):
        np.testing.assert_array_equal(a["audio_missing"], b["audio_missing"])
    rates = realised_missing_rate(full, data.modalities, present_only=True)
    assert 0.2 < rates["audio"] < 0.4 and set(rates) == {"audio"}
    for x in full + ramped:
        check_contract(x, ("audio",))
        assert "visible_full" not in x
    plain, _ = training_batches(data, 0, BatchPolicy(4, seed=1))
    assert all("audio_full" not in x for x, _ in plain)
    # After a modality dropout the missing steps follow the present bits.
    dropped, _ = epoch(1, dropout_rate=0.5)
    absent = np.concatenate([x["present"][:, 0] == 0 for x in dropped])
    missing = np.concatenate([x["audio_missing"] for x in dropped])
    assert absent.any() and (missing[absent] == 1).all()
    for x in dropped:
        check_contract(x, ("audio",))
    with pytest.raises(ValueError, match="^step_dropout: choose"):
        training_batches(data, 0, BatchPolicy(4, seed=1, step_dropout=0.2, replication="noise"))
    with pytest.raises(ValueError, match="^step_dropout: expected"):
        training_batches(data, 0, BatchPolicy(4, seed=1, step_dropout=-0.1))
    with pytest.raises(ValueError, match="^ramp_epochs: expected"):
        training_batches(data, 0, BatchPolicy(4, seed=1, step_dropout=0.2, ramp_epochs=-1))


def test_replicated_batches_keep_missing_in_step(tree_data):
    batches, _ = training_batches(tree_data, 0, BatchPolicy(4, seed=2, replication="softhard"))
    for x, _ in batches:
        absent = x["present"].numpy()[:, 0] == 0
        assert absent.any() and (x["audio_missing"].numpy()[absent] == 1).all()
        assert not x["audio_missing"].numpy()[~absent].any()


def test_frame_sequences_get_all_ones_masks(tree, tmp_path):
    root = tree
    data = prepare(DataConfig(source=root, features=TINY.replace(frames=2), modalities=("audio", "visible"),
                              cache_dir=str(tmp_path / "cache")))
    assert data.shapes["visible"] == (2, 16, 16, 3) and data.sequence_modalities == ("audio", "visible")
    for inputs, _ in data.samples("test"):
        np.testing.assert_array_equal(inputs["visible_mask"].numpy(), [1, 1])
        np.testing.assert_array_equal(inputs["visible_missing"].numpy(), 1 - inputs["present"].numpy()[1])
    assert os.path.basename(data.cache_path).endswith(f"-v{cache.FORMAT_VERSION}")
