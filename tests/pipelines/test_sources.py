"""The feature cache as runs share it: one writer at a time (the next waits, then reads), a key that follows the
files (every frame of a frame folder) and the decoders, shards whose hash is checked again when they change."""

import logging
import os
import threading
import time

import cv2
import numpy as np
from pipelines import cache, features, sources
from pipelines.dataset import DataConfig, data_sha256, prepare
from pipelines.errors import ErrorPolicy
from pipelines.recording import Recording
from tests.pipelines.conftest import TINY

N_TREE = 3 * 3 * 2  # recordings of the `tree` fixture


def counting_decodes(monkeypatch):
    """Counts features.decode_recording calls (from any thread): returns the list of decoded recording ids."""
    decoded, decode = [], features.decode_recording

    def counted(recording, *args, **kwargs):
        decoded.append(recording.recording)
        return decode(recording, *args, **kwargs)

    monkeypatch.setattr(features, "decode_recording", counted)
    return decoded


def test_a_second_writer_waits_for_the_first_and_reads_its_cache(tree, tmp_path, monkeypatch, caplog):
    """The first writer pauses after its first record; the second, started then, must neither delete nor publish
    the first's unfinished shards: it waits for the lock, then reads the finished cache without decoding."""
    config = DataConfig(source=tree, features=TINY, cache_dir=str(tmp_path / "cache"))
    paused, resume = threading.Event(), threading.Event()

    def record_written(partial, count):
        if threading.current_thread().name == "first" and count == 1:
            paused.set()
            assert resume.wait(60)

    monkeypatch.setattr(cache, "record_written", record_written)
    decoded = counting_decodes(monkeypatch)
    caplog.set_level(logging.INFO, logger="avtfuse.locks")
    results, errors = {}, []

    def run(name):
        try:
            results[name] = prepare(config)
        except Exception as error:  # reported below, with the thread's name
            errors.append(f"{name}: {error!r}")

    first = threading.Thread(target=run, args=("first",), name="first")
    first.start()
    assert paused.wait(60)
    second = threading.Thread(target=run, args=("second",), name="second")
    second.start()
    deadline = time.monotonic() + 60  # until the second waits for the lock (or, unlocked, has run to its end)
    while second.is_alive() and not any("waiting for" in r.getMessage() for r in caplog.records):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    resume.set()
    first.join(60)
    second.join(60)
    assert not errors
    [waited] = [r.getMessage() for r in caplog.records if "waiting for" in r.getMessage()]
    assert f"pid {os.getpid()}" in waited and "feature cache" in waited
    assert len(decoded) == N_TREE  # the second decoded nothing
    assert results["first"].cache_path == results["second"].cache_path
    assert results["first"].content_hash == results["second"].content_hash
    path = results["first"].cache_path
    assert not os.path.exists(path + ".partial")
    meta = cache.read_meta(path)
    assert meta["count"] == N_TREE and cache.content_sha256(path, meta["num_shards"]) == meta["content_sha256"]


