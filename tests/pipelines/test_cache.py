"""The TFRecord feature cache: raw float32 bytes, exact round trip, meta written last, content hash."""

import hashlib
import json
import os
import pathlib

import numpy as np
import pytest

from pipelines import cache, features
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
        assert got["audio"].dtype == np.float32 and got["thermal"].shape == SHAPES["thermal"]
        # A modality not recorded is zeros of its shape.
        np.testing.assert_array_equal(got["thermal"], decoded.get("thermal", np.zeros(SHAPES["thermal"])))


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
