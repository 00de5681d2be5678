"""The assembled pipeline on tiny data: counts, contract, protocols, cache, bad input, reference arrays."""

import dataclasses
import itertools
import logging
import os
import pathlib
import shutil

import cv2
import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from pipelines import cache, features, image
from pipelines.augmentation import augmentation_kinds
from pipelines.batching import BatchPolicy, epoch_steps, training_batches
from pipelines.synthetic import ravdess as synthetic_ravdess
from pipelines.dataset import DataConfig, prepare
from pipelines.split_data import SPLIT_IDS
from pipelines.errors import DataError, InputErrors
from pipelines.features import FeatureConfig
from pipelines.manifest import write_manifest
from pipelines.recording import Recording
from pipelines.splits import PAPER_TEST_FRACTION, SplitError
from pipelines.synthetic.speakingfaces import write_speakingfaces
from tests.pipelines.conftest import TINY

N_TREE = 3 * 3 * 2  # recordings of the tree: 3 people x 3 trials (groups) x 2 commands


def config(tree, tmp_path, **kwargs):
    return DataConfig(source=tree, features=TINY, cache_dir=str(tmp_path / "cache"), **kwargs)


def collect(data, split):
    rows = []
    for inputs, label in data.samples(split):
        rows.append({k: v.numpy() for k, v in inputs.items()} | {"label": int(label)})
    return rows


def ablated(rows):
    """Rows of the paper's ablation (at most one modality missing)."""
    return [r for r in rows if r["present"].sum() >= 2]


def test_paper_protocol_counts_and_contract(tree, tmp_path):
    data = prepare(config(tree, tmp_path))
    n_recordings = N_TREE
    assert data.num_people == 3 and data.class_names == ["1", "2", "3"]
    assert data.modalities == ("audio", "visible", "thermal") and data.shapes == TINY.shapes(data.modalities)
    train, test, valid = collect(data, "train"), collect(data, "test"), collect(data, "valid")
    assert len(train) == data.count("train") and len(test) == data.count("test")
    assert len(valid) == data.count("valid") == round((4 * n_recordings) * 0.1)
    assert len(ablated(test)) == round(4 * n_recordings * PAPER_TEST_FRACTION)
    assert len(ablated(train)) == len(train) and len(ablated(valid)) == len(valid)
    assert len(train) + len(ablated(test)) + len(valid) == 4 * n_recordings
    # Single-modality copies are evaluation-only: three per recording with a test sample.
    tested = {r["recording"] for r in ablated(test)}
    singles = [r for r in test if r["present"].sum() == 1]
    assert len(singles) == 3 * len(tested) and {r["recording"] for r in singles} == tested
    rows = train + test + valid
    shapes = TINY.shapes(data.config.modalities)
    for row in rows:
        for m, shape in shapes.items():
            assert row[m].shape == shape and row[m].dtype == np.float32
        present = row["present"]
        assert present.shape == (3,) and present.sum() >= 1
        for bit, m in zip(present, ("audio", "visible", "thermal")):
            assert (bit == 0) == (not row[m].any())
    conditions = {tuple(r["present"]) for r in rows}
    assert conditions == {(1, 1, 1), (0, 1, 1), (1, 0, 1), (1, 1, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)}


def test_features_are_the_decoded_files(tree, tmp_path):
    data = prepare(config(tree, tmp_path, modalities=("visible",)))
    from pipelines.speakingfaces import read_speakingfaces

    by_id = {r.recording: r for r in read_speakingfaces(tree, modalities=("visible",))}
    for row in collect(data, "train")[:3]:
        expected = image.load_visible(by_id[row["recording"].decode()].visible, TINY.image_size)
        np.testing.assert_allclose(row["visible"], expected, atol=1e-6)


def test_strict_protocol_keeps_recordings_apart(tree, tmp_path):
    data = prepare(config(tree, tmp_path, protocol="strict", test_fraction=0.3))
    train = {r["recording"] for r in collect(data, "train")}
    test = {r["recording"] for r in collect(data, "test")}
    valid = {r["recording"] for r in collect(data, "valid")}
    assert train and test and valid and not train & test and not train & valid and not test & valid
    # Each person: one trial (two recordings) per side.
    assert len(train) == len(test) == len(valid) == 6
    assert data.count("train") + data.count("test") + data.count("valid") == \
        4 * len(train) + 7 * len(test) + 4 * len(valid)
    # A group (subject_trial_position) stays on one side.
    side = {}
    for split, ids in (("train", train), ("test", test), ("valid", valid)):
        for recording in ids:
            group = recording.decode().rsplit("_", 1)[0]
            assert side.setdefault(group, split) == split


def test_cache_is_reused_and_keyed_by_settings(tree, tmp_path, monkeypatch):
    first = prepare(config(tree, tmp_path))
    monkeypatch.setattr(features, "decode_recording", lambda *a, **k: pytest.fail("decoded again"))
    again = prepare(config(tree, tmp_path))
    assert again.cache_path == first.cache_path and again.content_hash == first.content_hash
    monkeypatch.undo()
    other = prepare(DataConfig(source=tree, features=TINY.replace(n_mels=8), cache_dir=str(tmp_path / "cache")))
    assert other.cache_path != first.cache_path
    assert collect(other, "train")[0]["audio"].shape == (17, 8)


def test_batches(tree, tmp_path):
    data = prepare(config(tree, tmp_path))
    batches, steps = training_batches(data, 0, BatchPolicy(8, seed=1))
    batches = list(batches)
    assert all(x["audio"].shape[0] == 8 for x, _ in batches)
    assert len(batches) == steps == data.count("train") // 8 == epoch_steps(data, BatchPolicy(8, seed=1))
    with pytest.raises(ValueError, match="batch_size: 10000 exceeds"):
        epoch_steps(data, BatchPolicy(10000, seed=1))
    test = list(data.batches("test", 8))
    assert sum(int(y.shape[0]) for _, y in test) == data.count("test")


def test_training_batches_are_a_function_of_seed_and_epoch(tree, tmp_path):
    data = prepare(config(tree, tmp_path))

    def recordings(epoch, seed=1, **kwargs):
        batches, _ = training_batches(data, epoch, BatchPolicy(4, seed=seed, **kwargs))
        return [x["recording"].numpy().tolist() + x["present"].numpy().ravel().tolist() for x, _ in batches]

    assert recordings(2) == recordings(2)
    assert recordings(2) != recordings(3) and recordings(2) != recordings(2, seed=2)
    dropped = recordings(1, dropout_rate=0.5)
    assert dropped == recordings(1, dropout_rate=0.5) != recordings(1)

    def audio(epoch, **kwargs):
        return np.concatenate([x["audio"].numpy() for x, _ in training_batches(
            data, epoch, BatchPolicy(4, seed=1, **kwargs))[0]])

    masked, plain = audio(2, spec_augment=3), audio(2)
    tf.random.uniform([3])  # the global random state moves between the two: a resumed run's masks are the same
    np.testing.assert_array_equal(masked, audio(2, spec_augment=3))
    assert not np.array_equal(masked, plain)

    assert augmentation_kinds(data) == {"audio": "log_mel", "visible": "frames", "thermal": "frames"}

    def frames(epoch, **kwargs):
        return np.concatenate([x["thermal"].numpy() for x, _ in training_batches(
            data, epoch, BatchPolicy(4, seed=1, **kwargs))[0]])

    augmented = frames(2, augment=0.5)
    np.testing.assert_array_equal(augmented, frames(2, augment=0.5))  # a resumed epoch: the same samples
    assert not np.array_equal(augmented, frames(2))
    assert not np.array_equal(audio(2, augment=0.5), plain)

    batches = list(training_batches(data, 2, BatchPolicy(4, seed=1, corrupt_train=1.0))[0])
    corrupted = np.concatenate([x["audio"].numpy() for x, _ in batches])
    np.testing.assert_array_equal(corrupted, audio(2, corrupt_train=1.0))  # a resumed epoch: the same corruptions
    assert not np.array_equal(corrupted, plain)
    trained = {str(data.recordings[row]) for row in data.training_samples()[0]}  # babble's partners: batch samples
    assert {recording.decode() for x, _ in batches for recording in x["recording"].numpy()} <= trained


