"""A TFRecord cache of decoded per-recording features.

A cache lives in `<cache_dir>/<fingerprint>-v<FORMAT_VERSION>/`:
`shard-*.tfrecord` files and a `meta.json` (the recordings in cache order,
their people, groups and given splits, the example shapes and storage dtypes,
where each record lies in its shard, the problems found (per skipped recording), and the SHA-256 of
the shards' contents, the data's identity in a run) written last, so a cache
is used only once it is complete. Any change of files, modalities or feature
settings gives a new fingerprint and so a new cache rather than stale data.
Each example holds `index` (its position in the cache), `recorded` float32
[M], `steps` int64 [M] (the real steps of each sequence modality: the length
of a shorter `.npy` feature sequence before its zero padding, T for decoded
media and for a modality the recording lacks, 0 for a single frame or
vector) and each modality as raw bytes (zeros where not recorded): frames
([H, W, C] or [T, H, W, C]) as uint8 round(255 x) (pipelines.image.to_uint8;
a quarter of float32), everything else (log-mel, MFCCs, `.npy` features) as
float32. Readers give float32 either way: frames as k / 255, exact for 8-bit
frames at their own size, within 0.5 / 255 otherwise. The folder name and
meta.json carry FORMAT_VERSION, so a cache written in an older layout (e.g.
float32 frames) is never read.

The shards' hash is checked against meta.json once per process (`is_intact`), and again whenever a shard's
size or modification time changed since; a cache that fails it is written again. Writers hold the cache's
lock (pipelines.sources, avtfuse.locks).
"""

import hashlib
import json
import logging
import os
import shutil

import numpy as np
import tensorflow as tf

from pipelines.features import sequence_length
from pipelines.image import UINT8_MAX, to_uint8

from avtfuse.files import atomic_text, inside

logger = logging.getLogger(__name__)

META_FILE = "meta.json"
# 2: examples hold `steps`; 3: frames as uint8, record offsets in meta.json; 4: meta.json's `skipped` lists each
# skipped recording's problems ([[file, reason], ...] per recording). A new layout gets a new number, hence new
# folders (old caches are left unread).
FORMAT_VERSION = 4
# TFRecord framing (tensorflow.org/tutorials/load_data/tfrecord): uint64 length, uint32 CRC of the length,
# the data, uint32 CRC of the data.
RECORD_HEADER_BYTES, RECORD_FOOTER_BYTES = 12, 4
# {cache path: the (size, mtime_ns) of its shards when their hash last matched meta.json} in this process.
_intact_shards = {}


def record_written(partial, count):
    """Called by write_cache after each record it writes: `partial` the folder being written, `count` the records
    written so far. Does nothing; a test replaces it to pause a writer."""


def cache_path(cache_dir, key):
    """The folder of the cache of `key` in this layout (FORMAT_VERSION is part of its name)."""
    return os.path.join(cache_dir, f"{key}-v{FORMAT_VERSION}")


def is_complete(path):
    return os.path.exists(os.path.join(path, META_FILE))


def storage_dtype(shape):
    """How a modality of example `shape` is stored: "uint8" for frames ([H, W, C], [T, H, W, C]), "float32"
    for everything else (log-mel [frames, mels], `.npy` features [D] or [T, D])."""
    return "uint8" if len(shape) in (3, 4) else "float32"


