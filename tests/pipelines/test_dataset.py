"""The assembled pipeline on tiny synthetic data: counts, contract, splits, cache, bad input."""


import numpy as np
import pytest

from pipelines import features, image
from pipelines.dataset import DataConfig, prepare
from pipelines.errors import DataError
from pipelines.features import FeatureConfig
from pipelines.manifest import write_manifest
from pipelines.recording import Recording
from pipelines.synthetic import write_speakingfaces

TINY = FeatureConfig(audio_samples=4096, n_mels=16, n_fft=512, hop_length=256, image_size=(16, 16))


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("sf")
    write_speakingfaces(root, subjects=(1, 2, 3), trials=(1, 2), positions=(1,), commands=(1, 2),
                        image_size=16, audio_seconds=0.5, frames_per_recording=1)
    return str(root)


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
    n_recordings = 3 * 2 * 2
    assert data.num_people == 3
    train, test = collect(data, "train"), collect(data, "test")
    assert len(train) == data.count("train") and len(test) == data.count("test")
    assert len(ablated(train)) == len(train)
    assert len(train) + len(ablated(test)) == 4 * n_recordings
    # Single-modality copies are evaluation-only: three per recording with a test sample.
    tested = {r["recording"] for r in ablated(test)}
    singles = [r for r in test if r["present"].sum() == 1]
    assert len(singles) == 3 * len(tested) and {r["recording"] for r in singles} == tested
    rows = train + test
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
    data = prepare(config(tree, tmp_path, protocol="strict", test_fraction=0.5))
    train = {r["recording"] for r in collect(data, "train")}
    test = {r["recording"] for r in collect(data, "test")}
    assert train and test and not train & test
    assert data.count("train") + data.count("test") == 4 * len(train) + 7 * len(test)


def test_cache_is_reused_and_keyed_by_settings(tree, tmp_path, monkeypatch):
    first = prepare(config(tree, tmp_path))
    monkeypatch.setattr(features, "validate_recordings", lambda *a, **k: pytest.fail("decoded again"))
    again = prepare(config(tree, tmp_path))
    assert again.cache_path == first.cache_path
    monkeypatch.undo()
    other = prepare(DataConfig(source=tree, features=FeatureConfig(
        audio_samples=4096, n_mels=8, n_fft=512, hop_length=256, image_size=(16, 16)),
        cache_dir=str(tmp_path / "cache")))
    assert other.cache_path != first.cache_path
    assert collect(other, "train")[0]["audio"].shape == (17, 8)


def test_batches(tree, tmp_path):
    data = prepare(config(tree, tmp_path))
    batches, steps = data.training_batches(0, 8, seed=1)
    batches = list(batches)
    assert all(x["audio"].shape[0] == 8 for x, _ in batches)
    assert len(batches) == steps == data.count("train") // 8
    test = list(data.batches("test", 8))
    assert sum(int(y.shape[0]) for _, y in test) == data.count("test")


def test_training_batches_are_a_function_of_seed_and_epoch(tree, tmp_path):
    data = prepare(config(tree, tmp_path))

    def recordings(epoch, seed=1, **kwargs):
        batches, _ = data.training_batches(epoch, 4, seed=seed, **kwargs)
        return [x["recording"].numpy().tolist() + x["present"].numpy().ravel().tolist() for x, _ in batches]

    assert recordings(2) == recordings(2)
    assert recordings(2) != recordings(3) and recordings(2) != recordings(2, seed=2)
    dropped = recordings(1, dropout_rate=0.5)
    assert dropped == recordings(1, dropout_rate=0.5) != recordings(1)


def corrupt_copy(tree, tmp_path):
    import shutil

    root = tmp_path / "bad"
    shutil.copytree(tree, root)
    wav = next(p for p in root.rglob("*.wav"))
    wav.write_bytes(wav.read_bytes()[:60])
    return str(root), wav


def test_corrupt_wav_names_the_file(tree, tmp_path):
    root, wav = corrupt_copy(tree, tmp_path)
    with pytest.raises(DataError, match=wav.name):
        prepare(config(root, tmp_path))


def test_corrupt_wav_is_skipped_and_counted(tree, tmp_path):
    root, _ = corrupt_copy(tree, tmp_path)
    data = prepare(config(root, tmp_path, on_error="skip"))
    assert data.skipped == 1
    assert data.assignment.shape[0] == 11


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
    with pytest.raises(ValueError, match="person '2' has a single recording"):
        prepare(DataConfig(source=str(csv), features=TINY, cache_dir=str(tmp_path / "cache"), protocol="strict"))


def test_missing_source_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        prepare(DataConfig(source=str(tmp_path / "nowhere"), features=TINY, cache_dir=str(tmp_path)))


def test_bad_protocol_is_named():
    with pytest.raises(ValueError, match="protocol"):
        DataConfig(protocol="leaky")


def test_pk_batches_take_modality_dropout(tree, tmp_path):
    data = prepare(config(tree, tmp_path))
    plain, steps = data.training_batches(0, 4, seed=5, sampler="pk", people_per_batch=2)
    dropped, _ = data.training_batches(0, 4, seed=5, sampler="pk", people_per_batch=2, dropout_rate=0.6)
    plain, dropped = list(plain), list(dropped)
    assert len(plain) == len(dropped) == steps
    before = sum(float(x["present"].numpy().sum()) for x, _ in plain)
    after = sum(float(x["present"].numpy().sum()) for x, _ in dropped)
    assert after < before
    for x, y in dropped:
        assert len(set(y.numpy().tolist())) == 2  # still P x K: two people per batch


def test_paper_shapes():
    assert FeatureConfig.paper().shapes(("audio", "visible", "thermal")) == {
        "audio": (589, 128), "visible": (224, 224, 3), "thermal": (224, 224, 1)}


def test_training_batches_with_modality_dropout(tree, tmp_path):
    data = prepare(config(tree, tmp_path))
    batches = list(data.training_batches(0, 8, seed=3, dropout_rate=0.5)[0])
    present = np.concatenate([x["present"].numpy() for x, _ in batches])
    plain = np.concatenate([x["present"].numpy() for x, _ in data.training_batches(0, 8, seed=3)[0]])
    assert present.sum() < plain.sum() - 5  # some present modalities were dropped
    assert (present.sum(axis=1) >= 1).all()  # never all of a sample
    for x, _ in batches:
        for index, m in enumerate(("audio", "visible", "thermal")):
            dropped = x["present"].numpy()[:, index] == 0
            assert not x[m].numpy()[dropped].any()