def corrupt_copy(tree, tmp_path):
    root = tmp_path / "bad"
    shutil.copytree(tree, root)
    wav = next(p for p in root.rglob("*.wav"))
    wav.write_bytes(wav.read_bytes()[:60])
    return str(root), wav


def test_corrupt_wav_names_the_file(tree, tmp_path):
    root, wav = corrupt_copy(tree, tmp_path)
    with pytest.raises(InputErrors, match=wav.name) as info:
        prepare(config(root, tmp_path))
    assert [e.path for e in info.value.errors] == [str(wav)]


def test_corrupt_wav_is_skipped_and_counted(tree, tmp_path):
    root, _ = corrupt_copy(tree, tmp_path)
    data = prepare(config(root, tmp_path, on_error="skip"))
    assert data.skipped == 1
    assert data.assignment.shape[0] == N_TREE - 1 == len(data.recordings)


def test_manifest_with_unrecorded_modality(tmp_path):
    root = tmp_path / "sf"
    written = write_speakingfaces(root, subjects=(1, 2), trials=(1, 2), positions=(1,), commands=(1, 2),
                                  image_size=16, audio_seconds=0.5, frames_per_recording=1)
    recordings = [Recording(f"r{i}", str(w.subject), w.audio, w.visible[0], None if i == 0 else w.thermal[0])
                  for i, w in enumerate(written)]
    csv = tmp_path / "manifest.csv"
    write_manifest(recordings, str(csv))
    data = prepare(DataConfig(source=str(csv), features=TINY, cache_dir=str(tmp_path / "cache"),
                              protocol="strict", test_fraction=0.5))
    rows = collect(data, "train") + collect(data, "test")
    # r0 has no thermal: its "missing thermal" copy would repeat its complete one, and each
    # single-modality copy would repeat a copy or hold nothing, so r0 keeps three samples.
    r0 = [r for r in rows if r["recording"] == b"r0"]
    assert len(r0) == 3
    assert len({tuple(r["present"]) for r in r0}) == 3
    assert all(r["present"][2] == 0 and not r["thermal"].any() for r in r0)


def test_person_with_one_recording_under_strict(tmp_path):
    root = tmp_path / "sf"
    written = write_speakingfaces(root, subjects=(1, 2), trials=(1,), positions=(1,), commands=(1, 2),
                                  image_size=16, audio_seconds=0.5, frames_per_recording=1)
    recordings = [Recording(f"r{i}", str(w.subject), w.audio, w.visible[0], w.thermal[0])
                  for i, w in enumerate(written[:3])]
    csv = tmp_path / "manifest.csv"
    write_manifest(recordings, str(csv))
    data = prepare(DataConfig(source=str(csv), features=TINY, cache_dir=str(tmp_path / "cache"), protocol="strict",
                              validation_fraction=0.0))
    assert data.people_left_out_of_test() == ["2"]  # one recording: it trains, nothing to test it on
    assert set(data.assignment[data.recordings.index("r2")].tolist()) <= {-1, SPLIT_IDS["train"]}


def test_missing_source_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        prepare(DataConfig(source=str(tmp_path / "nowhere"), features=TINY, cache_dir=str(tmp_path)))


def test_bad_protocol_is_named():
    with pytest.raises(ValueError, match="protocol"):
        DataConfig(protocol="leaky")


@pytest.mark.parametrize("kwargs, message", [
    ({"protocol": "folds"}, r"DataConfig.label: expected 'emotion' under --protocol folds .*got 'actor'"),
    ({"fold": 6}, r"DataConfig.fold: expected a fold in 1..5"),
    ({"fold": 0}, r"DataConfig.fold: expected an integer >= 1"),
    ({"missing_fill": "ones"}, r"DataConfig.missing_fill: expected one of \['zeros', 'noise'\]"),
    ({"synthetic": "mosei"}, r"DataConfig.synthetic: expected one of \['speakingfaces', 'ravdess'\]"),
    ({"synthetic": "ravdess", "synthetic_subjects": 25}, r"synthetic_subjects: expected 1..24 actors"),
])
def test_bad_data_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataConfig(**kwargs)


def test_complete_ablation_trains_on_complete_samples_only(tree, tmp_path):
    """Training and validation see complete samples; every other subset is an evaluation-only test copy."""
    data = prepare(config(tree, tmp_path, ablation="complete", protocol="strict", test_fraction=0.3))
    assert data.conditions[0].tolist() == [1, 1, 1] and len(data.conditions) == 7
    train, valid, test = collect(data, "train"), collect(data, "valid"), collect(data, "test")
    assert len(train) == 6 and all(r["present"].all() for r in train + valid)
    assert len(test) == 7 * 6 and len({tuple(r["present"]) for r in test}) == 7


def test_replicated_training_batches(tree, tmp_path):
    """softhard: (2 + 3)·B samples a batch, noise: (1 + 3)·B; steps as without; a function of (seed, epoch)."""
    data = prepare(config(tree, tmp_path))
    plain, steps = training_batches(data, 0, BatchPolicy(4, seed=1))
    replicated = {}
    for replication, copies in (("softhard", 5), ("noise", 4)):
        batches, replicated_steps = training_batches(data, 0, BatchPolicy(4, seed=1, replication=replication))
        batches = replicated[replication] = [(x, y.numpy()) for x, y in batches]
        assert replicated_steps == steps == len(batches) == data.count("train") // 4
        assert all(y.shape == (4 * copies,) and x["audio"].shape[0] == 4 * copies for x, y in batches)
        again = [y.numpy() for _, y in
                 training_batches(data, 0, BatchPolicy(4, seed=1, replication=replication))[0]]
        assert all(np.array_equal(a, y) for a, (_, y) in zip(again, batches))
    for (x, y), (px, py) in zip(replicated["noise"], plain):  # copies of the plain batch's samples
        assert sorted(y.tolist()) == sorted(py.numpy().tolist() * 4)
        assert sorted(x["recording"].numpy().tolist()) == sorted(px["recording"].numpy().tolist() * 4)
    with pytest.raises(ValueError, match="replication: choose"):
        training_batches(data, 0, BatchPolicy(4, seed=1, replication="noise", dropout_rate=0.2))


def test_noise_fill_is_the_same_whatever_the_batch_size(tree, tmp_path):
    """missing_fill="noise": missing modalities hold N(0, 1) noise keyed by recording, not by batching."""
    zeros = prepare(config(tree, tmp_path))
    noisy = prepare(config(tree, tmp_path, missing_fill="noise"))

    def rows(data, batch_size):
        batches = list(data.batches("test", batch_size))
        return {m: np.concatenate([x[m].numpy() for x, _ in batches]) for m in ("audio", "present", "recording")}

    small, large, plain = rows(noisy, 3), rows(noisy, 8), rows(zeros, 8)
    for key in small:
        np.testing.assert_array_equal(small[key], large[key])
    np.testing.assert_array_equal(small["present"], plain["present"])
    missing = small["present"][:, 0] == 0
    assert missing.any() and (small["audio"][missing] < 0).any() and not plain["audio"][missing].any()
    np.testing.assert_array_equal(small["audio"][~missing], plain["audio"][~missing])


def test_synthetic_ravdess_is_the_default_source_and_folds_by_actor(tmp_path, monkeypatch, caplog):
    """synthetic="ravdess": written once under cache_dir (a smaller tree here: the default takes ~20 s an actor),
    read with thermal videos; --protocol folds splits by actor, the class being the emotion."""
    calls = []

    def small_write(root, **kwargs):
        calls.append(kwargs)
        return original(root, **kwargs, emotions=("neutral", "happy"), intensities=(1,), statements=(1, 2),
                        repetitions=(1,), video_frames=2, fps=2, image_size=16, sample_rate=16000)

    original = synthetic_ravdess.write_ravdess
    monkeypatch.setattr(synthetic_ravdess, "write_ravdess", small_write)
    settings = {"synthetic": "ravdess", "synthetic_subjects": 6, "label": "emotion", "protocol": "folds", "fold": 2,
                "features": TINY.replace(thermal_palette="auto"), "cache_dir": str(tmp_path / "cache"), "seed": 3}
    cfg = DataConfig(**settings)
    assert cfg.features.thermal_palette == "auto"  # chosen from the thermal videos' frames when the cache is keyed
    with caplog.at_level(logging.INFO, logger="pipelines.splits"), \
            caplog.at_level(logging.INFO, logger="pipelines.palette_choice"):
        data = prepare(cfg)
    assert f"thermal palette: {synthetic_ravdess.THERMAL_PALETTE}, chosen from 16 sampled frames" in caplog.text
    assert calls == [{"actors": range(1, 7), "seed": 3, "thermal": True,
                      "natural_missing": {"audio": 0.0, "visible": 0.0, "thermal": 0.0}}]
    [folder] = [name for name in os.listdir(tmp_path / "cache") if name.startswith("synthetic")]
    assert folder == f"synthetic-ravdess-6-seed3-{synthetic_ravdess.generator_fingerprint()}"
    assert data.modalities == ("audio", "visible", "thermal") and data.class_names == ["happy", "neutral"]
    actors = {split: {int(r["recording"].decode()[-2:]) for r in collect(data, split)}
              for split in ("train", "valid", "test")}
    assert actors == {"test": {2}, "valid": {3}, "train": {1, 4, 5, 6}}
    assert "fold 2 of 5: test subjects 2; valid 3; train 1,4,5,6" in caplog.text
    monkeypatch.setattr(synthetic_ravdess, "write_ravdess", lambda *a, **k: pytest.fail("written again"))
    assert prepare(DataConfig(**settings)).cache_path == data.cache_path