def write_cache(examples, path, modalities, shapes, describe, num_shards=4, indices=None):
    """Writes (recording, {modality: float32 array}) pairs (from `features.extract_features`) as TFRecord shards.

    A decoded dict's `steps` attribute (features.Decoded), where there is one,
    gives the real step counts of its shorter sequences; every other sequence
    modality, recorded or not, counts T steps.

    Frames are stored as uint8 (`storage_dtype`; ValueError naming the
    recording when a frame holds values outside [0, 1]).

    `describe(written)` -> dict of meta entries for the list of recordings
    written, in cache order. Returns that list. `indices`: the `index` each
    example holds, in order (default: its position; a corrupted cache,
    pipelines.corruptions.features, holds its recordings' indices in the clean
    cache, so that a SplitData reads it as it reads the clean one; `describe`
    then lists them as meta.json's `indices`, by which example_reader finds
    them). The shards are written under
    `<path>.partial` and moved into place with meta.json only when `examples`
    is exhausted without an exception.
    """
    tmp = inside(path + ".partial", os.path.dirname(path) or ".")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    writers = [tf.io.TFRecordWriter(os.path.join(tmp, f"shard-{i:03d}.tfrecord")) for i in range(num_shards)]
    written, records, shard_ends = [], [], [0] * num_shards
    try:
        for recording, decoded in examples:
            shard = len(written) % num_shards
            try:
                serialized = _serialize(len(written) if indices is None else indices[len(written)], decoded,
                                        modalities, shapes)
            except ValueError as error:
                raise ValueError(f"{recording.recording}: {error}") from None
            writers[shard].write(serialized)
            records.append([shard, shard_ends[shard] + RECORD_HEADER_BYTES, len(serialized)])
            shard_ends[shard] += RECORD_HEADER_BYTES + len(serialized) + RECORD_FOOTER_BYTES
            written.append(recording)
            record_written(tmp, len(written))
    finally:
        for w in writers:
            w.close()
    meta = {"format": FORMAT_VERSION, "count": len(written), "num_shards": num_shards,
            "shapes": {m: list(shapes[m]) for m in modalities},
            "dtypes": {m: storage_dtype(shapes[m]) for m in modalities}, "records": records, **describe(written)}
    meta["content_sha256"] = content_sha256(tmp, num_shards)
    atomic_text(os.path.join(tmp, META_FILE), json.dumps(meta, indent=2))
    shutil.rmtree(inside(path, os.path.dirname(path) or "."), ignore_errors=True)
    os.replace(tmp, path)
    _intact_shards[path] = _shard_stats(path, num_shards)
    return written


def discard_partial(path):
    """Removes an unfinished cache written to `path` (after its input was refused)."""
    shutil.rmtree(inside(path + ".partial", os.path.dirname(path) or "."), ignore_errors=True)


def content_sha256(path, num_shards):
    """SHA-256 (hex) of a cache's shards, in shard order: the identity of the decoded data."""
    content = hashlib.sha256()
    for index in range(num_shards):
        with open(os.path.join(path, f"shard-{index:03d}.tfrecord"), "rb") as shard:
            for block in iter(lambda: shard.read(1 << 20), b""):
                content.update(block)
    return content.hexdigest()


def is_intact(path):
    """Whether the complete cache at `path` still holds what its meta.json says: the SHA-256 of its shards is
    checked once per process, and again when a shard's size or modification time changed. Logs one warning
    naming the cache when it does not."""
    meta = read_meta(path)
    stats = _shard_stats(path, meta["num_shards"])
    if stats is not None and _intact_shards.get(path) == stats:
        return True
    if stats is None or content_sha256(path, meta["num_shards"]) != meta.get("content_sha256"):
        logger.warning("%s: its shards %s; writing it again", path, "are missing" if stats is None else
                       "no longer match the content_sha256 of its meta.json (changed on disk)")
        return False
    _intact_shards[path] = stats
    return True


def _shard_stats(path, num_shards):
    """[(size, mtime_ns)] of a cache's shards in shard order, or None when one is missing."""
    try:
        return [(stat.st_size, stat.st_mtime_ns) for stat in
                (os.stat(os.path.join(path, f"shard-{i:03d}.tfrecord")) for i in range(num_shards))]
    except FileNotFoundError:
        return None


def read_meta(path):
    """A complete cache's meta.json as a dict."""
    with open(os.path.join(path, META_FILE)) as f:
        return json.load(f)


def read_cache(path):
    """Reads a cache back as per-recording dicts {"index", "recorded", "steps", <modality> float32...}
    (deterministic order: index order); refuses a cache of another FORMAT_VERSION."""
    meta = _checked_meta(path)
    return tf.data.Dataset.from_tensor_slices(_shard_files(path, meta)).interleave(
        tf.data.TFRecordDataset, cycle_length=meta["num_shards"],
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True,
    ).map(_parser(meta), num_parallel_calls=tf.data.AUTOTUNE)


