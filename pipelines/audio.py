"""Audio decoding and log-mel features.

`inspect_audio` validates a file on the Python side (soundfile); `decode_audio`,
`fix_length`, `log_mel_spectrogram` and `load_log_mel` are TensorFlow ops that
run inside `tf.data.Dataset.map`. This is the only module that imports
tensorflow_io.

Supported sample formats: wav with 8-bit unsigned, 16-bit or 24-bit PCM or
32-bit float samples (plain or WAVE_FORMAT_EXTENSIBLE header); flac with 8, 16
or 24 bits. 32-bit integer wav is not supported (tensorflow_io 0.37 decodes it
as float32) and `inspect_audio` rejects it, as it does every other subtype.
"""

import dataclasses
import functools
import os
import struct

import librosa
import numpy as np
import soundfile
import tensorflow as tf
import tensorflow_io as tfio

from pipelines.errors import DataError, check_input_file

AUDIO_SUFFIXES = (".wav", ".flac")

# soundfile (container, subtype) pairs that decode_audio can decode.
_SUPPORTED_SUBTYPES = {
    "WAV": ("PCM_U8", "PCM_16", "PCM_24", "FLOAT"),
    "WAVEX": ("PCM_U8", "PCM_16", "PCM_24", "FLOAT"),
    "FLAC": ("PCM_S8", "PCM_16", "PCM_24"),
}
_CONTAINER_FOR_SUFFIX = {".wav": ("WAV", "WAVEX"), ".flac": ("FLAC",)}

# tensorflow_io sample dtypes, indexed by the sample code of _sample_code:
# 8-bit (unsigned, offset 128), 16-bit, 24-bit (in the high bytes of an
# int32), 32-bit float. Each maps to (offset, scale) that brings it to [-1, 1].
_SAMPLE_DTYPES = (tf.uint8, tf.int16, tf.int32, tf.float32)
_SAMPLE_OFFSET_SCALE = {
    tf.uint8: (128.0, 1.0 / 128.0),
    tf.int16: (0.0, 1.0 / 32768.0),
    tf.int32: (0.0, 1.0 / 2147483648.0),
    tf.float32: (0.0, 1.0),
}
_WAVE_FORMAT_PCM = 1
_WAVE_FORMAT_IEEE_FLOAT = 3
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE


@dataclasses.dataclass(frozen=True)
class AudioInfo:
    """What `inspect_audio` found: sample rate (Hz), samples per channel, channels."""

    sample_rate: int
    num_samples: int
    channels: int