def test_pk_batches_take_modality_dropout(tree, tmp_path):
    data = prepare(config(tree, tmp_path))
    plain, steps = training_batches(data, 0, BatchPolicy(4, seed=5, sampler="pk", people_per_batch=2))
    dropped, _ = training_batches(data, 0, BatchPolicy(4, seed=5, sampler="pk", people_per_batch=2,
                                                       dropout_rate=0.6))
    plain, dropped = list(plain), list(dropped)
    assert len(plain) == len(dropped) == steps
    before = sum(float(x["present"].numpy().sum()) for x, _ in plain)
    after = sum(float(x["present"].numpy().sum()) for x, _ in dropped)
    assert after < before
    for x, y in dropped:
        assert len(set(y.numpy().tolist())) == 2  # still P x K: two people per batch


def test_pk_batches_read_the_cache_on_disk(tree, tmp_path):
    """P x K batches hold the very samples of `samples("train")`, read from the cache for each batch."""
    data = prepare(config(tree, tmp_path))
    by_key = {(row["recording"], tuple(row["present"])): row for row in collect(data, "train")}
    batches, steps = training_batches(data, 1, BatchPolicy(6, seed=2, sampler="pk", people_per_batch=3))
    seen = 0
    for inputs, labels in batches:
        for i in range(6):
            row = by_key[(inputs["recording"][i].numpy(), tuple(inputs["present"][i].numpy()))]
            assert int(labels[i]) == row["label"]
            for key in ("audio", "visible", "thermal"):
                np.testing.assert_array_equal(inputs[key][i].numpy(), row[key])
            seen += 1
    assert seen == 6 * steps and steps == epoch_steps(data, BatchPolicy(6, seed=2, sampler="pk", people_per_batch=3))
    again, _ = training_batches(data, 1, BatchPolicy(6, seed=2, sampler="pk", people_per_batch=3))
    shutil.rmtree(data.cache_path)  # nothing of the split is held in memory: a new pass reads the shards again
    with pytest.raises(tf.errors.OpError, match="shard-00"):
        next(iter(again))


def test_random_batches_read_one_batch_of_the_split_at_a_time(tree, tmp_path, monkeypatch):
    """The random sampler reads each batch's recordings by their offsets (at most batch-size recordings per
    read, all of the training split) in the order of a NumPy permutation of the training samples' ids."""
    data = prepare(config(tree, tmp_path, protocol="strict"))  # test and validation recordings of their own
    reads, read_records = [], cache.read_records
    monkeypatch.setattr(cache, "read_records", lambda files, records, indices: reads.append(list(indices))
                        or read_records(files, records, indices))
    rows, columns, _ = data.training_samples()
    training = set(rows.tolist())
    assert len(training) < len(data.recordings)
    for epoch in (0, 3):
        reads.clear()
        batches, steps = training_batches(data, epoch, BatchPolicy(4, seed=7))
        seen = [(x["recording"].numpy()[i].decode(), tuple(x["present"].numpy()[i]))
                for x, _ in batches for i in range(4)]
        order = np.random.default_rng(7 * 100_003 + epoch).permutation(len(rows))[:4 * steps]
        expected = [(data.recordings[rows[i]], tuple(data.recorded[rows[i]] * data.conditions[columns[i]]))
                    for i in order]
        assert seen == expected and steps == len(rows) // 4
        assert len(reads) == steps and all(len(read) <= 4 for read in reads)
        assert set().union(*reads) <= training


def test_paper_shapes():
    assert FeatureConfig.paper().shapes(("audio", "visible", "thermal")) == {
        "audio": (589, 128), "visible": (224, 224, 3), "thermal": (224, 224, 1)}


def test_training_batches_with_modality_dropout(tree, tmp_path):
    data = prepare(config(tree, tmp_path))
    batches = list(training_batches(data, 0, BatchPolicy(8, seed=3, dropout_rate=0.5))[0])
    present = np.concatenate([x["present"].numpy() for x, _ in batches])
    plain = np.concatenate([x["present"].numpy()
                            for x, _ in training_batches(data, 0, BatchPolicy(8, seed=3))[0]])
    assert present.sum() < plain.sum() - 5  # some present modalities were dropped
    assert (present.sum(axis=1) >= 1).all()  # never all of a sample
    for x, _ in batches:
        for index, m in enumerate(("audio", "visible", "thermal")):
            dropped = x["present"].numpy()[:, index] == 0
            assert not x[m].numpy()[dropped].any()


# ================================================================ real recordings in: hand-made manifests

# 8 kHz audio cut to 2048 samples (17 x 8 log-mel); 12 x 12 pngs resized to 8 x 8; grey thermal frames.
MEDIA = FeatureConfig(sample_rate=8000, audio_samples=2048, n_mels=8, n_fft=256, hop_length=128,
                      image_size=(8, 8), thermal_palette="grey")


SMALL_FRAMES = MEDIA.replace(max_image_pixels=12 * 12)  # the 12 x 12 pngs pass, a 16 x 16 one is too big


def write_wav(path, seconds=0.3, seed=0, subtype="PCM_16", rate=8000):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * (150 + 30 * seed) * t) + 0.05 * rng.normal(size=t.size)
    sf.write(str(path), wave.astype(np.float32), rate, subtype=subtype)
    return str(path)


def write_png(path, channels=3, size=12, seed=0):
    rng = np.random.default_rng(seed)
    cv2.imwrite(str(path), rng.integers(0, 256, (size, size, channels)[:3 if channels > 1 else 2], dtype=np.uint8))
    return str(path)


def media_recordings(folder, people=3, per_person=3, modalities=("audio", "visible", "thermal")):
    """Recordings p{i}_{j} of person p{i}, each with its own wav / colour png / grey png."""
    os.makedirs(folder, exist_ok=True)
    recordings = []
    for i in range(people):
        for j in range(per_person):
            name, seed = f"p{i}_{j}", 10 * i + j
            files = {}
            if "audio" in modalities:
                files["audio"] = write_wav(os.path.join(folder, f"{name}.wav"), seed=seed)
            if "visible" in modalities:
                files["visible"] = write_png(os.path.join(folder, f"{name}_v.png"), 3, seed=seed)
            if "thermal" in modalities:
                files["thermal"] = write_png(os.path.join(folder, f"{name}_t.png"), 1, seed=seed)
            recordings.append(Recording(name, f"p{i}", **files))
    return recordings


def media_config(source, tmp_path, features=MEDIA, **kwargs):
    return DataConfig(source=str(source), features=features, cache_dir=str(tmp_path / "cache"), **kwargs)


def finished_caches(cache_dir):
    if not os.path.isdir(cache_dir):
        return []
    return [name for name in os.listdir(cache_dir) if name.startswith("features-")]


