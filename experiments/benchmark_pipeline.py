"""Prints, as JSON, the input pipeline's speed: samples per second cold (decode and
cache) and cached, and the in-graph log-mel against librosa on the same clips.

    python -m experiments.benchmark_pipeline [--subjects 6] [--image-size 48] [--n-mels 64]
"""

import argparse
import json
import os
import tempfile
import time

import librosa
import numpy as np
import tensorflow as tf

from pipelines import audio
from pipelines.dataset import DataConfig, prepare
from pipelines.features import FeatureConfig


def samples_per_second(data, batch_size):
    start, count = time.perf_counter(), 0
    for _, labels in data.training_batches(0, batch_size, seed=0)[0]:
        count += int(labels.shape[0])
    return count / (time.perf_counter() - start)


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=6, help="people in the synthetic set (default 6)")
    parser.add_argument("--image-size", type=int, default=48, help="frame size in pixels (default 48)")
    parser.add_argument("--n-mels", type=int, default=64, help="mel bands (default 64)")
    parser.add_argument("--audio-samples", type=int, default=66150, help="samples per clip (default 66150)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--clips", type=int, default=32, help="clips for the log-mel comparison (default 32)")
    args = parser.parse_args(argv)
    feature_config = FeatureConfig(audio_samples=args.audio_samples, n_mels=args.n_mels,
                                   image_size=(args.image_size, args.image_size))
    with tempfile.TemporaryDirectory() as cache_dir:
        config = DataConfig(features=feature_config, synthetic_subjects=args.subjects, cache_dir=cache_dir)
        prepare(config)  # writes the synthetic set, so that "cold" times decoding alone
        for entry in os.listdir(cache_dir):
            if entry.startswith("features-"):
                tf.io.gfile.rmtree(os.path.join(cache_dir, entry))
        start = time.perf_counter()
        data = prepare(config)
        recordings = data.assignment.shape[0]
        cold = recordings / (time.perf_counter() - start)
        cached = samples_per_second(data, args.batch_size)
    rng = np.random.default_rng(0)
    clips = (0.1 * rng.standard_normal((args.clips, args.audio_samples))).astype(np.float32)
    tf_rate, librosa_rate = log_mel_speed(clips, feature_config)
    print(json.dumps({
        "recordings": recordings,
        "cold_recordings_per_second": round(cold, 1),
        "cached_samples_per_second": round(cached, 1),
        "log_mel_clips_per_second": {"tf_signal": round(tf_rate, 1), "librosa": round(librosa_rate, 1)},
        "settings": feature_config.to_dict(),
    }, indent=2))


if __name__ == "__main__":
    main()
