"""The input pipeline's speed: cold cache building (decode, resample, speech window, log-mel, write) in recordings
per second on 48 kHz 3.7 s WAVs, cached training samples per second on the synthetic set (shuffled, and P x K
batches read from the cache on disk), the cache's size per recording, and the in-graph log-mel against librosa on
the same clips (python -m experiments.benchmark_pipeline)."""

import os
import tempfile
import time

import librosa
import numpy as np
import soundfile
import tensorflow as tf

from pipelines import audio, cache, manifest
from pipelines.batching import BatchPolicy, training_batches
from pipelines.dataset import DataConfig, prepare
from pipelines.recording import Recording

WAV_RATE, WAV_SECONDS = 48000, 3.7


def write_wavs(folder, count, people=8):
    """`count` 16-bit 48 kHz WAVs of 3.7 s (silence, a voiced tone with noise, silence) and their manifest."""
    rng = np.random.default_rng(0)
    time_axis = np.arange(int(WAV_RATE * WAV_SECONDS)) / WAV_RATE
    recordings = []
    for index in range(count):
        person = index % people
        voice = np.sin(2 * np.pi * (110 + 20 * person) * time_axis) * ((time_axis > 0.8) & (time_axis < 2.6))
        signal = (0.3 * voice + 0.003 * rng.standard_normal(len(time_axis))).astype(np.float32)
        path = os.path.join(folder, f"{index:04d}.wav")
        soundfile.write(path, signal, WAV_RATE, subtype="PCM_16")
        recordings.append(Recording(recording=str(index), person=str(person), audio=path))
    return manifest.write_manifest(recordings, os.path.join(folder, "manifest.csv"))


def cold_rate(config):
    """Recordings per second of a first prepare() (nothing cached): decoding, features and writing the cache."""
    start = time.perf_counter()
    data = prepare(config)
    return len(data.recordings) / (time.perf_counter() - start)


def samples_per_second(data, batch_size, sampler):
    """Training samples per second of one epoch of `pipelines.batching.training_batches` with `sampler` ("random", or "pk"
    with 8 people per batch, or every person of a smaller set)."""
    start, count = time.perf_counter(), 0
    people = min(8, data.num_people)
    policy = BatchPolicy(batch_size, seed=0, sampler=sampler, people_per_batch=people)
    for _, labels in training_batches(data, 0, policy)[0]:
        count += int(labels.shape[0])
    return count / (time.perf_counter() - start)


def cache_bytes_per_recording(data):
    """Bytes of a cache's shards per recording."""
    shards = [entry.path for entry in os.scandir(data.cache_path) if entry.name.endswith(".tfrecord")]
    return sum(os.path.getsize(path) for path in shards) / len(data.recordings)


def log_mel_speed(clips, config):
    """Clips per second of tf.signal (one batched graph call) and of librosa (a loop)."""
    waveforms = tf.constant(clips)
    compute = tf.function(lambda w: audio.log_mel_spectrogram(
        w, config.sample_rate, config.n_mels, config.n_fft, config.hop_length))
    compute(waveforms)  # trace once
    start = time.perf_counter()
    compute(waveforms).numpy()
    tf_rate = len(clips) / (time.perf_counter() - start)
    start = time.perf_counter()
    for clip in clips:
        librosa.power_to_db(librosa.feature.melspectrogram(
            y=clip, sr=config.sample_rate, n_fft=config.n_fft, hop_length=config.hop_length,
            n_mels=config.n_mels), top_db=80.0)
    librosa_rate = len(clips) / (time.perf_counter() - start)
    return tf_rate, librosa_rate


def pipeline_speed(features, recordings=400, subjects=6, batch_size=32, clips=32):
    """The measurements, a JSON-ready dict: `recordings` WAVs cached cold at `features` (a FeatureConfig), the
    synthetic set of `subjects` people cached cold and read back at `batch_size`, `clips` clips' log-mels."""
    librosa.effects.trim(np.zeros(4096, np.float32))  # librosa loads its submodules on first use: not decoding
    with tempfile.TemporaryDirectory() as folder:
        csv = write_wavs(folder, recordings)
        wav_rate = cold_rate(DataConfig(source=csv, modalities=("audio",), features=features,
                                        cache_dir=os.path.join(folder, "cache")))
    with tempfile.TemporaryDirectory() as cache_dir:
        config = DataConfig(features=features, synthetic_subjects=subjects, cache_dir=cache_dir)
        prepare(config)  # writes the synthetic set, so that the second prepare times decoding alone
        for entry in os.listdir(cache_dir):
            if entry.startswith("features-"):
                tf.io.gfile.rmtree(os.path.join(cache_dir, entry))
        synthetic_rate = cold_rate(config)
        data = prepare(config)
        cached = {sampler: samples_per_second(data, batch_size, sampler) for sampler in ("random", "pk")}
        cache_size = cache_bytes_per_recording(data)
        stored = cache.read_meta(data.cache_path)["dtypes"]
    rng = np.random.default_rng(0)
    waveforms = (0.1 * rng.standard_normal((clips, features.audio_samples))).astype(np.float32)
    tf_rate, librosa_rate = log_mel_speed(waveforms, features)
    return {
        "cold_wav_recordings_per_second": round(wav_rate, 1),
        "wav_recordings": recordings,
        "wav_format": f"{WAV_RATE} Hz, {WAV_SECONDS} s, 16-bit mono, resampled to {features.sample_rate} Hz",
        "cold_synthetic_recordings_per_second": round(synthetic_rate, 1),
        "cached_samples_per_second": round(cached["random"], 1),
        "cached_pk_samples_per_second": round(cached["pk"], 1),
        "cache_bytes_per_recording": round(cache_size),
        "cache_dtypes": stored,
        "log_mel_clips_per_second": {"tf_signal": round(tf_rate, 1), "librosa": round(librosa_rate, 1)},
        "threads": os.cpu_count(),
        "settings": features.to_dict(),
    }