def bad_manifest(tmp_path):
    """A manifest of 9 good recordings and one of each kind of bad row; returns (csv, good ids, expected paths)."""
    media = tmp_path / "media"
    good = media_recordings(str(media))
    csv = tmp_path / "manifest.csv"
    write_manifest(good, str(csv))
    empty = media / "empty.wav"
    empty.write_bytes(b"")
    truncated = media / "truncated.wav"
    truncated.write_bytes(pathlib.Path(write_wav(media / "whole.wav", seconds=0.5)).read_bytes()[:1000])
    nan = media / "nan.wav"
    sf.write(str(nan), np.array([0.1, np.nan, 0.2] * 500, np.float32), 8000, subtype="FLOAT")
    big = write_png(media / "big.png", 3, size=16)  # above the lowered pixel limit of SMALL_FRAMES
    corrupt = media / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)) + b"IEND\xaeB`\x82")
    shared = good[0].audio
    lines = [
        "p0,bad_missing,media/gone.wav,,",  # line 11
        "p0,bad_suffix,media/notes.txt,,",  # line 12
        "p1,p1_0,media/p1_1.wav,,",  # line 13: a recording id already used
        "p1,bad_fields,media/p1_1.wav",  # line 14
        "p1,bad_empty,media/empty.wav,,",
        "p1,bad_truncated,media/truncated.wav,,",
        "p2,bad_nan,media/nan.wav,,",
        "p2,bad_big,,media/big.png,",
        "p2,bad_corrupt,,,media/corrupt.png",
        f"p2,bad_shared,{shared},,",  # the audio file of p0_0
    ]
    with open(csv, "a") as f:
        f.write("\n".join(lines) + "\n")
    expected = {
        f"{csv}, line 11": "does not exist", f"{csv}, line 12": "must end with",
        f"{csv}, line 13": "duplicate recording id 'p1_0'", f"{csv}, line 14": "malformed row",
        str(empty): "empty audio file", str(truncated): "truncated audio", str(nan): "NaN",
        big: "exceeds the limit", str(corrupt): "cannot decode image",
        os.path.realpath(shared): "used by recordings 'p0_0' and 'bad_shared'",
    }
    return csv, [r.recording for r in good], expected


def test_every_bad_input_is_raised_at_once(tmp_path):
    csv, _, expected = bad_manifest(tmp_path)
    with pytest.raises(InputErrors) as info:
        prepare(media_config(csv, tmp_path, SMALL_FRAMES, on_error="raise"))
    errors = info.value.errors
    assert sorted(e.path for e in errors) == sorted(expected)  # every problem, each once
    for error in errors:
        assert expected[error.path] in error.reason, error
        assert "\n" not in str(error)  # one line each
    lines = str(info.value).splitlines()
    assert lines[0].startswith("10 recordings with bad input") and len(lines) == 11
    # Nothing half-written is left to be taken for data.
    assert finished_caches(tmp_path / "cache") == []


def test_skipped_bad_input_is_counted_and_listed(tmp_path, monkeypatch, caplog):
    csv, good, expected = bad_manifest(tmp_path)
    with caplog.at_level(logging.WARNING):
        data = prepare(media_config(csv, tmp_path, SMALL_FRAMES, on_error="skip"))
    assert data.recordings == good and data.skipped == len(expected) == 10
    assert "skipped 10 recordings because of bad input" in caplog.text
    for path in expected:
        assert path in caplog.text
    assert data.count("train") + data.count("valid") + sum(
        (data.assignment[:, :4] == SPLIT_IDS["test"]).sum(axis=1)) == 4 * len(good)
    # The skip is remembered by the cache: a second run reads it back without decoding.
    monkeypatch.setattr(features, "decode_recording", lambda *a, **k: pytest.fail("decoded again"))
    again = prepare(media_config(csv, tmp_path, SMALL_FRAMES, on_error="skip"))
    assert again.skipped == 10 and again.cache_path == data.cache_path


def degenerate_manifest(tmp_path, monkeypatch):
    """A manifest of 9 good recordings and 5 degenerate ones; returns (csv, good ids, {path: expected reason}).

    Three are bad by their headers (a 1-sample WAV, a WAV at 1000 Hz, a frame over SMALL_FRAMES' pixel limit);
    three fail inside the decoder (a file the reader may not open, OpenCV's own error, memory running out),
    raised by a stand-in for the image reader: tests run as root, whom chmod 000 does not stop."""
    media = tmp_path / "media"
    good = media_recordings(str(media))
    one_sample = media / "one_sample.wav"
    sf.write(str(one_sample), np.array([0.5], np.float32), 8000)
    low_rate = write_wav(media / "low_rate.wav", rate=1000)
    big = write_png(media / "big.png", 3, size=16)
    failures = {"locked.png": PermissionError(13, "Permission denied"),
                "opencv.png": cv2.error("OpenCV(4.11.0) loadsave.cpp:77: error: (-215:Assertion failed)\n"
                                        "  in function 'imdecode'\n"),
                "huge.png": MemoryError("cannot allocate the frame")}
    for name in failures:
        write_png(media / name, 1)
    read_image = image.read_image

    def failing_reader(path, *args, **kwargs):
        if os.path.basename(path) in failures:
            raise failures[os.path.basename(path)]
        return read_image(path, *args, **kwargs)

    monkeypatch.setattr(image, "read_image", failing_reader)
    csv = tmp_path / "manifest.csv"
    write_manifest(good, str(csv))
    rows = ["p0,one_sample,media/one_sample.wav,,", "p1,low_rate,media/low_rate.wav,,", "p2,big,,media/big.png,",
            *(f"p2,{name[:-4]},,,media/{name}" for name in failures)]
    with open(csv, "a") as f:
        f.write("\n".join(rows) + "\n")
    expected = {str(one_sample): "shorter than the shortest window the features allow (32.0 ms)",
                low_rate: "audio at 1000 Hz, under the 4000 Hz", big: "16 x 16 pixels exceeds the limit of 144",
                str(media / "locked.png"): "cannot decode thermal: PermissionError: [Errno 13] Permission denied",
                str(media / "opencv.png"): "cannot decode thermal: error: OpenCV(4.11.0) loadsave.cpp:77: error: "
                                           "(-215:Assertion failed) in function 'imdecode'",
                str(media / "huge.png"): "cannot decode thermal: MemoryError: cannot allocate the frame"}
    return csv, [r.recording for r in good], expected


def test_degenerate_files_and_decoder_failures_are_one_line_each(tmp_path, monkeypatch):
    csv, _, expected = degenerate_manifest(tmp_path, monkeypatch)
    with pytest.raises(InputErrors) as info:
        prepare(media_config(csv, tmp_path, SMALL_FRAMES))
    assert sorted(e.path for e in info.value.errors) == sorted(expected)
    for error in info.value.errors:
        assert expected[error.path] in error.reason, error
    lines = str(info.value).splitlines()
    assert lines[0].startswith("6 recordings with bad input") and len(lines) == 7
    assert finished_caches(tmp_path / "cache") == []


def test_degenerate_files_and_decoder_failures_are_skipped(tmp_path, monkeypatch, caplog):
    csv, good, expected = degenerate_manifest(tmp_path, monkeypatch)
    with caplog.at_level(logging.WARNING):
        data = prepare(media_config(csv, tmp_path, SMALL_FRAMES, on_error="skip"))
    assert data.recordings == good and data.skipped == len(expected) == 6
    assert "skipped 6 recordings because of bad input" in caplog.text and "Traceback" not in caplog.text


def test_a_file_longer_than_the_audio_limit_is_refused_before_it_is_decoded(tmp_path, monkeypatch):
    recordings = media_recordings(str(tmp_path / "media"), modalities=("audio",))  # 0.3 s each
    long = write_wav(tmp_path / "media" / "long.wav", seconds=0.5)
    csv = write_manifest(recordings + [Recording("long", "p0", audio=long)], str(tmp_path / "m.csv"))
    read = sf.SoundFile.read
    monkeypatch.setattr(sf.SoundFile, "read", lambda self, *a, **k: read(self, *a, **k) if self.name != long
                        else pytest.fail("the long file was decoded"))
    with pytest.raises(InputErrors) as info:
        prepare(media_config(csv, tmp_path, MEDIA.replace(max_audio_seconds=0.4), modalities="audio"))
    [error] = info.value.errors
    assert error.path == long and "audio of 0.5 s exceeds the limit of 0.4 s (--max-audio-seconds)" in error.reason


