"""Raw waveforms -> the model's audio features, in the graph.

`audio_features` reproduces, row by row, what the feature cache stores for a
waveform: pipelines.audio.speech_window (librosa.effects.trim silence
trimming, the "trim" / "center" / "start" crop, zero padding) followed by
pipelines.audio.log_mel_spectrogram or mfcc as pipelines.features applies
them. Every op converts with TF's LiteRT converter under TFLITE_BUILTINS and
with tf2onnx (opset 17): frames are cut with reshape + a small constant
gather, |STFT| is tf.abs of tf.signal.rfft over [rows, n_fft] (ComplexAbs, the
one RFFT consumer tf2onnx takes, and 2-D, the one rank where it takes a
dynamic batch), the DCT of the MFCCs is a matmul by a constant basis, and
padding is dropped by gathering indices rather than by a float tf.where
(which tf2onnx turns into arithmetic that NaN or inf padding poisons). Batch
size and waveform length may be dynamic; the window is
`features.audio_samples` samples, static.

The pipeline refuses audio shorter than one `n_fft` window after the offset
(pipelines.audio.load_waveform's min_samples); the graph cannot refuse, so a
caller checks `length` itself.
"""

import math

import numpy as np
import tensorflow as tf

from pipelines import audio
from pipelines.features import FeatureConfig

# librosa.effects.trim's analysis frame and hop (samples), as pipelines.audio.speech_window calls it.
TRIM_FRAME = 2048
TRIM_HOP = 512
# dB below each clip's loudest log-mel value that values are clamped to: pipelines.audio.log_mel_spectrogram's
# top_db, which pipelines.features.audio_features leaves at its default.
TOP_DB = 80.0
# librosa.power_to_db's floor (power), in both the trim's RMS dB and the log-mel.
AMIN = 1e-10


def audio_features(waveform, length, features):
    """float32 [B, N] waveforms at features.sample_rate, int32 [B] valid samples per row -> float32
    [B, audio_frames, n_mels] log-mel spectrograms (dB), or [B, audio_frames, n_mfcc] MFCCs when
    features.audio_features is "mfcc"; audio_frames = 1 + audio_samples // hop_length.

    Samples at and after `length` (clipped to [0, N]) never change a row's result, whatever they hold
    (NaN and inf included). `features` is a pipelines.features.FeatureConfig, read when the graph is traced.
    """
    return window_features(speech_windows(waveform, length, features), features)


