"""The TFRecord feature cache: raw float32 bytes (uint8 frames), round trip, random access, meta written last,
content hash."""

import hashlib
import json
import os
import pathlib

import cv2
import numpy as np
import pytest
import tensorflow as tf

from pipelines import cache, features, image
from pipelines.recording import Recording

MODALITIES = ("audio", "thermal")
SHAPES = {"audio": (5, 3), "thermal": (4, 4, 1)}


def examples(count, seed=0):
    """(recording, decoded) pairs; every third recording lacks thermal."""
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(count):
        decoded = {"audio": rng.normal(size=SHAPES["audio"]).astype(np.float32)}
        if i % 3:
            decoded["thermal"] = rng.uniform(size=SHAPES["thermal"]).astype(np.float32)
        pairs.append((Recording(f"r{i}", f"p{i % 2}", audio=f"/d/{i}.wav"), decoded))
    return pairs


def describe(written):
    return {"recordings": [r.recording for r in written], "people": [r.person for r in written]}


def read_back(path):
    return sorted((dict(e) for e in cache.read_cache(path).as_numpy_iterator()), key=lambda e: e["index"])


def test_round_trip_is_exact_and_ordered(tmp_path):
    pairs = examples(7)
    path = str(tmp_path / "features-x")
    assert not cache.is_complete(path)
    written = cache.write_cache(iter(pairs), path, MODALITIES, SHAPES, describe, num_shards=3)
    assert written == [r for r, _ in pairs]
    assert cache.is_complete(path) and not os.path.exists(path + ".partial")
    assert sorted(os.listdir(path)) == [cache.META_FILE, "shard-000.tfrecord", "shard-001.tfrecord",
                                        "shard-002.tfrecord"]
    back = read_back(path)
    assert [e["index"] for e in back] == list(range(7))
    for (_, decoded), got in zip(pairs, back):
        np.testing.assert_array_equal(got["recorded"], [1.0, float("thermal" in decoded)])
        np.testing.assert_array_equal(got["audio"], decoded["audio"])
        assert got["audio"].dtype == got["thermal"].dtype == np.float32 and got["thermal"].shape == SHAPES["thermal"]
        # Frames come back as round(255 x) / 255; a modality not recorded is zeros of its shape.
        thermal = decoded.get("thermal", np.zeros(SHAPES["thermal"], np.float32))
        np.testing.assert_allclose(got["thermal"], np.rint(thermal * 255) / 255, rtol=0, atol=1e-7)
        assert np.abs(got["thermal"] - thermal).max() <= 0.5 / 255 + 1e-7


def test_steps_are_real_lengths_of_sequences(tmp_path):
    """`steps`: a Decoded's own lengths, else T for a sequence (recorded or not), 0 for a single frame."""
    pairs = examples(3)
    short = features.Decoded(pairs[1][1], steps={"audio": 2})
    pairs[1] = (pairs[1][0], short)
    path = str(tmp_path / "features-s")
    cache.write_cache(iter(pairs), path, ("audio", "thermal"), SHAPES, describe, num_shards=2)
    steps = [e["steps"].tolist() for e in read_back(path)]
    assert steps == [[5, 0], [2, 0], [5, 0]]
    sequence_shapes = {"audio": (5, 3), "thermal": (2, 4, 4, 1)}  # thermal frames [T, H, W, C]
    frames = [(r, {"audio": d["audio"]}) for r, d in examples(2)]  # no recording has thermal
    other = str(tmp_path / "features-t")
    cache.write_cache(iter(frames), other, ("audio", "thermal"), sequence_shapes, describe, num_shards=1)
    back = read_back(other)
    assert [e["steps"].tolist() for e in back] == [[5, 2], [5, 2]]
    assert back[0]["steps"].dtype == np.int64 and back[0]["thermal"].shape == (2, 4, 4, 1)


def test_a_cache_of_an_older_format_is_not_read(tmp_path):
    assert cache.cache_path(str(tmp_path), "features-k") == str(tmp_path / f"features-k-v{cache.FORMAT_VERSION}")
    path = str(tmp_path / "features-old")
    cache.write_cache(iter(examples(2)), path, MODALITIES, SHAPES, describe, num_shards=1)
    meta = cache.read_meta(path)
    assert meta["format"] == cache.FORMAT_VERSION
    del meta["format"]  # as written before `steps` existed
    pathlib.Path(path, cache.META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="a feature cache of format 1"):
        cache.read_cache(path)


def test_meta_describes_the_cache_and_hashes_its_shards(tmp_path):
    path = str(tmp_path / "features-m")
    cache.write_cache(iter(examples(5)), path, MODALITIES, SHAPES, describe, num_shards=2)
    meta = cache.read_meta(path)
    assert meta["count"] == 5 and meta["num_shards"] == 2
    assert meta["shapes"] == {"audio": [5, 3], "thermal": [4, 4, 1]}
    assert meta["recordings"] == [f"r{i}" for i in range(5)] and meta["people"] == ["p0", "p1", "p0", "p1", "p0"]
    digest = hashlib.sha256()
    for index in range(2):
        digest.update(pathlib.Path(path, f"shard-{index:03d}.tfrecord").read_bytes())
    assert meta["content_sha256"] == digest.hexdigest() == cache.content_sha256(path, 2)
    assert json.loads(pathlib.Path(path, cache.META_FILE).read_text()) == meta
    # The same data gives the same bytes; other data another hash.
    again = str(tmp_path / "features-n")
    cache.write_cache(iter(examples(5)), again, MODALITIES, SHAPES, describe, num_shards=2)
    assert cache.read_meta(again)["content_sha256"] == meta["content_sha256"]
    other = str(tmp_path / "features-o")
    cache.write_cache(iter(examples(5, seed=1)), other, MODALITIES, SHAPES, describe, num_shards=2)
    assert cache.read_meta(other)["content_sha256"] != meta["content_sha256"]