def test_a_cache_written_while_skipping_does_not_hide_bad_files_under_raise(tmp_path):
    recordings = media_recordings(str(tmp_path / "media"), modalities=("audio",))
    os.truncate(recordings[0].audio, 300)
    csv = write_manifest(recordings, str(tmp_path / "m.csv"))
    assert prepare(media_config(csv, tmp_path, modalities="audio", on_error="skip")).skipped == 1
    with pytest.raises(InputErrors, match=os.path.basename(recordings[0].audio)):
        prepare(media_config(csv, tmp_path, modalities="audio", on_error="raise"))


def test_a_file_of_two_people_names_both_recordings(tmp_path):
    recordings = media_recordings(str(tmp_path / "media"), modalities=("audio", "visible"))
    recordings[4] = Recording("copy", "p1", audio=recordings[4].audio, visible=recordings[1].visible)
    recordings[2] = Recording("p0_2", "p0", audio=recordings[2].audio, visible=recordings[1].visible)  # one person
    csv = write_manifest(recordings, str(tmp_path / "m.csv"))
    with pytest.raises(InputErrors) as info:
        prepare(media_config(csv, tmp_path, modalities=("audio", "visible")))
    [error] = info.value.errors
    assert error.path == os.path.realpath(recordings[1].visible)
    assert "used by recordings 'p0_1' and 'copy' of two people ('p0' and 'p1')" in error.reason
    assert "\n" not in str(error)
    data = prepare(media_config(csv, tmp_path, modalities=("audio", "visible"), on_error="skip"))
    assert "p0_1" in data.recordings and "copy" not in data.recordings and data.skipped == 1
    # A file of another modality than the run's is no conflict.
    audio_only = prepare(media_config(csv, tmp_path, modalities="audio"))
    assert "copy" in audio_only.recordings and audio_only.skipped == 0


def test_a_latin1_manifest_is_refused_naming_file_and_line(tmp_path):
    recordings = media_recordings(str(tmp_path / "media"), people=2, per_person=2, modalities=("audio",))
    csv = tmp_path / "m.csv"
    write_manifest(recordings, str(csv))
    text = csv.read_text().replace("p1,p1_0", "Ren\u00e9e,p1_0")
    csv.write_bytes(text.encode("latin-1"))
    with pytest.raises(DataError, match=r"not UTF-8 text \(byte 0xe9 on line 4\)") as info:
        prepare(media_config(csv, tmp_path, modalities="audio", on_error="skip"))
    assert info.value.path == str(csv)


def test_a_modality_no_recording_has_leaves_the_run(tmp_path, caplog):
    recordings = media_recordings(str(tmp_path / "media"), modalities=("audio",))
    csv = write_manifest(recordings, str(tmp_path / "m.csv"))
    with caplog.at_level(logging.WARNING, logger="pipelines.dataset"):
        data = prepare(media_config(csv, tmp_path, modalities=("audio", "visible")))
    assert data.modalities == ("audio",) and set(data.shapes) == {"audio"}
    assert "no recording has visible: the run uses audio" in caplog.text
    inputs, _ = next(iter(data.samples("train")))
    assert set(inputs) == {"audio", "audio_mask", "audio_missing", "present", "recording"}
    assert inputs["present"].shape == (1,)
    assert inputs["audio"].shape == MEDIA.shapes("audio")["audio"]
    assert data.conditions.tolist() == [[1.0]]


# ---------------------------------------------------------------- the cache of a manifest


def test_cache_is_written_once_and_describes_the_data(tmp_path, monkeypatch):
    recordings = media_recordings(str(tmp_path / "media"))
    side = {r.recording: "test" if r.recording.endswith("_2") else "train" for r in recordings}
    recordings = [Recording(r.recording, r.person, r.audio, r.visible, r.thermal,
                            group=f"{r.person}_{side[r.recording]}", split=side[r.recording]) for r in recordings]
    csv = write_manifest(recordings, str(tmp_path / "m.csv"))
    data = prepare(media_config(csv, tmp_path))
    assert finished_caches(tmp_path / "cache") == [os.path.basename(data.cache_path)]
    meta = cache.read_meta(data.cache_path)
    assert meta["recordings"] == data.recordings == [r.recording for r in recordings]
    assert meta["people"] == [r.person for r in recordings]
    assert meta["groups"] == [r.group for r in recordings] and meta["splits"] == [r.split for r in recordings]
    assert meta["shapes"] == {m: list(s) for m, s in MEDIA.shapes(("audio", "visible", "thermal")).items()}
    assert meta["skipped"] == [] and meta["count"] == 9
    assert data.content_hash == meta["content_sha256"] == cache.content_sha256(data.cache_path, meta["num_shards"])
    # Reused without decoding anything.
    monkeypatch.setattr(features, "decode_recording", lambda *a, **k: pytest.fail("decoded again"))
    again = prepare(media_config(csv, tmp_path))
    assert (again.cache_path, again.content_hash) == (data.cache_path, data.content_hash)
    np.testing.assert_array_equal(again.assignment, data.assignment)
    # The protocol is no part of the cache: another split reads the same features.
    official = prepare(media_config(csv, tmp_path, protocol="official", validation_fraction=0.0))
    assert official.cache_path == data.cache_path
    monkeypatch.undo()
    # Each decoding setting gives a cache of its own.
    keys = {data.cache_path}
    for changed in ({"features": MEDIA.replace(audio_crop="start")}, {"features": MEDIA.replace(trim_db=40.0)},
                    {"features": MEDIA.replace(thermal_palette="iron")}, {"frame": "first"}):
        other = prepare(DataConfig(**{"source": str(csv), "features": MEDIA, "cache_dir": str(tmp_path / "cache"),
                                      **changed}))
        keys.add(other.cache_path)
    assert len(keys) == 5 and len(finished_caches(tmp_path / "cache")) == 5
    # A changed file gives a new cache too.
    write_wav(recordings[0].audio, seconds=0.4)
    assert prepare(media_config(csv, tmp_path)).cache_path not in keys


def test_samples_are_the_decoded_media(tmp_path):
    recordings = media_recordings(str(tmp_path / "media"))
    csv = write_manifest(recordings, str(tmp_path / "m.csv"))
    data = prepare(media_config(csv, tmp_path, protocol="strict", validation_fraction=0.0, test_fraction=0.34))
    by_id = {r.recording: r for r in recordings}
    seen = 0
    for inputs, label in data.samples("train"):
        rec = by_id[inputs["recording"].numpy().decode()]
        assert data.class_names[int(label)] == rec.person
        present = inputs["present"].numpy()
        # 12 x 12 frames resized to 8 x 8: the cache keeps them to the nearest 1/255 (image.to_uint8).
        if present[1]:
            np.testing.assert_allclose(inputs["visible"].numpy(), image.load_visible(rec.visible, (8, 8)),
                                       rtol=0, atol=0.5 / 255 + 1e-7)
            seen += 1
        if present[2]:
            np.testing.assert_allclose(inputs["thermal"].numpy(), image.load_thermal(rec.thermal, (8, 8)),
                                       rtol=0, atol=0.5 / 255 + 1e-7)
        if not present[0]:
            assert not inputs["audio"].numpy().any()
    assert seen == 3 * data.count("train") // 4  # 3 of the 4 copies of a recording keep its visible frame


# ================================================================ features manifests (.npy)


def write_npy(path, array):
    np.save(str(path), np.asarray(array))
    return str(path)


