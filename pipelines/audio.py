"""Audio decoding, the speech window and log-mel features.

Files are decoded once, when the feature cache is built, in Python: libsndfile
(soundfile) reads every container and sample format it knows (WAV with any
chunk layout -- JUNK / FLLR padding, LIST, bext, iXML before or after `data`
-- 8/16/24/32-bit integer and float, WAVEX, RF64, FLAC, OGG/Vorbis, Opus, MP3,
AIFF) and soxr resamples (its "HQ" quality). Channels are downmixed to mono by
averaging them. `speech_window` then cuts the window the model sees, and
`log_mel_spectrogram` or `mfcc` (tf.signal, librosa-equivalent) turns it into
features inside TensorFlow.

Degenerate and huge files are refused (DataError), the limits read from the
header before any sample is decoded: a sample rate under MIN_SAMPLE_RATE, a
duration over `max_seconds` (FeatureConfig.max_audio_seconds); and, once
read, a recording shorter than the shortest window the features allow (one
n_fft analysis window at the run's rate, after the offset of crop "start"),
which would otherwise load silently as a silent window.
"""

import functools
import re

import librosa
import numpy as np
import soundfile
import soxr
import tensorflow as tf

from pipelines.errors import DataError, check_input_file

# Suffixes of the containers libsndfile reads (an MP3 needs libsndfile >= 1.1, checked when read).
AUDIO_SUFFIXES = (".wav", ".wave", ".bwf", ".rf64", ".w64", ".flac", ".ogg", ".oga", ".opus", ".mp3",
                  ".aif", ".aiff", ".aifc", ".caf")

# How the window of `num_samples` is placed: "trim" = centred on the speech left after cutting leading and
# trailing silence; "center" = centred on the whole file; "start" = the first samples of the file.
AUDIO_CROPS = ("trim", "center", "start")

# Hz: below it a file holds under 2 kHz of bandwidth, less than the telephone band a voice is known by; such a
# rate is a wrong header or a sensor log, not speech.
MIN_SAMPLE_RATE = 4000


