"""Tests for pipelines.audio: validation, decoding, resampling and log-mel against librosa."""

import librosa
import numpy as np
import pytest
import soundfile
import tensorflow as tf

from pipelines import audio
from pipelines.errors import DataError


def _tone(sample_rate, seconds, frequencies=(300.0, 2000.0, 5000.0), channels=1, seed=0):
    """Band-limited test signal: a few sines plus a little noise, float32 [N, channels] in [-1, 1]."""
    rng = np.random.default_rng(seed)
    time = np.arange(int(sample_rate * seconds)) / sample_rate
    mono = sum(0.25 * np.sin(2 * np.pi * f * time + rng.uniform(0, 2 * np.pi)) for f in frequencies)
    noisy = mono[:, np.newaxis] + 0.01 * rng.standard_normal((len(time), channels))
    return noisy.astype(np.float32)


def _librosa_log_mel(waveform, sample_rate, n_mels, n_fft=2048, hop_length=512):
    mel = librosa.feature.melspectrogram(
        y=waveform, sr=sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels
    )
    return librosa.power_to_db(mel, top_db=80.0).T


@pytest.mark.parametrize(
    "sample_rate, n_mels, n_fft, hop_length, kind",
    [
        (16000, 40, 2048, 512, "noise"),
        (22050, 128, 2048, 512, "sine"),
        (16000, 64, 1024, 256, "sine"),
        (22050, 128, 2048, 512, "silence"),
    ],
)
def test_log_mel_matches_librosa(sample_rate, n_mels, n_fft, hop_length, kind):
    rng = np.random.default_rng(1)
    if kind == "noise":
        waveform = 0.3 * rng.standard_normal(9000).astype(np.float32)
    elif kind == "sine":
        waveform = _tone(sample_rate, 0.5)[:, 0]
    else:
        waveform = np.zeros(7000, np.float32)
    ours = audio.log_mel_spectrogram(
        waveform, sample_rate, n_mels=n_mels, n_fft=n_fft, hop_length=hop_length
    ).numpy()
    reference = _librosa_log_mel(waveform, sample_rate, n_mels, n_fft, hop_length)
    assert ours.dtype == np.float32
    assert ours.shape == reference.shape == (audio.num_frames(len(waveform), hop_length), n_mels)
    np.testing.assert_allclose(ours, reference, atol=0.05, rtol=0)


def test_log_mel_batched_clamps_each_clip():
    loud = _tone(16000, 0.3, seed=2)[:, 0]
    quiet = 1e-3 * _tone(16000, 0.3, frequencies=(700.0,), seed=3)[:, 0]
    batched = audio.log_mel_spectrogram(np.stack([loud, quiet]), 16000, n_mels=40).numpy()
    for clip, ours in zip((loud, quiet), batched):
        np.testing.assert_allclose(ours, _librosa_log_mel(clip, 16000, 40), atol=0.05, rtol=0)


def test_log_mel_rejects_odd_n_fft():
    with pytest.raises(ValueError, match="n_fft"):
        audio.log_mel_spectrogram(np.zeros(4000, np.float32), 16000, n_fft=1001)


@pytest.mark.parametrize(
    "suffix, subtype, container",
    [
        (".wav", "PCM_16", "WAV"),
        (".wav", "PCM_24", "WAV"),
        (".wav", "FLOAT", "WAV"),
        (".wav", "PCM_U8", "WAV"),
        (".wav", "PCM_24", "WAVEX"),
        (".flac", "PCM_16", "FLAC"),
        (".flac", "PCM_24", "FLAC"),
    ],
)
def test_decode_equals_soundfile_mono_mix(tmp_path, suffix, subtype, container):
    path = str(tmp_path / f"clip{suffix}")
    soundfile.write(path, 0.9 * _tone(44100, 0.2, channels=2), 44100, subtype=subtype, format=container)
    written, _ = soundfile.read(path, dtype="float32", always_2d=True)
    decoded = audio.decode_audio(path, 44100, 44100).numpy()
    assert decoded.dtype == np.float32
    np.testing.assert_allclose(decoded, written.mean(axis=1), atol=1e-6, rtol=0)
    assert audio.inspect_audio(path) == audio.AudioInfo(44100, len(written), 2)


def test_decode_inside_dataset_map(tmp_path):
    paths, rates, references = [], [], []
    for index, (suffix, rate) in enumerate([(".wav", 44100), (".flac", 44100), (".wav", 16000)]):
        path = str(tmp_path / f"clip{index}{suffix}")
        soundfile.write(path, _tone(rate, 0.1, seed=index), rate, subtype="PCM_16")
        paths.append(path)
        rates.append(rate)
        references.append(soundfile.read(path, dtype="float32")[0])
    dataset = tf.data.Dataset.from_tensor_slices((paths, rates)).map(
        lambda path, rate: audio.decode_audio(path, rate, 44100)
    )
    outputs = [waveform.numpy() for waveform in dataset]
    for output, reference in zip(outputs[:2], references[:2]):
        np.testing.assert_allclose(output, reference, atol=1e-6, rtol=0)
    assert len(outputs[2]) == round(len(references[2]) * 44100 / 16000)