def feature_recordings(folder, people=3, groups=3, per_group=2, splits=("train", "validation", "TEST"),
                       thermal=True):
    """.npy features: audio [T, 4] (T = 2..6), visible [3], thermal [2]; p{i}_g{g}_{k} in group p{i}_g{g}, whose
    given split is splits[g]."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    recordings = []
    for i in range(people):
        for g in range(groups):
            for k in range(per_group):
                name = f"p{i}_g{g}_{k}"
                steps = 2 + (i + g + k) % 5
                files = {"audio": write_npy(os.path.join(folder, f"{name}_a.npy"), rng.normal(size=(steps, 4))),
                         "visible": write_npy(os.path.join(folder, f"{name}_v.npy"), rng.normal(size=3))}
                if thermal:
                    files["thermal"] = write_npy(os.path.join(folder, f"{name}_t.npy"), rng.normal(size=2))
                recordings.append(Recording(name, f"p{i}", **files, group=f"p{i}_g{g}",
                                            split=splits[g] if splits else None))
    return recordings


@pytest.fixture(scope="module")
def feature_set(tmp_path_factory):
    """18 recordings of 3 people in 9 groups, a split column, and a shared cache folder."""
    root = tmp_path_factory.mktemp("npy")
    recordings = feature_recordings(str(root / "features"))
    csv = write_manifest(recordings, str(root / "manifest.csv"))
    return csv, recordings, str(root / "cache")


def feature_config(feature_set, **kwargs):
    csv, _, cache_dir = feature_set
    return DataConfig(source=csv, cache_dir=cache_dir, **kwargs)


def test_features_manifest_shapes_and_values(feature_set):
    _, recordings, _ = feature_set
    data = prepare(feature_config(feature_set, protocol="official"))
    # T is the longest of the files; [D] stays [D].
    assert data.shapes == {"audio": (6, 4), "visible": (3,), "thermal": (2,)}
    by_id = {r.recording: r for r in recordings}
    rows = 0
    for split in ("train", "test", "valid"):
        for inputs, _ in data.samples(split):
            rec = by_id[inputs["recording"].numpy().decode()]
            present = inputs["present"].numpy()
            assert inputs["audio"].shape == (6, 4) and inputs["visible"].shape == (3,)
            for bit, m in zip(present, data.modalities):
                values = np.load(rec.path(m)).astype(np.float32)
                if not bit:
                    assert not inputs[m].numpy().any()
                elif m == "audio":  # zero-padded at the end
                    np.testing.assert_array_equal(inputs[m].numpy()[:len(values)], values)
                    np.testing.assert_array_equal(inputs[m].numpy()[len(values):], 0)
                else:
                    np.testing.assert_array_equal(inputs[m].numpy(), values)
            rows += 1
    assert rows == data.count("train") + data.count("test") + data.count("valid") == 18 * 4 + 6 * 3


def test_features_of_another_width_or_with_nan_are_refused(tmp_path):
    recordings = feature_recordings(str(tmp_path / "f"), thermal=False)
    wide = write_npy(tmp_path / "f" / "wide.npy", np.zeros((3, 5)))
    nan = write_npy(tmp_path / "f" / "nan.npy", np.array([0.0, np.nan, 1.0]))
    recordings[1] = Recording(recordings[1].recording, "p0", audio=wide, visible=recordings[1].visible)
    recordings[2] = Recording(recordings[2].recording, "p0", audio=recordings[2].audio, visible=nan)
    csv = write_manifest(recordings, str(tmp_path / "m.csv"))
    cfg = DataConfig(source=csv, modalities=("audio", "visible"), cache_dir=str(tmp_path / "cache"))
    with pytest.raises(InputErrors) as info:
        prepare(cfg)
    paths = sorted({e.path for e in info.value.errors})
    assert paths == sorted([wide, nan])
    assert any("this set's are [T, D] = [" in e.reason for e in info.value.errors if e.path == wide)
    assert any("NaN" in e.reason for e in info.value.errors if e.path == nan)
    assert finished_caches(tmp_path / "cache") == []
    skipped = prepare(cfg.replace(on_error="skip"))
    assert skipped.recordings == [r.recording for i, r in enumerate(recordings) if i not in (1, 2)]


def test_a_refused_feature_file_is_reported_once(tmp_path):
    recordings = feature_recordings(str(tmp_path / "f"), thermal=False)
    wide = write_npy(tmp_path / "f" / "wide.npy", np.zeros((3, 5)))
    recordings[1] = Recording(recordings[1].recording, "p0", audio=wide, visible=recordings[1].visible)
    csv = write_manifest(recordings, str(tmp_path / "m.csv"))
    cfg = DataConfig(source=csv, modalities=("audio", "visible"), cache_dir=str(tmp_path / "cache"))
    with pytest.raises(InputErrors) as info:
        prepare(cfg)
    assert [e.path for e in info.value.errors] == [wide]
    assert prepare(cfg.replace(on_error="skip")).skipped == 1


def test_media_and_feature_files_in_one_column_are_refused(tmp_path):
    recordings = media_recordings(str(tmp_path / "media"), modalities=("audio",))
    frames, mels = MEDIA.shapes("audio")["audio"]
    for i in range(4):  # [D] features with D = the number of log-mel values of a wav
        recordings[i] = Recording(recordings[i].recording, recordings[i].person,
                                  audio=write_npy(tmp_path / f"f{i}.npy", np.ones(frames * mels)))
    csv = write_manifest(recordings, str(tmp_path / "m.csv"))
    with pytest.raises(InputErrors):
        prepare(media_config(csv, tmp_path, modalities="audio"))


# ---------------------------------------------------------------- protocols on a set with groups


def trained_sides(data):
    """{recording: set of split ids of its trained (ablation) copies}."""
    trained = data.assignment[:, :4]
    return {r: set(row[row >= 0].tolist()) for r, row in zip(data.recordings, trained)}


def group_of(recording):
    return recording.rsplit("_", 1)[0]


def test_paper_protocol_lets_copies_straddle(feature_set):
    data = prepare(feature_config(feature_set, protocol="paper"))
    samples = 18 * 4
    test = round(samples * PAPER_TEST_FRACTION)
    assert (data.assignment[:, :4] == SPLIT_IDS["test"]).sum() == test
    assert data.count("valid") == round(samples * 0.1)
    assert data.count("train") == samples - test - round(samples * 0.1)
    # The paper's leak, kept on purpose: some recording has copies on two sides.
    assert any(len(sides) > 1 for sides in trained_sides(data).values())
    # Single-modality copies are evaluation-only: in test exactly for the recordings with a test copy.
    in_test = (data.assignment[:, :4] == SPLIT_IDS["test"]).any(axis=1)
    np.testing.assert_array_equal((data.assignment[:, 4:] == SPLIT_IDS["test"]).all(axis=1), in_test)
    assert ((data.assignment[:, 4:] == -1).all(axis=1) == ~in_test).all()


def test_strict_protocol_keeps_recordings_and_groups_on_one_side(feature_set):
    data = prepare(feature_config(feature_set, protocol="strict"))
    sides = trained_sides(data)
    assert all(len(s) == 1 for s in sides.values())  # no recording on two sides
    group_side = {}
    for recording, (side,) in sides.items():
        assert group_side.setdefault(group_of(recording), side) == side  # no group on two sides
    # 3 groups a person: one each for train, valid and test (validation distinct from test).
    for person in ("p0", "p1", "p2"):
        own = sorted(side for group, side in group_side.items() if group.startswith(person + "_"))
        assert own == sorted(SPLIT_IDS.values())
    assert data.count("train") == data.count("valid") == 3 * 2 * 4
    assert data.count("test") == 3 * 2 * 4 + 3 * 2 * 3
    # Evaluation-only copies never leave the test side.
    assert set(np.unique(data.assignment[:, 4:]).tolist()) <= {-1, SPLIT_IDS["test"]}


@pytest.mark.parametrize("protocol", ["official", "manifest"])
def test_given_protocols_follow_the_split_column(feature_set, protocol):
    _, recordings, _ = feature_set
    data = prepare(feature_config(feature_set, protocol=protocol))
    canonical = {"train": "train", "validation": "valid", "TEST": "test"}
    given = {r.recording: SPLIT_IDS[canonical[r.split]] for r in recordings}
    assert trained_sides(data) == {r: {given[r]} for r in data.recordings}
    assert data.count("train") == data.count("valid") == 6 * 4 and data.count("test") == 6 * 4 + 6 * 3


def test_manifest_protocol_without_a_split_column(tmp_path):
    recordings = feature_recordings(str(tmp_path / "f"), people=2, groups=2, per_group=1, splits=None)
    csv = write_manifest(recordings, str(tmp_path / "m.csv"))
    assert "split" not in pathlib.Path(csv).read_text().splitlines()[0]
    with pytest.raises(DataError, match=r"m.csv: --protocol manifest needs a split column"):
        prepare(DataConfig(source=csv, protocol="manifest", cache_dir=str(tmp_path / "cache")))


def test_an_unknown_split_name_is_named(tmp_path):
    recordings = feature_recordings(str(tmp_path / "f"), people=2, groups=3, per_group=1,
                                    splits=("train", "holdout", "test"))
    csv = write_manifest(recordings, str(tmp_path / "m.csv"))
    with pytest.raises(SplitError, match=r"unknown split names 'holdout' \(8 samples\)"):
        prepare(DataConfig(source=csv, protocol="official", cache_dir=str(tmp_path / "cache")))


def test_strict_protocol_trains_a_person_with_one_recording(tmp_path, caplog):
    recordings = feature_recordings(str(tmp_path / "f"), people=2, groups=3, per_group=1)
    recordings.append(Recording("lonely", "p9", audio=recordings[0].audio.replace("p0_g0_0", "p9"),
                                visible=recordings[0].visible.replace("p0_g0_0", "p9"),
                                thermal=recordings[0].thermal.replace("p0_g0_0", "p9")))
    for m in ("audio", "visible", "thermal"):
        shutil.copy(recordings[0].path(m), recordings[-1].path(m))
    csv = write_manifest(recordings, str(tmp_path / "m.csv"))
    with caplog.at_level(logging.WARNING, logger="pipelines.splits"):
        data = prepare(DataConfig(source=csv, protocol="strict", cache_dir=str(tmp_path / "cache")))
    assert "1 person has one recording group" in caplog.text and "left out of the test split: 'p9'" in caplog.text
    assert data.people_left_out_of_test() == ["p9"]
    assert set(data.assignment[data.recordings.index("lonely")].tolist()) == {-1, SPLIT_IDS["train"]}


# ---------------------------------------------------------------- files shared by recordings of one person


def sharing_recordings(folder, people=3, photos=2, per_photo=2, splits=None):
    """.npy features of `people` people with `photos` x `per_photo` recordings each (p{i}_g{g}_0, each its own
    group p{i}_g{g}): recordings g and g' of a person with g // per_photo == g' // per_photo share one visible
    file (an enrolment photo)."""
    recordings = feature_recordings(str(folder), people=people, groups=photos * per_photo, per_group=1,
                                    splits=splits)
    shared = []
    for r in recordings:
        g = int(r.group.split("_g")[1])
        photo = r.visible.replace(f"_g{g}_", f"_g{g - g % per_photo}_")
        shared.append(dataclasses.replace(r, visible=photo))
    return shared


def sides_of_files(data):
    """{file: the split ids of the samples of every recording that names it}."""
    sides = {}
    for files, row in zip(data.files, data.assignment):
        for path in files.values():
            sides.setdefault(path, set()).update(row[row >= 0].tolist())
    return sides


def test_strict_joins_recordings_that_share_a_file(tmp_path, caplog):
    csv = write_manifest(sharing_recordings(tmp_path / "f"), str(tmp_path / "m.csv"))
    with caplog.at_level(logging.INFO, logger="pipelines.splits"):
        data = prepare(DataConfig(source=csv, protocol="strict", validation_fraction=0.0,
                                  cache_dir=str(tmp_path / "cache")))
    assert "shared files: 12 recordings (of 12 groups) merged into 6 groups" in caplog.text
    assert len(set(data.groups)) == 6 and data.groups[data.recordings.index("p0_g1_0")] == "p0_g0"
    sides = sides_of_files(data)
    assert len(sides) == 12 * 3 - 6  # 6 photos named twice
    assert all(len(s) == 1 for s in sides.values())  # no file on two sides
    assert data.count("train") and data.count("test") and data.people_left_out_of_test() == []
    assert data.test_sharing_a_file_with_training() == 0
    assert all(data.seen_in_training(m) == 0 for m in data.modalities)


def test_recordings_of_one_subject_may_share_a_file_whatever_their_class(tmp_path):
    """The class is not who was recorded (e.g. an emotion): one subject's photo may serve several classes."""
    recordings = [dataclasses.replace(r, person=f"class{int(r.group[-1]) % 2}", subject=r.person)
                  for r in sharing_recordings(tmp_path / "f")]
    csv = write_manifest(recordings, str(tmp_path / "m.csv"))
    data = prepare(DataConfig(source=csv, protocol="paper", cache_dir=str(tmp_path / "cache")))
    assert data.skipped == 0 and len(data.recordings) == 12 and data.class_names == ["class0", "class1"]


