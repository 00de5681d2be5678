"""A TFRecord cache of decoded per-recording features.

A cache lives in `<cache_dir>/<fingerprint>/`: `shard-*.tfrecord` files and a
`meta.json` (with the SHA-256 of the shards' contents, the data's identity in
a run) written last, so a cache is used only once it is complete. Any
change of files, modalities or feature settings gives a new fingerprint and so
a new cache rather than stale data.
"""

import hashlib
import json
import logging
import os
import shutil

import tensorflow as tf

from avtfuse.console import Progress
from avtfuse.files import atomic_text
from pipelines.errors import DataError

logger = logging.getLogger(__name__)

META_FILE = "meta.json"


def cache_path(cache_dir, key):
    return os.path.join(cache_dir, key)


def is_complete(path):
    return os.path.exists(os.path.join(path, META_FILE))


def write_cache(features, path, recordings, modalities, num_shards=4, meta=None):
    """Writes the elements of `features` (from `feature_dataset`) as TFRecord shards.

    A decoding failure is reported as a DataError naming the recording's files
    (the dataset is deterministic, so the failing element is the next one).
    """
    tmp = path + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    writers = [tf.io.TFRecordWriter(os.path.join(tmp, f"shard-{i:03d}.tfrecord")) for i in range(num_shards)]
    iterator = iter(features)
    progress, written = Progress(logger, "decoded and cached", len(recordings)), 0
    try:
        while True:
            try:
                example = next(iterator)
            except StopIteration:
                break
            except tf.errors.OpError as error:
                rec = recordings[written]
                files = ", ".join(p for p in (rec.path(m) for m in modalities) if p)
                raise DataError(files, f"could not be decoded: {error.message}") from None
            writers[written % num_shards].write(_serialize(example, modalities))
            written += 1
            progress.update(written)
    finally:
        for w in writers:
            w.close()
    meta = {"count": written, "num_shards": num_shards, **(meta or {})}
    with open(os.path.join(tmp, META_FILE), "w") as f:
        json.dump({**meta, "content_sha256": content_sha256(tmp, num_shards)}, f, indent=2)
    shutil.rmtree(path, ignore_errors=True)
    os.replace(tmp, path)
    return written


def content_sha256(path, num_shards):
    """SHA-256 (hex) of a cache's shards, in shard order: the identity of the decoded data."""
    content = hashlib.sha256()
    for index in range(num_shards):
        with open(os.path.join(path, f"shard-{index:03d}.tfrecord"), "rb") as shard:
            for block in iter(lambda: shard.read(1 << 20), b""):
                content.update(block)
    return content.hexdigest()


def read_meta(path):
    """A complete cache's meta.json; a cache written before contents were hashed gets its hash added."""
    meta_path = os.path.join(path, META_FILE)
    with open(meta_path) as f:
        meta = json.load(f)
    if "content_sha256" not in meta:
        meta["content_sha256"] = content_sha256(path, meta["num_shards"])
        atomic_text(meta_path, json.dumps(meta, indent=2))
    return meta


def read_cache(path, shapes):
    """Reads a cache back as per-recording feature dicts (deterministic order within shards).

    `shapes` maps each modality to its example shape (FeatureConfig.shapes).
    """
    with open(os.path.join(path, META_FILE)) as f:
        num_shards = json.load(f)["num_shards"]
    files = [os.path.join(path, f"shard-{i:03d}.tfrecord") for i in range(num_shards)]
    spec = {k: tf.io.FixedLenFeature([], tf.string) for k in (*shapes, "recorded", "recording")}
    spec.update(index=tf.io.FixedLenFeature([], tf.int64), label=tf.io.FixedLenFeature([], tf.int64))

    def parse(record):
        raw = tf.io.parse_single_example(record, spec)
        example = {
            "index": tf.cast(raw["index"], tf.int32),
            "label": tf.cast(raw["label"], tf.int32),
            "recording": raw["recording"],
            "recorded": tf.ensure_shape(tf.io.parse_tensor(raw["recorded"], tf.float32), [len(shapes)]),
        }
        for m, shape in shapes.items():
            example[m] = tf.ensure_shape(tf.io.parse_tensor(raw[m], tf.float32), shape)
        return example

    return tf.data.Dataset.from_tensor_slices(files).interleave(
        tf.data.TFRecordDataset, cycle_length=num_shards,
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True,
    ).map(parse, num_parallel_calls=tf.data.AUTOTUNE)


def _serialize(example, modalities):
    def as_bytes(tensor):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[tf.io.serialize_tensor(tensor).numpy()]))

    def as_int(value):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))

    feature = {m: as_bytes(example[m]) for m in modalities}
    feature.update(
        recorded=as_bytes(example["recorded"]),
        recording=tf.train.Feature(bytes_list=tf.train.BytesList(value=[example["recording"].numpy()])),
        index=as_int(example["index"]),
        label=as_int(example["label"]),
    )
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()
