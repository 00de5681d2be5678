"""The TFRecord feature cache: complete only once written, exact round trip, decode errors named."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from pipelines import cache
from pipelines.errors import DataError
from pipelines.recording import Recording

SHAPES = {"audio": (5, 3), "thermal": (4, 4, 1)}


def examples(count, rng):
    return [{
        "index": i, "recording": f"r{i}".encode(), "label": i % 2,
        "recorded": np.array([1.0, float(i % 3 != 0)], np.float32),
        "audio": rng.normal(size=SHAPES["audio"]).astype(np.float32),
        "thermal": rng.uniform(size=SHAPES["thermal"]).astype(np.float32),
    } for i in range(count)]


def as_dataset(rows):
    return tf.data.Dataset.from_tensor_slices({k: np.stack([r[k] for r in rows]) for k in rows[0]})


def test_round_trip_is_exact_and_ordered(tmp_path):
    rows = examples(7, np.random.default_rng(0))
    path = str(tmp_path / "features-x")
    recordings = [Recording(f"r{i}", "p") for i in range(7)]
    assert not cache.is_complete(path)
    assert cache.write_cache(as_dataset(rows), path, recordings, ("audio", "thermal"), num_shards=3,
                             meta={"note": 1}) == 7
    assert cache.is_complete(path) and not os.path.exists(path + ".partial")
    assert json.load(open(os.path.join(path, cache.META_FILE)))["note"] == 1
    back = sorted(({k: v.numpy() for k, v in e.items()} for e in cache.read_cache(path, SHAPES)),
                  key=lambda e: e["index"])
    for row, got in zip(rows, back):
        for key in ("audio", "thermal", "recorded"):
            np.testing.assert_array_equal(row[key], got[key])
        assert got["recording"] == row["recording"] and got["label"] == row["label"]


def test_decode_failure_names_the_recording_files(tmp_path):
    def failing(example):
        tf.debugging.assert_less(example["index"], tf.cast(2, example["index"].dtype), message="bad bytes")
        return example

    stream = as_dataset(examples(4, np.random.default_rng(1))).map(failing)
    recordings = [Recording(f"r{i}", "p", audio=f"/data/r{i}.wav") for i in range(4)]
    with pytest.raises(DataError, match=r"/data/r2\.wav: could not be decoded"):
        cache.write_cache(stream, str(tmp_path / "features-y"), recordings, ("audio", "thermal"))
    assert not cache.is_complete(str(tmp_path / "features-y"))