def inspect_audio(path):
    """Reads a wav or flac file once and checks that `decode_audio` can use it.

    Returns an AudioInfo. Raises DataError naming the file when it is missing,
    has an unsupported suffix or sample format, cannot be read, is truncated
    (fewer frames than its header promises), holds no samples, or holds NaN or
    infinite samples.
    """
    path = check_input_file(path, AUDIO_SUFFIXES, "audio")
    suffix = os.path.splitext(path)[1].lower()
    try:
        with soundfile.SoundFile(path) as audio_file:
            info = AudioInfo(audio_file.samplerate, audio_file.frames, audio_file.channels)
            container, subtype = audio_file.format, audio_file.subtype
            samples = audio_file.read(dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise DataError(path, f"cannot read audio: {error}") from error
    if container not in _CONTAINER_FOR_SUFFIX[suffix]:
        raise DataError(path, f"file is {container}, which does not match its suffix {suffix!r}")
    if subtype not in _SUPPORTED_SUBTYPES[container]:
        raise DataError(
            path,
            f"unsupported {container} sample format {subtype}; supported: {_SUPPORTED_SUBTYPES[container]}",
        )
    missing_bytes = _wav_missing_data_bytes(path) if suffix == ".wav" else 0
    if len(samples) < info.num_samples or missing_bytes > 0:
        raise DataError(path, "truncated audio: the file holds fewer samples than its header promises")
    if info.num_samples == 0:
        raise DataError(path, "audio holds no samples")
    if not np.isfinite(samples).all():
        raise DataError(path, "audio holds NaN or infinite samples")
    return info


def _wav_missing_data_bytes(path):
    """Bytes the wav data chunk promises beyond the end of the file (0 when complete)."""
    file_size = os.path.getsize(path)
    with open(path, "rb") as wav_file:
        offset = 12  # past "RIFF" <size> "WAVE"
        while offset + 8 <= file_size:
            wav_file.seek(offset)
            chunk_id, chunk_size = struct.unpack("<4sI", wav_file.read(8))
            if chunk_id == b"data":
                return max(0, chunk_size - (file_size - offset - 8))
            offset += 8 + chunk_size + chunk_size % 2
    return 1  # no data chunk at all


def _little_endian_uint(data, offset, width):
    """The unsigned little-endian integer in bytes [offset, offset + width) of scalar tf.string `data`."""
    byte_values = tf.cast(tf.io.decode_raw(tf.strings.substr(data, offset, width), tf.uint8), tf.int64)
    return tf.reduce_sum(byte_values * (256 ** tf.range(tf.size(byte_values, out_type=tf.int64))))


def _wav_sample_code(data):
    """Index into _SAMPLE_DTYPES for wav bytes `data`, or -1 when unsupported."""
    data_size = tf.cast(tf.strings.length(data), tf.int64)

    def not_fmt_chunk(offset):
        return tf.logical_and(offset + 8 <= data_size, tf.strings.substr(data, offset, 4) != "fmt ")

    def next_chunk(offset):
        chunk_size = _little_endian_uint(data, offset + 4, 4)
        return (offset + 8 + chunk_size + chunk_size % 2,)

    (fmt_offset,) = tf.while_loop(not_fmt_chunk, next_chunk, (tf.constant(12, tf.int64),))
    fmt_offset = tf.minimum(fmt_offset, data_size)
    format_tag = _little_endian_uint(data, fmt_offset + 8, 2)
    format_tag = tf.where(
        format_tag == _WAVE_FORMAT_EXTENSIBLE, _little_endian_uint(data, fmt_offset + 32, 2), format_tag
    )
    bits = _little_endian_uint(data, fmt_offset + 22, 2)
    is_pcm = tf.logical_and(format_tag == _WAVE_FORMAT_PCM, tf.reduce_any(bits == [8, 16, 24]))
    is_float = tf.logical_and(format_tag == _WAVE_FORMAT_IEEE_FLOAT, bits == 32)
    return tf.where(is_float, tf.constant(3, tf.int64), tf.where(is_pcm, bits // 8 - 1, -1))


def _flac_sample_code(data):
    """Index into _SAMPLE_DTYPES for flac bytes `data`, or -1 when unsupported."""
    # STREAMINFO starts at byte 8; its 5-bit (bits per sample - 1) field spans bytes 20 and 21.
    bits = _little_endian_uint(data, 20, 1) % 2 * 16 + _little_endian_uint(data, 21, 1) // 16 + 1
    return tf.where(tf.reduce_any(bits == [8, 16, 24]), bits // 8 - 1, -1)


def _decode_samples(decoder, dtype, data):
    """Decodes with a tensorflow_io decoder into float32 [samples, channels] in [-1, 1]."""
    offset, scale = _SAMPLE_OFFSET_SCALE[dtype]
    return (tf.cast(decoder(data, dtype=dtype), tf.float32) - offset) * scale


def decode_audio(path, source_rate, target_rate):
    """Decodes a wav or flac file to mono float32 [num_samples] at target_rate Hz.

    Graph-compatible: `path` may be a scalar tf.string and `source_rate` (the
    file's rate in Hz) a scalar int tensor. Channels are averaged. When the
    rates differ the waveform goes through tfio.audio.resample, whose sinc
    filter delays the signal by about 32 samples of the lower rate (0.7 ms at
    44.1 kHz) and keeps round(num_samples * target_rate / source_rate) samples.
    Validate files with `inspect_audio` first: an unsupported sample format
    fails here with an InvalidArgumentError naming the file.
    """
    path = tf.convert_to_tensor(path, tf.string)
    data = tf.io.read_file(path)
    is_flac = tf.strings.regex_full_match(tf.strings.lower(path), r".*\.flac")
    sample_code = tf.cond(is_flac, lambda: _flac_sample_code(data), lambda: _wav_sample_code(data))
    check = tf.debugging.Assert(sample_code >= 0, ["unsupported audio sample format in", path])
    with tf.control_dependencies([check]):
        branch = tf.cast(sample_code + tf.cast(is_flac, tf.int64) * len(_SAMPLE_DTYPES), tf.int32)
    branches = [
        functools.partial(_decode_samples, decoder, dtype, data)
        for decoder in (tfio.audio.decode_wav, tfio.audio.decode_flac)
        for dtype in _SAMPLE_DTYPES
        if not (decoder is tfio.audio.decode_flac and dtype == tf.float32)
    ]
    waveform = tf.reduce_mean(tf.switch_case(branch, branches), axis=1)
    source_rate = tf.cast(source_rate, tf.int64)
    return tf.cond(
        source_rate == target_rate,
        lambda: waveform,
        lambda: tfio.audio.resample(waveform, source_rate, target_rate),
    )


def fix_length(waveform, num_samples):
    """The first num_samples samples of float32 [N], zero-padded at the end: [num_samples]."""
    waveform = waveform[:num_samples]
    waveform = tf.pad(waveform, [[0, num_samples - tf.shape(waveform)[0]]])
    return tf.reshape(waveform, [num_samples])


def num_frames(num_samples, hop_length):
    """Frames of a centred STFT of num_samples samples (librosa's center=True)."""
    return 1 + num_samples // hop_length


@functools.lru_cache(maxsize=None)
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


def load_log_mel(path, source_rate, sample_rate, num_samples, n_mels, n_fft, hop_length):
    """Decode -> resample to sample_rate -> fix_length -> log-mel: float32 [num_frames, n_mels] (dB)."""
    waveform = fix_length(decode_audio(path, source_rate, sample_rate), num_samples)
    log_mel = log_mel_spectrogram(waveform, sample_rate, n_mels=n_mels, n_fft=n_fft, hop_length=hop_length)
    return tf.ensure_shape(log_mel, [num_frames(num_samples, hop_length), n_mels])