def test_strict_trains_a_person_whose_recordings_all_share_a_file(tmp_path, caplog):
    recordings = sharing_recordings(tmp_path / "f")
    photo = recordings[0].visible
    recordings = [dataclasses.replace(r, visible=photo) if r.person == "p0" else r for r in recordings]
    csv = write_manifest(recordings, str(tmp_path / "m.csv"))
    with caplog.at_level(logging.INFO, logger="pipelines.splits"):
        data = prepare(DataConfig(source=csv, protocol="strict", validation_fraction=0.0,
                                  cache_dir=str(tmp_path / "cache")))
    assert "12 recordings (of 12 groups) merged into 5 groups" in caplog.text
    assert "1 person has one recording group" in caplog.text and "left out of the test split: 'p0'" in caplog.text
    assert data.people_left_out_of_test() == ["p0"]
    own = np.array([r.startswith("p0_") for r in data.recordings])
    assert set(data.assignment[own].ravel().tolist()) == {-1, SPLIT_IDS["train"]}
    assert {SPLIT_IDS["train"], SPLIT_IDS["test"]} <= set(data.assignment[~own].ravel().tolist())


@pytest.mark.parametrize("protocol", ["official", "manifest"])
def test_a_shared_file_on_two_sides_of_a_given_split_is_refused(tmp_path, protocol):
    recordings = sharing_recordings(tmp_path / "f", splits=("train", "test", "train", "train"))
    csv = write_manifest(recordings, str(tmp_path / "m.csv"))
    cfg = DataConfig(source=csv, protocol=protocol, cache_dir=str(tmp_path / "cache"))
    with pytest.raises(SplitError) as caught:
        prepare(cfg)
    message = str(caught.value)
    assert message.startswith(f"{protocol} protocol: 3 files are on two sides of the given split")
    photo = os.path.realpath(recordings[0].visible)
    assert f"{photo} (recording 'p0_g0_0' train, recording 'p0_g1_0' test)" in message and "\n" not in message
    # The same photos within one side are no leak.
    same_side = sharing_recordings(tmp_path / "g", splits=("train", "train", "test", "test"))
    data = prepare(cfg.replace(source=write_manifest(same_side, str(tmp_path / "n.csv"))))
    assert all(len(s) == 1 for s in sides_of_files(data).values())


def test_paper_counts_the_test_samples_that_share_a_file_with_training(tmp_path):
    recordings = sharing_recordings(tmp_path / "f", photos=1, per_photo=4)  # a photo for 4 recordings a person
    csv = write_manifest(recordings, str(tmp_path / "m.csv"))
    data = prepare(DataConfig(source=csv, protocol="paper", cache_dir=str(tmp_path / "cache")))
    effective = data.recorded[:, None, :] * data.conditions[None, :, :]
    samples = {split: [(data.recordings[i], frozenset(data.files[i][m] for m, bit in zip(data.modalities,
                                                                                       effective[i, c]) if bit))
                       for i, c in zip(*np.nonzero(data.assignment == SPLIT_IDS[split]))]
               for split in ("train", "test")}
    expected = sum(any(files & held for other, held in samples["train"] if other != recording)
                   for recording, files in samples["test"])
    assert expected > 0 and data.test_sharing_a_file_with_training() == expected
    # Each single-sensor view counts its test recordings seen in training: its own copies or a shared photo.
    train, test = data.modality_rows("visible", "train"), data.modality_rows("visible", "test")
    photos = {data.files[i]["visible"] for i in np.flatnonzero(train)}
    assert data.seen_in_training("visible") == sum(
        test[i] and (train[i] or data.files[i]["visible"] in photos) for i in range(len(test)))
    # A recording tested whole whose photo another recording trains on is seen in training, by its photo alone.
    assignment = np.full_like(data.assignment, -1)
    first, second = data.recordings.index("p0_g0_0"), data.recordings.index("p0_g1_0")
    assignment[first, 0], assignment[second, :] = SPLIT_IDS["train"], SPLIT_IDS["test"]
    split = dataclasses.replace(data, assignment=assignment)
    assert split.seen_in_training("visible") == 1 and split.seen_in_training("audio") == 0
    assert split.test_sharing_a_file_with_training() == int((data.conditions[:, 1] > 0).sum())  # held the photo


# ---------------------------------------------------------------- the reference baseline's arrays