def frame_folder_recordings(root, count=4):
    """Recordings whose visible input is a folder holding one PNG frame (random, 16 x 16)."""
    rng = np.random.default_rng(0)
    recordings = []
    for i in range(count):
        folder = root / f"rec{i}"
        folder.mkdir(parents=True)
        cv2.imwrite(str(folder / "frame-000.png"), rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
        recordings.append(Recording(f"rec{i}", f"p{i % 2}", visible=str(folder)))
    return recordings


def test_a_rewritten_frame_in_a_frame_folder_rebuilds_the_cache(tmp_path, monkeypatch):
    recordings = frame_folder_recordings(tmp_path / "frames")
    monkeypatch.setattr(sources, "load_recordings", lambda config, policy: recordings)
    config = DataConfig(source=str(tmp_path / "frames"), modalities=("visible",), features=TINY,
                        cache_dir=str(tmp_path / "cache"))
    before = sources.cached_features(config, ErrorPolicy("raise")).path
    folder = recordings[1].visible
    folder_times = os.stat(folder)
    frame = os.path.join(folder, "frame-000.png")
    cv2.imwrite(frame, np.full((16, 16, 3), 7, np.uint8))  # same name, new content
    os.utime(frame, ns=(folder_times.st_atime_ns, folder_times.st_mtime_ns + 10**9))
    os.utime(folder, ns=(folder_times.st_atime_ns, folder_times.st_mtime_ns))  # the folder looks unchanged
    decoded = counting_decodes(monkeypatch)
    after = sources.cached_features(config, ErrorPolicy("raise")).path
    assert after != before and len(decoded) == len(recordings)
    back = {int(e["index"]): e["visible"] for e in cache.read_cache(after).as_numpy_iterator()}
    np.testing.assert_allclose(back[1], 7 / 255, atol=1e-6)
    assert data_sha256(config) == cache.read_meta(after)["content_sha256"] != cache.read_meta(before)[
        "content_sha256"]


def test_the_key_holds_the_decoder_versions(tmp_path, monkeypatch):
    recordings = frame_folder_recordings(tmp_path / "frames", count=1)
    key = features.fingerprint(recordings, ("visible",), TINY, "middle")
    assert set(features.decoder_versions()) == {"soundfile", "libsndfile", "soxr", "opencv", "librosa", "numpy",
                                                "tensorflow"}
    monkeypatch.setattr(cv2, "__version__", "0.0.1")
    assert features.fingerprint(recordings, ("visible",), TINY, "middle") != key


def test_shards_are_hashed_once_per_process_and_again_when_they_change(tree, tmp_path, monkeypatch, caplog):
    config = DataConfig(source=tree, modalities=("audio",), features=TINY, cache_dir=str(tmp_path / "cache"))
    path = sources.cached_features(config, ErrorPolicy("raise")).path
    hashed, content_sha256 = [], cache.content_sha256

    def counted(*args):
        hashed.append(args)
        return content_sha256(*args)

    monkeypatch.setattr(cache, "content_sha256", counted)
    decoded = counting_decodes(monkeypatch)
    sources.cached_features(config, ErrorPolicy("raise"))
    assert hashed == [] and decoded == []  # the writer knows its own shards
    monkeypatch.setattr(cache, "_intact_shards", {})  # as in a new process
    sources.cached_features(config, ErrorPolicy("raise"))
    sources.cached_features(config, ErrorPolicy("raise"))
    assert len(hashed) == 1 and decoded == []
    shard = os.path.join(path, "shard-000.tfrecord")
    data = bytearray(open(shard, "rb").read())
    data[-10] ^= 0xFF  # one flipped byte: same size, a new modification time
    with open(shard, "wb") as handle:
        handle.write(data)
    with caplog.at_level(logging.WARNING, logger="pipelines.cache"):
        again = sources.cached_features(config, ErrorPolicy("raise")).path
    assert again == path and len(decoded) == N_TREE
    [why] = [r.getMessage() for r in caplog.records if r.name == "pipelines.cache"]
    assert path in why and "content_sha256" in why
    meta = cache.read_meta(path)
    assert content_sha256(path, meta["num_shards"]) == meta["content_sha256"]


def test_the_synthetic_set_is_written_under_its_lock(tmp_path, monkeypatch):
    """A process that finds the set's lock held waits, then uses the set the holder wrote (no second write)."""
    from avtfuse import locks
    from pipelines.synthetic import speakingfaces

    config = DataConfig(synthetic="speakingfaces", synthetic_subjects=2, cache_dir=str(tmp_path / "cache"))
    written = []

    def write(root, **settings):
        written.append(root)
        os.makedirs(root, exist_ok=True)

    monkeypatch.setattr(speakingfaces, "write_speakingfaces", write)
    source = sources.synthetic_source(config)
    assert written == [source] and os.path.exists(os.path.join(source, "complete"))
    os.remove(os.path.join(source, "complete"))
    with locks.exclusive(source, "synthetic set"):
        waiter = threading.Thread(target=sources.synthetic_source, args=(config,))
        waiter.start()
        time.sleep(0.2)
        assert waiter.is_alive() and len(written) == 1  # waiting for the lock
        open(os.path.join(source, "complete"), "w").close()  # as the holder finishing the set
    waiter.join(30)
    assert not waiter.is_alive() and len(written) == 1