def example_reader(path):
    """Random access to a cache: a function int64 indices [B] (a tensor; the records' `index`) -> those
    recordings' dicts as read_cache gives them, batched (every value gets a leading axis B), for tf.data maps. Each
    call reads only those B records' bytes from their shards (`read_records`, by meta.json's offsets): nothing else
    is held in memory. Refuses a cache of another FORMAT_VERSION."""
    meta = _checked_meta(path)
    files, parse = _shard_files(path, meta), _parser(meta)
    records = dict(zip(meta["indices"], meta["records"])) if "indices" in meta else meta["records"]

    def read_serialized(indices):
        return tf.constant(read_records(files, records, indices.numpy()), tf.string)

    def read(indices):
        serialized = tf.py_function(read_serialized, [indices], tf.string)
        return parse(tf.ensure_shape(serialized, indices.shape))

    return read


def read_records(files, records, indices):
    """The serialized records of cache `indices` (ints): a list of bytes, each read from its shard in `files` at
    its (shard, offset, length) in `records` (meta.json's, by position, or a dict by index); ValueError naming a
    truncated shard."""
    chosen = []
    for index in indices:
        shard, offset, length = records[int(index)]
        with open(files[shard], "rb") as file:
            data = os.pread(file.fileno(), length, offset)
        if len(data) != length:
            raise ValueError(f"{files[shard]}: truncated, record {int(index)} ends past the end of the file")
        chosen.append(data)
    return chosen


def _checked_meta(path):
    """meta.json of the cache at `path`; ValueError naming it when its FORMAT_VERSION is not this one."""
    meta = read_meta(path)
    if meta.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: a feature cache of format {meta.get('format', 1)}, this version reads format "
                         f"{FORMAT_VERSION}; delete it, or let prepare() write a new one")
    return meta


def _shard_files(path, meta):
    return [os.path.join(path, f"shard-{i:03d}.tfrecord") for i in range(meta["num_shards"])]


def _parser(meta):
    """A function serialized tf.train.Example (a scalar, or a vector [B]) -> the example dict, every modality
    float32 of its shape (with a leading axis B for a vector)."""
    shapes = {m: tuple(shape) for m, shape in meta["shapes"].items()}
    dtypes = {m: tf.dtypes.as_dtype(dtype) for m, dtype in meta["dtypes"].items()}
    spec = {m: tf.io.FixedLenFeature([], tf.string) for m in shapes}
    spec.update(index=tf.io.FixedLenFeature([], tf.int64),
                recorded=tf.io.FixedLenFeature([len(shapes)], tf.float32),
                steps=tf.io.FixedLenFeature([len(shapes)], tf.int64))

    def parse(records):
        single = records.shape.rank == 0
        raw = tf.io.parse_single_example(records, spec) if single else tf.io.parse_example(records, spec)
        example = {"index": tf.cast(raw["index"], tf.int32), "recorded": raw["recorded"], "steps": raw["steps"]}
        for m, shape in shapes.items():
            values = tf.io.decode_raw(raw[m], dtypes[m])
            values = tf.reshape(values, shape) if single else tf.reshape(values, tf.concat([[-1], shape], 0))
            example[m] = tf.cast(values, tf.float32) / UINT8_MAX if dtypes[m] == tf.uint8 else values
        return example

    return parse


def _serialize(index, decoded, modalities, shapes):
    """One tf.train.Example: raw bytes per modality in its `storage_dtype` (zeros where not recorded), real step
    counts."""
    real = getattr(decoded, "steps", {})
    steps = [int(real.get(m, sequence_length(shapes[m]))) if m in decoded else sequence_length(shapes[m])
             for m in modalities]
    feature = {
        "index": tf.train.Feature(int64_list=tf.train.Int64List(value=[index])),
        "recorded": tf.train.Feature(float_list=tf.train.FloatList(value=[float(m in decoded) for m in modalities])),
        "steps": tf.train.Feature(int64_list=tf.train.Int64List(value=steps)),
    }
    for m in modalities:
        values = decoded[m] if m in decoded else np.zeros(shapes[m], np.float32)
        stored = to_uint8(values, m) if storage_dtype(shapes[m]) == "uint8" else np.asarray(values, np.float32)
        data = np.ascontiguousarray(stored).tobytes()
        feature[m] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[data]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()