def speech_windows(waveform, length, features):
    """float32 [B, N], int32 [B] -> float32 [B, audio_samples]: pipelines.audio.speech_window of each
    row's first `length` samples with features.audio_crop, trim_db and audio_offset (s, rounded to samples)."""
    _check_features(features)
    waveform, length = tf.convert_to_tensor(waveform, tf.float32), tf.convert_to_tensor(length)
    if waveform.shape.rank != 2 or length.shape.rank != 1:
        raise ValueError(f"waveform must be [B, N] and length [B], got shapes {waveform.shape} and {length.shape}")
    size = tf.shape(waveform)[1]
    length = tf.clip_by_value(tf.cast(length, tf.int32), 0, size)
    # Samples are picked by index from the rows with a 0 appended, never masked by arithmetic (module docstring).
    flat = tf.reshape(tf.pad(waveform, [[0, 0], [0, 1]]), [-1])
    rows = tf.range(tf.shape(waveform)[0])[:, tf.newaxis] * (size + 1)

    def take(positions, keep):
        """int32 [B, K] sample positions, bool [B, K] -> float32 [B, K] samples, 0 where not keep."""
        return tf.gather(flat, rows + tf.where(keep, positions, size))

    num_samples = features.audio_samples
    if features.audio_crop == "start":
        start = tf.fill(tf.shape(length), round(features.audio_offset * features.sample_rate))
        kept = tf.maximum(length - start, 0)
        shift = tf.zeros_like(length)
    else:
        if features.audio_crop == "trim":
            every = tf.range(size)[tf.newaxis]
            start, end = _trim_bounds(take(every, every < length[:, tf.newaxis]), length, features.trim_db)
        else:
            start, end = tf.zeros_like(length), length
        kept = end - start
        excess = kept - num_samples  # >= 0: cut excess // 2 first; < 0: pad -excess // 2 zeros first
        shift = tf.where(excess >= 0, excess // 2, -(-excess // 2))
    position = shift[:, tf.newaxis] + tf.range(num_samples)[tf.newaxis]  # [B, num_samples] into the kept part
    return take(start[:, tf.newaxis] + position, (position >= 0) & (position < kept[:, tf.newaxis]))


def _trim_bounds(signal, length, top_db):
    """librosa.effects.trim(top_db=top_db, frame_length=TRIM_FRAME, hop_length=TRIM_HOP)'s interval of each
    row of float32 [B, N] (zero from `length` on): int32 [B] start and end sample.

    As librosa 0.11: RMS of frames centred every TRIM_HOP samples over the zero-padded signal (1 + length //
    TRIM_HOP frames), squared, in dB relative to the loudest frame (power floor AMIN); a frame is speech when
    above -top_db; start = first speech frame * TRIM_HOP, end = min(length, (last + 1) * TRIM_HOP). With no
    speech frame (only for a top_db within rounding of 0) end < start: an empty interval, as librosa's (0, 0).
    A frame within ~2e-5 dB of the threshold may fall on the other side of it than in librosa (float32 logs
    rounded differently)."""
    batch, size = tf.shape(signal)[0], tf.shape(signal)[1]
    padded = tf.pad(signal, [[0, 0], [TRIM_FRAME // 2, TRIM_FRAME // 2 + tf.math.floormod(-size, TRIM_HOP)]])
    blocks = tf.reduce_sum(tf.reshape(tf.square(padded), [batch, -1, TRIM_HOP]), axis=2)  # [B, ceil(N/hop) + 4]
    per_frame = TRIM_FRAME // TRIM_HOP
    energy = tf.add_n([blocks[:, i:i - per_frame + 1 or None] for i in range(per_frame)])
    rms = tf.sqrt(energy / TRIM_FRAME)
    frame = tf.range(tf.shape(rms)[1])[tf.newaxis]
    valid = frame < (length // TRIM_HOP + 1)[:, tf.newaxis]
    power = tf.where(valid, tf.square(rms), 0.0)
    loudest = tf.reduce_max(power, axis=1, keepdims=True)
    # 10 * (ln / ln 10): of the float32 forms, the one closest to NumPy's log10 (bit-equal for ~70 % of values)
    decibels = (10.0 * (tf.math.log(tf.maximum(power, AMIN)) / tf.math.log(10.0))
                - 10.0 * (tf.math.log(tf.maximum(loudest, AMIN)) / tf.math.log(10.0)))
    speech = valid & (decibels > -top_db)
    first = tf.reduce_min(tf.where(speech, frame, tf.shape(rms)[1]), axis=1)
    last = tf.reduce_max(tf.where(speech, frame, -1), axis=1)
    return first * TRIM_HOP, tf.minimum(length, (last + 1) * TRIM_HOP)


def _decibels(power):
    """10 log10(power), written as pipelines.audio.log_mel_spectrogram writes it."""
    return 10.0 * tf.math.log(power) / tf.math.log(10.0)


def window_features(window, features):
    """float32 [B, audio_samples] windows -> float32 [B, audio_frames, n_mels] log-mel (dB) or
    [B, audio_frames, n_mfcc] MFCCs: pipelines.features.audio_features, with |STFT| as tf.abs of an rfft
    and the DCT-II as a matmul."""
    _check_features(features)
    n_fft, hop = features.n_fft, features.hop_length
    frames = _centred_frames(window, features.audio_samples, n_fft, hop)  # [B, frames, n_fft]
    rows = tf.reshape(frames * tf.signal.hann_window(n_fft), [-1, n_fft])  # 2-D for tf2onnx (module docstring)
    magnitude = tf.reshape(tf.abs(tf.signal.rfft(rows, fft_length=[n_fft])), [-1, frames.shape[1], n_fft // 2 + 1])
    filters = tf.constant(audio._mel_filters(features.sample_rate, n_fft, features.n_mels))
    log_mel = _decibels(tf.maximum(tf.matmul(tf.square(magnitude), filters), AMIN))
    log_mel = tf.maximum(log_mel, tf.reduce_max(log_mel, axis=[1, 2], keepdims=True) - TOP_DB)
    if features.audio_features == "mfcc":
        return tf.matmul(log_mel, tf.constant(_dct_basis(features.n_mels, features.n_mfcc)))
    return log_mel


def _check_features(features):
    if not isinstance(features, FeatureConfig):
        raise TypeError(f"features must be a pipelines.features.FeatureConfig, got {type(features).__name__}")


def _centred_frames(window, num_samples, n_fft, hop):
    """float32 [B, num_samples] -> [B, 1 + num_samples // hop, n_fft]: tf.signal.stft's frames of the
    window padded with n_fft // 2 zeros each side, cut as blocks of gcd(n_fft, hop) samples gathered by a
    constant [frames, n_fft / gcd] index."""
    block = math.gcd(n_fft, hop)
    count = audio.num_frames(num_samples, hop)
    padded_size = num_samples + n_fft
    extra = -padded_size % block
    padded = tf.pad(window, [[0, 0], [n_fft // 2, n_fft // 2 + extra]])
    blocks = tf.reshape(padded, [-1, (padded_size + extra) // block, block])
    index = (np.arange(count)[:, None] * (hop // block) + np.arange(n_fft // block)[None]).astype(np.int32)
    return tf.reshape(tf.gather(blocks, index, axis=1), [-1, count, n_fft])


def _dct_basis(n_mels, n_mfcc):
    """float32 [n_mels, n_mfcc]: the first n_mfcc orthonormal DCT-II vectors (tf.signal.dct type 2, ortho)."""
    k, n = np.arange(n_mfcc)[None], np.arange(n_mels)[:, None]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * n_mels)) * np.sqrt(2.0 / n_mels)
    basis[:, 0] /= np.sqrt(2.0)
    return basis.astype(np.float32)