def expected_arrays(data, modality, split, files):
    """Rows from the samples themselves: train = recordings with a training sample keeping the modality;
    test = recordings whose single-modality copy is in test."""
    column = data.modalities.index(modality)
    only = np.eye(len(data.modalities))[column]
    chosen = set()
    for inputs, _ in data.samples(split):
        present = inputs["present"].numpy()
        if (split == "train" and present[column]) or (split != "train" and (present == only).all()):
            chosen.add(inputs["recording"].numpy().decode())
    rows = [i for i, r in enumerate(data.recordings) if r in chosen]
    values = [np.load(files[data.recordings[i]].path(modality)).astype(np.float32) for i in rows]
    return values, data.labels[rows], chosen


def check_modality_arrays(data, files):
    """modality_arrays against the samples themselves; returns {(modality, split): chosen recording ids}."""
    chosen = {}
    for modality in data.modalities:
        for split in ("train", "test"):
            inputs, labels = data.modality_arrays(modality, split)
            values, expected_labels, chosen[modality, split] = expected_arrays(data, modality, split, files)
            assert len(values) > 0 and inputs.shape == (len(values), *data.shapes[modality])
            assert inputs.dtype == np.float32 and labels.tolist() == expected_labels.tolist()
            for got, want in zip(inputs, values):
                np.testing.assert_array_equal(got[:len(want)], want)
                np.testing.assert_array_equal(got[len(want):], 0)
    return chosen


@pytest.mark.parametrize("protocol", ["paper", "strict"])
def test_modality_arrays(feature_set, protocol):
    _, recordings, _ = feature_set
    data = prepare(feature_config(feature_set, protocol=protocol))
    chosen = check_modality_arrays(data, {r.recording: r for r in recordings})
    if protocol == "strict":
        # 6 recordings a side (one group of two per person); none on both sides.
        for modality in data.modalities:
            assert len(chosen[modality, "train"]) == len(chosen[modality, "test"]) == 6
            assert not chosen[modality, "train"] & chosen[modality, "test"]
    else:  # the paper's leak: a recording with a training sample may also be a test row
        assert len(chosen["audio", "train"]) == 18
        assert chosen["audio", "test"] and chosen["audio", "test"] <= chosen["audio", "train"]


def test_modality_arrays_of_recordings_that_lack_a_modality(tmp_path):
    recordings = feature_recordings(str(tmp_path / "f"))
    # One recording of each group of p0 has no thermal file (so one is in train and one in test under strict).
    lacking = {0, 2, 4}
    for i in lacking:
        r = recordings[i]
        recordings[i] = Recording(r.recording, r.person, audio=r.audio, visible=r.visible, group=r.group)
    csv = write_manifest(recordings, str(tmp_path / "m.csv"))
    data = prepare(DataConfig(source=csv, protocol="strict", cache_dir=str(tmp_path / "cache")))
    chosen = check_modality_arrays(data, {r.recording: r for r in recordings})
    lacking = {recordings[i].recording for i in lacking}
    for split in ("train", "test"):  # visible rows, never a thermal one
        assert lacking & chosen["visible", split] and not lacking & chosen["thermal", split]


def condition_shares(present):
    """{presence pattern: share of the rows} of [N, M] presence bits."""
    patterns, counts = np.unique(present.astype(int), axis=0, return_counts=True)
    return {tuple(p): c / len(present) for p, c in zip(patterns, counts)}


def test_subsets_ablation_gives_every_condition_its_share_in_both_phases(tree, tmp_path):
    data = prepare(config(tree, tmp_path, ablation="subsets", protocol="strict"))
    subsets = {bits for bits in itertools.product((0, 1), repeat=3) if any(bits)}
    counts = data.condition_counts("train")
    assert len(counts) == 7 and len(set(counts.values())) == 1  # one copy of each recording per subset
    # The recogniser's phase embeds every training sample: exactly one seventh each.
    whole = np.concatenate([x["present"].numpy() for x, _ in data.batches("train", 16)])
    assert condition_shares(whole) == pytest.approx({bits: 1 / 7 for bits in subsets})
    # Random batches of an epoch (remainder dropped) and P x K batches over several epochs.
    epoch = np.concatenate([x["present"].numpy()
                            for x, _ in training_batches(data, 0, BatchPolicy(8, seed=1))[0]])
    assert set(condition_shares(epoch)) == subsets
    assert all(abs(share - 1 / 7) <= 8 / len(epoch) for share in condition_shares(epoch).values())
    pk = np.concatenate([x["present"].numpy() for e in range(8)
                         for x, _ in training_batches(data, e, BatchPolicy(4, seed=1, sampler="pk",
                                                                          people_per_batch=2))[0]])
    assert all(abs(share - 1 / 7) < 0.05 for share in condition_shares(pk).values()), condition_shares(pk)


def test_recipe_batches_follow_the_dropout_schedule(monkeypatch):
    from avtfuse.training import recipes
    from avtfuse.training.config import TrainConfig

    # Stands in for the batches: the training batches of an epoch are the dropout rate asked for.
    monkeypatch.setattr(recipes, "training_batches", lambda data, epoch, policy: (policy.dropout_rate, 1))
    train = TrainConfig(batch_size=8, modality_dropout=0.5, dropout_warmup_epochs=1, dropout_ramp_epochs=2)
    context = recipes.RecipeContext(None, None, None, train, None, None, None)
    assert [context.training_batches(epoch)[0] for epoch in range(5)] == [0.0, 0.25, 0.5, 0.5, 0.5]
    assert context.batches_as_trained() == 0.5  # batch norm is measured at the full rate, not in the warm-up


def test_standardisation_is_fitted_on_a_seeded_draw_across_every_person(tree, tmp_path):
    """fit_samples: every training sample once, in a seeded order spread over the people; the cache order puts
    one person's samples first, so its first samples (what adapt's max_samples took) missed the others."""
    data = prepare(config(tree, tmp_path))

    def labels(samples, count=None):
        return [int(label) for _, label in (samples.take(count) if count else samples)]

    ordered = labels(data.samples("train"))
    first = len(ordered) // 4  # fewer than one person's training samples
    assert len(set(ordered[:first])) == 1
    drawn = labels(data.fit_samples(seed=0))
    assert sorted(drawn) == sorted(ordered) and len(set(drawn[:first])) == data.num_people == 3
    assert labels(data.fit_samples(seed=0)) == drawn and labels(data.fit_samples(seed=1)) != drawn
    inputs, _ = next(iter(data.fit_samples(seed=0)))
    assert set(inputs) >= {"audio", "visible", "thermal", "present"}


def test_every_bad_file_of_a_written_speakingfaces_recording_is_listed_and_it_is_skipped_once(tmp_path):
    """A truncated wav, an empty visible png and a missing thermal frame in one recording: three lines, one skip."""
    root = tmp_path / "sf"
    written = write_speakingfaces(root, subjects=(1, 2, 3), trials=(1, 2), positions=(1,), commands=(1, 2),
                                  image_size=16, audio_seconds=0.5, frames_per_recording=1)
    trial = root / "train_data" / "sub_1" / "trial_1"
    wav, = (trial / "mic1_audio_cmd_trim").glob("1_1_2_1_1_*.wav")
    png, = (trial / "rgb_image_cmd_aligned").glob("1_1_2_1_1_*_3.png")
    frame, = (trial / "thr_image_cmd").glob("1_1_2_1_1_*_1.png")
    os.truncate(wav, 300)
    png.write_bytes(b"")
    frame.unlink()
    with pytest.raises(InputErrors) as info:
        prepare(config(str(root), tmp_path))
    assert str(info.value).startswith("1 recordings with bad input")
    # The reader's problem first, then those of the files it found, as the decode stage met them.
    assert [error.path for error in info.value.errors] == [str(trial / "thr_image_cmd" / "1_1_2_1_1_*_1.png"),
                                                           str(wav), str(png)]
    reasons = [error.reason for error in info.value.errors]
    assert "missing thermal" in reasons[0] and "truncated audio" in reasons[1] and "empty image file" in reasons[2]
    for attempt in ("written", "reused"):  # the cache's meta.json keeps all three for the next run
        data = prepare(config(str(root), tmp_path, on_error="skip"))
        assert data.skipped == 1 and len(data.recordings) == len(written) - 1, attempt
    with pytest.raises(InputErrors) as again:
        prepare(config(str(root), tmp_path))
    assert [str(error) for error in again.value.errors] == [str(error) for error in info.value.errors]
