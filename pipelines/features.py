"""Feature settings, input validation, and the read -> decode -> features stage."""

import dataclasses
import hashlib
import json
import logging
import os

import tensorflow as tf

from avtfuse.config import Config
from avtfuse.console import Progress
from avtfuse.contract import canonical_modalities
from pipelines import audio, image
from pipelines.errors import DataError, ErrorPolicy

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class FeatureConfig(Config):
    """How raw files become model inputs.

    Audio is resampled to `sample_rate` (Hz), cut or zero-padded to
    `audio_samples` samples and turned into a log-mel spectrogram
    [audio_frames, n_mels] (dB). Frames are resized to `image_size` (H, W) and
    scaled to [0, 1]; thermal frames are mapped to one channel with
    `thermal_palette` ("gray" luminance, or a cv2 colormap name to invert).
    The paper's settings are `FeatureConfig.paper()`.
    """

    sample_rate: int = 44100
    audio_samples: int = 66150
    n_mels: int = 64
    n_fft: int = 2048
    hop_length: int = 512
    image_size: tuple = (48, 48)
    thermal_palette: str = "gray"

    def __post_init__(self):
        self.check_int("sample_rate", "audio_samples", "n_mels", "n_fft", "hop_length")
        self.check_pair("image_size")
        if min(self.image_size) < 8:
            self._fail("image_size", "(H, W) with H, W >= 8")

    @classmethod
    def paper(cls):
        """The seed paper's shapes: 44.1 kHz cut to 301,056 samples (589 x 128), 224 x 224 frames."""
        return cls(audio_samples=301056, n_mels=128, image_size=(224, 224))

    @property
    def audio_frames(self):
        return audio.num_frames(self.audio_samples, self.hop_length)

    def shapes(self, modalities):
        """Per-example tensor shapes of the run's modalities."""
        all_shapes = {
            "audio": (self.audio_frames, self.n_mels),
            "visible": (*self.image_size, 3),
            "thermal": (*self.image_size, 1),
        }
        return {m: all_shapes[m] for m in canonical_modalities(modalities)}


def validate_recordings(recordings, modalities, policy=None):
    """Decodes every file of the run's modalities once in Python.

    Returns (valid_recordings, audio_rates) where audio_rates[i] is the native
    sample rate of recording i's audio (0 when it has none). Bad files raise
    a DataError naming the file, or are skipped and counted under the policy.
    """
    modalities = canonical_modalities(modalities)
    policy = policy or ErrorPolicy("raise")
    valid, rates = [], []
    progress = Progress(logger, "validated", len(recordings))
    for count, rec in enumerate(recordings, 1):
        progress.update(count - 1)
        try:
            rate = 0
            if "audio" in modalities and rec.audio:
                rate = audio.inspect_audio(rec.audio).sample_rate
            for m in ("visible", "thermal"):
                if m in modalities and rec.path(m):
                    image.read_image(rec.path(m))
        except DataError as error:
            policy.handle(error)
            continue
        if not any(rec.path(m) for m in modalities):
            policy.handle(DataError(rec.recording, f"has none of the modalities {modalities}"))
            continue
        valid.append(rec)
        rates.append(rate)
    progress.update(len(recordings))
    return valid, rates


def feature_dataset(recordings, labels, audio_rates, modalities, config):
    """tf.data of per-recording features in the order of `recordings`.

    Each element is a dict: "index" int32, "recording" string, "label" int32,
    "recorded" float32 [M] (1 where the recording has that modality), and the
    run's modality tensors (zeros where not recorded), shapes as `config.shapes`.
    """
    modalities = canonical_modalities(modalities)
    table = {
        "index": tf.range(len(recordings), dtype=tf.int32),
        "recording": tf.constant([r.recording for r in recordings]),
        "label": tf.constant(labels, dtype=tf.int32),
        "audio_rate": tf.constant(audio_rates, dtype=tf.int64),
    }
    for m in modalities:
        table[f"{m}_path"] = tf.constant([r.path(m) or "" for r in recordings])
    shapes = config.shapes(modalities)
    loaders = {
        "audio": lambda row: audio.load_log_mel(
            row["audio_path"], row["audio_rate"], config.sample_rate, config.audio_samples,
            config.n_mels, config.n_fft, config.hop_length),
        "visible": lambda row: image.tf_load_visible(row["visible_path"], config.image_size),
        "thermal": lambda row: image.tf_load_thermal(
            row["thermal_path"], config.image_size, config.thermal_palette),
    }

    def extract(row):
        example = {k: row[k] for k in ("index", "recording", "label")}
        recorded = []
        for m in modalities:
            has_file = tf.strings.length(row[f"{m}_path"]) > 0
            example[m] = tf.cond(
                has_file, lambda m=m: loaders[m](row), lambda m=m: tf.zeros(shapes[m], tf.float32))
            example[m] = tf.ensure_shape(example[m], shapes[m])
            recorded.append(tf.cast(has_file, tf.float32))
        example["recorded"] = tf.stack(recorded)
        return example

    return tf.data.Dataset.from_tensor_slices(table).map(
        extract, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def fingerprint(recordings, modalities, config):
    """A short hash of the file list (paths, sizes, modification times), modalities and settings."""
    digest = hashlib.sha256()
    digest.update(json.dumps([config.to_dict(), list(canonical_modalities(modalities))]).encode())
    for rec in recordings:
        digest.update(f"{rec.recording}|{rec.person}".encode())
        for m in canonical_modalities(modalities):
            path = rec.path(m)
            stat = os.stat(path) if path and os.path.exists(path) else None
            digest.update(f"|{path}|{stat.st_size if stat else -1}|{stat.st_mtime_ns if stat else -1}".encode())
    return digest.hexdigest()[:16]