def read_audio(path, max_seconds=None, min_seconds=0.0):
    """Decodes an audio file: (mono float32 [N] in [-1, 1], sample rate in Hz).

    Channels are averaged. Raises DataError naming the file when it is
    missing, empty, of an unsupported suffix, unreadable, truncated (libsndfile
    finds fewer bytes than the data chunk promises), without samples, holding
    NaN or infinite samples, at a rate under MIN_SAMPLE_RATE or longer than
    `max_seconds` (both from the header, before decoding; None: no limit), or
    shorter than `min_seconds`.
    """
    path = check_input_file(path, AUDIO_SUFFIXES, "audio")
    try:
        with soundfile.SoundFile(path) as audio_file:
            rate, promised = audio_file.samplerate, audio_file.frames
            if rate < MIN_SAMPLE_RATE:
                raise DataError(path, f"audio at {rate} Hz, under the {MIN_SAMPLE_RATE} Hz a voice needs")
            if max_seconds is not None and promised > max_seconds * rate:
                raise DataError(path, f"audio of {promised / rate:,.1f} s exceeds the limit of {max_seconds:g} s "
                                      "(--max-audio-seconds)")
            log = audio_file.extra_info
            limit = -1 if max_seconds is None else int(max_seconds * rate) + 1  # a header may understate
            samples = audio_file.read(frames=limit, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise DataError(path, f"cannot read audio: {error}") from None
    if len(samples) < promised or _data_chunk_short(log):
        raise DataError(path, "truncated audio: the file holds fewer samples than its header promises")
    if len(samples) == 0:
        raise DataError(path, "audio holds no samples")
    if max_seconds is not None and len(samples) > max_seconds * rate:
        raise DataError(path, f"audio longer than the limit of {max_seconds:g} s (--max-audio-seconds)")
    if len(samples) < min_seconds * rate:
        raise DataError(path, f"audio of {len(samples)} samples ({1000 * len(samples) / rate:.1f} ms) is shorter "
                              f"than the shortest window the features allow ({1000 * min_seconds:.1f} ms)")
    if not np.isfinite(samples).all():
        raise DataError(path, "audio holds NaN or infinite samples")
    return samples.mean(axis=1), rate


def _data_chunk_short(log):
    """True when libsndfile's header log says the audio data runs past the end of the file: a WAV `data` or
    AIFF `SSND` chunk size it had to cut ("should be"), or an RF64 frame count below its ds64 chunk's. The
    WAV size 0xFFFFFFFF is no promise: it is what a writer streaming to a pipe (ffmpeg) leaves there."""
    for line in log.splitlines():
        line = line.strip()
        if line.startswith(("data", "SSND")) and "should be" in line and "4294967295" not in line:
            return True
        ds64 = re.search(r"frame count (\d+) does not match value from 'ds64' chunk of (\d+)", line)
        if ds64 and int(ds64[1]) < int(ds64[2]):
            return True
    return False


def resample(samples, source_rate, target_rate):
    """float32 [N] at source_rate Hz -> float32 [round(N * target_rate / source_rate)] at target_rate (soxr HQ)."""
    if source_rate == target_rate:
        return samples
    return soxr.resample(samples, source_rate, target_rate, quality="HQ").astype(np.float32)


def speech_window(samples, num_samples, crop="trim", trim_db=20.0, offset=0):
    """The float32 [num_samples] window of float32 [N] that the model sees.

    crop "trim": leading and trailing silence is cut (frames more than
    `trim_db` dB below the loudest 2048-sample frame, librosa.effects.trim),
    then the window is centred on what remains; "center": centred on the whole
    signal; "start": the samples from `offset` (a sample index; CFN-SR drops
    the first 0.5 s). A shorter signal is zero-padded on both sides ("trim",
    "center") or at the end ("start"). `offset` must be 0 for the other crops.
    """
    if crop not in AUDIO_CROPS:
        raise ValueError(f"crop must be one of {AUDIO_CROPS}, got {crop!r}")
    if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)) or offset < 0:
        raise ValueError(f"offset must be a sample index >= 0, got {offset!r}")
    if offset and crop != "start":
        raise ValueError(f"offset applies to crop 'start' only, got offset {offset} with crop {crop!r}")
    if crop == "trim":
        samples, _ = librosa.effects.trim(samples, top_db=trim_db, frame_length=2048, hop_length=512)
    if crop == "start":
        samples = samples[offset:offset + num_samples]
        return np.pad(samples, (0, num_samples - len(samples)))
    excess = len(samples) - num_samples
    if excess >= 0:
        return samples[excess // 2:excess // 2 + num_samples]
    return np.pad(samples, (-excess // 2, -excess - (-excess // 2)))


def load_recording(path, sample_rate, min_seconds=0.0, max_seconds=None):
    """read_audio -> resample: the whole recording, float32 [N] at sample_rate. DataError as read_audio says."""
    samples, rate = read_audio(path, max_seconds, min_seconds)
    return resample(samples, rate, sample_rate)


def load_waveform(path, sample_rate, num_samples, crop="trim", trim_db=20.0, offset_seconds=0.0, min_samples=0,
                  max_seconds=None, corrupt=None):
    """load_recording -> `corrupt` -> speech_window (from `offset_seconds` s with crop "start"): float32
    [num_samples]. corrupt: None, or a function of the whole recording (float32 [N] at sample_rate) returning it
    corrupted, so that trimming and cropping see the corrupted signal as they would a recording made so.
    DataError when the file holds fewer than `min_samples` samples (at sample_rate) after `offset_seconds`, or is
    longer than `max_seconds` (None: no limit)."""
    samples = load_recording(path, sample_rate, offset_seconds + min_samples / sample_rate, max_seconds)
    if corrupt is not None:
        samples = corrupt(samples)
    return speech_window(samples, num_samples, crop, trim_db, round(offset_seconds * sample_rate))


def num_frames(num_samples, hop_length):
    """Frames of a centred STFT of num_samples samples (librosa's center=True)."""
    return 1 + num_samples // hop_length


@functools.cache
def _mel_filters(sample_rate, n_fft, n_mels):
    """Slaney-scale, Slaney-normalised mel filters (librosa), float32 [n_fft // 2 + 1, n_mels]."""
    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels).T.astype(np.float32)


def log_mel_spectrogram(waveform, sample_rate, n_mels=128, n_fft=2048, hop_length=512, top_db=80.0):
    """Log-mel power spectrogram in dB, float32 [..., frames, n_mels] from float32 [..., N].

    Matches librosa.power_to_db(librosa.feature.melspectrogram(...), top_db=top_db).T:
    centred frames (n_fft // 2 zeros each side), periodic Hann window, power 2,
    Slaney mel filters, ref 1.0, amin 1e-10, values clamped to top_db below each
    clip's maximum (no clamp when top_db is None). frames = 1 + N // hop_length.
    """
    if n_fft % 2:
        raise ValueError(f"n_fft must be even, got {n_fft}")
    waveform = tf.convert_to_tensor(waveform, tf.float32)
    pad = n_fft // 2
    padded = tf.pad(waveform, [[0, 0]] * (waveform.shape.rank - 1) + [[pad, pad]])
    spectrum = tf.signal.stft(
        padded, frame_length=n_fft, frame_step=hop_length, fft_length=n_fft, pad_end=False
    )
    power = tf.math.square(tf.math.real(spectrum)) + tf.math.square(tf.math.imag(spectrum))
    mel_power = tf.matmul(power, tf.constant(_mel_filters(sample_rate, n_fft, n_mels)))
    log_mel = 10.0 * tf.math.log(tf.maximum(mel_power, 1e-10)) / tf.math.log(10.0)
    if top_db is not None:
        log_mel = tf.maximum(log_mel, tf.reduce_max(log_mel, axis=[-2, -1], keepdims=True) - top_db)
    return log_mel


def mfcc(waveform, sample_rate, n_mfcc=10, n_mels=128, n_fft=2048, hop_length=512, top_db=80.0):
    """MFCCs, float32 [..., frames, n_mfcc] from float32 [..., N]: the first n_mfcc coefficients of the
    orthonormal DCT-II over the mel axis of `log_mel_spectrogram` (dB).

    Matches librosa.feature.mfcc(y=, sr=, n_mfcc=, n_mels=, n_fft=, hop_length=).T
    (power_to_db with ref 1.0, amin 1e-10 and top_db). frames = 1 + N // hop_length.
    """
    if not 1 <= n_mfcc <= n_mels:
        raise ValueError(f"n_mfcc must be between 1 and n_mels = {n_mels}, got {n_mfcc}")
    log_mel = log_mel_spectrogram(waveform, sample_rate, n_mels, n_fft, hop_length, top_db)
    return tf.signal.dct(log_mel, type=2, norm="ortho")[..., :n_mfcc]