@pytest.mark.parametrize("suffix, source_rate", [(".wav", 48000), (".flac", 22050)])
def test_resample_matches_librosa(tmp_path, suffix, source_rate):
    target_rate = 44100
    path = str(tmp_path / f"clip{suffix}")
    soundfile.write(path, _tone(source_rate, 0.5), source_rate, subtype="PCM_16")
    written = soundfile.read(path, dtype="float32")[0]
    ours = audio.decode_audio(path, tf.constant(source_rate), target_rate).numpy()
    reference = librosa.resample(written, orig_sr=source_rate, target_sr=target_rate)
    assert abs(len(ours) - len(reference)) <= 1
    # tfio's filter delays the output by about 32 samples of the lower rate: align to the nearest
    # whole sample, then compare (the sub-sample remainder costs up to ~0.03 on the 5 kHz tone).
    interior = slice(300, len(reference) - 300)
    errors = [
        np.abs(ours[lag:][interior] - reference[: len(ours) - lag][interior]).max() for lag in range(150)
    ]
    delay = int(np.argmin(errors))
    assert abs(delay - 32 * target_rate / min(source_rate, target_rate)) <= 2
    assert errors[delay] < 0.05
    spectrum, reference_spectrum = (np.abs(np.fft.rfft(x[interior])) for x in (ours, reference))
    assert np.abs(spectrum - reference_spectrum).max() < 0.01 * reference_spectrum.max()


def test_fix_length_crops_and_pads():
    waveform = np.arange(1, 11, dtype=np.float32)
    np.testing.assert_array_equal(audio.fix_length(waveform, 4).numpy(), waveform[:4])
    padded = np.concatenate([waveform, np.zeros(3, np.float32)])
    np.testing.assert_array_equal(audio.fix_length(waveform, 13).numpy(), padded)
    np.testing.assert_array_equal(audio.fix_length(waveform, 10).numpy(), waveform)


def test_load_log_mel_paper_shape(tmp_path):
    path = str(tmp_path / "speech.wav")
    soundfile.write(path, _tone(44100, 1.0), 44100, subtype="PCM_16")
    log_mel = tf.function(lambda p: audio.load_log_mel(p, 44100, 44100, 301056, 128, 2048, 512))(
        tf.constant(path)
    )
    assert log_mel.shape == (589, 128) == (audio.num_frames(301056, 512), 128)
    padded = librosa.util.fix_length(soundfile.read(path, dtype="float32")[0], size=301056)
    np.testing.assert_allclose(log_mel.numpy(), _librosa_log_mel(padded, 44100, 128), atol=0.05, rtol=0)


def _write_bad_audio(tmp_path, kind):
    """Writes one kind of bad audio file and returns its path."""
    clip = _tone(16000, 0.1)
    if kind == "missing":
        return tmp_path / "missing.wav"
    if kind == "suffix":
        path = tmp_path / "clip.mp3"
        path.write_bytes(b"ID3" + bytes(100))
        return path
    if kind == "corrupt":
        path = tmp_path / "corrupt.wav"
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes())
        return path
    if kind in ("truncated_wav", "truncated_flac"):
        suffix = ".wav" if kind == "truncated_wav" else ".flac"
        path = tmp_path / f"truncated{suffix}"
        soundfile.write(path, clip, 16000, subtype="PCM_16")
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        return path
    if kind in ("nan", "inf"):
        path = tmp_path / f"{kind}.wav"
        clip[10, 0] = np.nan if kind == "nan" else np.inf
        soundfile.write(path, clip, 16000, subtype="FLOAT")
        return path
    if kind == "empty":
        path = tmp_path / "empty.wav"
        soundfile.write(path, np.zeros((0, 1), np.float32), 16000, subtype="PCM_16")
        return path
    if kind == "pcm32":
        path = tmp_path / "pcm32.wav"
        soundfile.write(path, clip, 16000, subtype="PCM_32")
        return path
    path = tmp_path / "flac_inside.wav"  # kind == "wrong_container"
    soundfile.write(path, clip, 16000, format="FLAC", subtype="PCM_16")
    return path


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("missing", "not found"),
        ("suffix", "unsupported audio suffix"),
        ("corrupt", "cannot read"),
        ("truncated_wav", "truncated"),
        ("truncated_flac", "cannot read|truncated"),
        ("nan", "NaN"),
        ("inf", "infinite"),
        ("empty", "no samples"),
        ("pcm32", "unsupported WAV sample format PCM_32"),
        ("wrong_container", "does not match its suffix"),
    ],
)
def test_inspect_audio_rejects_bad_files(tmp_path, kind, reason):
    path = _write_bad_audio(tmp_path, kind)
    with pytest.raises(DataError, match=reason) as caught:
        audio.inspect_audio(path)
    assert path.name in str(caught.value)


def test_decode_audio_names_file_with_unsupported_format(tmp_path):
    path = _write_bad_audio(tmp_path, "pcm32")
    with pytest.raises(tf.errors.InvalidArgumentError, match="pcm32.wav"):
        audio.decode_audio(str(path), 16000, 16000)