def test_a_failing_stream_leaves_no_complete_cache(tmp_path):
    path = str(tmp_path / "features-y")

    def failing():
        yield from examples(3)
        raise RuntimeError("bad input found at the end")

    with pytest.raises(RuntimeError, match="at the end"):
        cache.write_cache(failing(), path, MODALITIES, SHAPES, describe)
    assert not cache.is_complete(path) and not os.path.exists(path)
    assert os.path.isdir(path + ".partial")  # left for the caller, which discards it
    cache.discard_partial(path)
    assert not os.path.exists(path + ".partial")


def test_a_failing_describe_leaves_no_complete_cache(tmp_path):
    path = str(tmp_path / "features-z")

    def refuse(written):
        raise ValueError(f"{len(written)} written")

    with pytest.raises(ValueError, match="2 written"):
        cache.write_cache(iter(examples(2)), path, MODALITIES, SHAPES, refuse)
    assert not cache.is_complete(path)


def test_rewriting_replaces_an_old_cache(tmp_path):
    path = str(tmp_path / "features-r")
    cache.write_cache(iter(examples(6)), path, MODALITIES, SHAPES, describe, num_shards=4)
    cache.write_cache(iter(examples(2, seed=3)), path, MODALITIES, SHAPES, describe, num_shards=1)
    assert cache.read_meta(path)["count"] == 2
    assert sorted(os.listdir(path)) == [cache.META_FILE, "shard-000.tfrecord"]
    back = read_back(path)
    np.testing.assert_array_equal(back[1]["audio"], examples(2, seed=3)[1][1]["audio"])


def shard_examples(path):
    """The tf.train.Examples of a cache's shards, as written."""
    files = sorted(str(p) for p in pathlib.Path(path).glob("shard-*.tfrecord"))
    return [tf.train.Example.FromString(record.numpy()) for record in tf.data.TFRecordDataset(files)]


def test_frames_are_stored_as_uint8_a_quarter_of_float32(tmp_path):
    shapes = {"audio": (5, 3), "visible": (2, 32, 32, 3), "thermal": (16, 16, 1)}  # a frame sequence and a frame
    rng = np.random.default_rng(0)
    pairs = [(Recording(f"r{i}", "p", audio="a.wav"), {m: rng.uniform(size=shape).astype(np.float32)
                                                         for m, shape in shapes.items()}) for i in range(6)]
    path = str(tmp_path / "features-u")
    cache.write_cache(iter(pairs), path, tuple(shapes), shapes, describe, num_shards=2)
    assert cache.read_meta(path)["dtypes"] == {"audio": "float32", "visible": "uint8", "thermal": "uint8"}
    for example in shard_examples(path):
        stored = {m: example.features.feature[m].bytes_list.value[0] for m in shapes}
        assert len(stored["audio"]) == 4 * 15
        assert len(stored["visible"]) == 2 * 32 * 32 * 3 and len(stored["thermal"]) == 16 * 16  # one byte a value
    frames_only = str(tmp_path / "features-f")
    cache.write_cache(((r, {"visible": d["visible"]}) for r, d in pairs), frames_only, ("visible",),
                      {"visible": shapes["visible"]}, describe, num_shards=1)
    as_float32 = 6 * 4 * np.prod(shapes["visible"])
    assert as_float32 / 4.2 < os.path.getsize(pathlib.Path(frames_only, "shard-000.tfrecord")) < as_float32 / 3.8


def test_decoded_frames_survive_the_cache(tmp_path):
    """An 8-bit frame at its own size comes back exactly; a resized one within half a level (0.5 / 255)."""
    rng = np.random.default_rng(1)
    png = str(tmp_path / "frame.png")
    cv2.imwrite(png, rng.integers(0, 256, (12, 12, 3), dtype=np.uint8))
    own_size, resized = image.load_visible(png, (12, 12)), image.load_visible(png, (8, 8))
    shapes = {"visible": (12, 12, 3), "thermal": (8, 8, 3)}  # the resized frame travels in the thermal slot
    path = str(tmp_path / "features-d")
    cache.write_cache(iter([(Recording("r", "p", visible=png), {"visible": own_size, "thermal": resized})]), path,
                      ("visible", "thermal"), shapes, describe, num_shards=1)
    [back] = read_back(path)
    np.testing.assert_array_equal(back["visible"], own_size)
    assert 0 < np.abs(back["thermal"] - resized).max() <= 0.5 / 255 + 1e-7


def test_random_access_reads_what_a_pass_reads(tmp_path):
    path = str(tmp_path / "features-a")
    cache.write_cache(iter(examples(7)), path, MODALITIES, SHAPES, describe, num_shards=3)
    order = [5, 0, 6, 2, 2]
    read = cache.example_reader(path)
    indices = tf.data.Dataset.from_tensor_slices(np.array(order, np.int64)).batch(2)  # batches of 2, 2 and 1
    chosen = list(indices.map(read).unbatch().as_numpy_iterator())
    back = read_back(path)
    for index, got in zip(order, chosen):
        assert set(got) == set(back[index]) and got["index"] == index
        for key, value in back[index].items():
            np.testing.assert_array_equal(got[key], value)


def test_a_frame_outside_the_unit_range_is_refused_naming_the_recording(tmp_path):
    pairs = examples(3)
    pairs[1][1]["thermal"][0, 0, 0] = 1.5
    with pytest.raises(ValueError, match=r"^r1: thermal: expected frame values in \[0, 1\], got 0\.\d+ \.\. 1\.5"):
        cache.write_cache(iter(pairs), str(tmp_path / "features-b"), MODALITIES, SHAPES, describe)
