"""Tests for avtfuse.evaluation.reference against librosa, NumPy and a direct scikit-learn pipeline."""

import librosa
import numpy as np
import pytest
import scipy.fft
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from avtfuse.evaluation.reference import (
    REFERENCE_DESCRIPTIONS, reference_accuracy, reference_description, reference_features)

SR = 8000  # Hz
N_FFT, HOP, N_MELS = 256, 64, 40
TONES_HZ = (300.0, 500.0, 800.0, 1200.0, 1800.0)


def log_mel(waveform):
    """float32 [frames, N_MELS] in dB, as the audio pipeline caches it (power_to_db with top_db=80, time-major)."""
    mel = librosa.feature.melspectrogram(y=waveform, sr=SR, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS)
    return librosa.power_to_db(mel, top_db=80.0).T.astype(np.float32)


def tone(rng, frequency, seconds=0.25):
    """float32 [SR * seconds]: a slightly detuned sine of random phase and level, plus white noise."""
    t = np.arange(int(SR * seconds)) / SR
    pitch = frequency * rng.uniform(0.98, 1.02)
    wave = rng.uniform(0.1, 1.0) * np.sin(2 * np.pi * pitch * t + rng.uniform(0, 2 * np.pi))
    return (wave + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def tone_split(rng, per_class):
    """Log-mel [per_class * 5, frames, N_MELS] (dB) of tones and their labels [per_class * 5]."""
    labels = np.repeat(np.arange(len(TONES_HZ)), per_class)
    return np.stack([log_mel(tone(rng, TONES_HZ[label])) for label in labels]), labels


def colour_images(rng, labels, shape=(32, 32, 3), noise=0.15):
    """float32 [N, *shape] in [0, 1]: each label's mean colour plus pixel noise."""
    colours = np.array([[0.2, 0.2, 0.8], [0.8, 0.2, 0.2], [0.2, 0.8, 0.2], [0.6, 0.6, 0.6]])[:, :shape[-1]]
    images = colours[labels][:, None, None, :] + noise * rng.standard_normal((len(labels), *shape))
    return np.clip(images, 0.0, 1.0).astype(np.float32)


def numpy_mfcc_statistics(log_mel_db, n_mfcc=20):
    """[2 * n_mfcc]: DCT-II (ortho) over the mel axis of [frames, n_mels], first n_mfcc; mean then std over time."""
    mfcc = scipy.fft.dct(log_mel_db.astype(np.float64), type=2, norm="ortho", axis=1)[:, :n_mfcc]
    return np.concatenate([mfcc.mean(axis=0), mfcc.std(axis=0)])


def test_mfcc_statistics_match_librosa_from_waveform_and_numpy():
    rng = np.random.default_rng(0)
    waveforms = [tone(rng, 440.0), (0.3 * rng.standard_normal(2000)).astype(np.float32)]
    features = reference_features("audio", np.stack([log_mel(w) for w in waveforms]))
    assert features.shape == (2, 40) and features.dtype == np.float32
    for waveform, row in zip(waveforms, features):
        mfcc = librosa.feature.mfcc(y=waveform, sr=SR, n_mfcc=20, n_mels=N_MELS, n_fft=N_FFT, hop_length=HOP)
        np.testing.assert_allclose(row, np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1)]), rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(row, numpy_mfcc_statistics(log_mel(waveform)), rtol=1e-4, atol=1e-3)
    assert np.abs(features[0] - features[1]).max() > 1.0  # a tone and noise differ


def test_mfcc_statistics_with_fewer_mel_bands_than_coefficients():
    log_mel_db = np.random.default_rng(1).uniform(-80, 0, size=(3, 7, 12)).astype(np.float32)
    features = reference_features("audio", log_mel_db)
    assert features.shape == (3, 24)
    np.testing.assert_allclose(features[2], numpy_mfcc_statistics(log_mel_db[2]), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("channels", [3, 1])
def test_image_features_are_block_averages(channels):
    images = np.random.default_rng(2).random((3, 32, 48, channels)).astype(np.float32)
    features = reference_features("visible" if channels == 3 else "thermal", images)
    assert features.shape == (3, 256 * channels) and features.dtype == np.float32
    blocks = images.reshape(3, 16, 2, 16, 3, channels).mean(axis=(2, 4))  # [3, 16, 16, C]
    np.testing.assert_allclose(features, blocks.reshape(3, -1), rtol=1e-5, atol=1e-6)


def test_sequence_vector_and_frame_sequence_features():
    rng = np.random.default_rng(3)
    sequences = rng.standard_normal((4, 6, 5)).astype(np.float32)
    want = np.concatenate([sequences.mean(axis=1), sequences.std(axis=1)], axis=1)
    np.testing.assert_allclose(reference_features("visible", sequences), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(reference_features("gaze", sequences), want, rtol=1e-5, atol=1e-6)
    vectors = rng.standard_normal((4, 9)).astype(np.float32)
    np.testing.assert_array_equal(reference_features("thermal", vectors), vectors)
    frames = rng.random((2, 3, 16, 16, 3)).astype(np.float32)
    np.testing.assert_allclose(reference_features("visible", frames), frames.mean(axis=1).reshape(2, -1), atol=1e-6)


def test_descriptions():
    assert REFERENCE_DESCRIPTIONS["audio"] == "MFCC mean+std (20 coefficients) + logistic regression"
    assert REFERENCE_DESCRIPTIONS["visible"] == "16x16 pixels + logistic regression"
    assert REFERENCE_DESCRIPTIONS["thermal"] == REFERENCE_DESCRIPTIONS["visible"]
    assert reference_description("audio", np.zeros((2, 5, 8))) == REFERENCE_DESCRIPTIONS["audio"]
    assert reference_description("thermal", np.zeros((2, 4, 4, 1))) == REFERENCE_DESCRIPTIONS["thermal"]
    assert "mean+std over time" in reference_description("visible", np.zeros((2, 5, 8)))


def test_audio_reference_separates_tones():
    rng = np.random.default_rng(4)
    train_inputs, train_labels = tone_split(rng, per_class=8)
    test_inputs, test_labels = tone_split(rng, per_class=6)
    accuracy = reference_accuracy("audio", train_inputs, train_labels, test_inputs, test_labels)
    assert isinstance(accuracy, float)
    assert accuracy >= 0.9  # chance is 0.2


def test_image_reference_separates_colours_and_not_shuffled_labels():
    rng = np.random.default_rng(5)
    train_labels, test_labels = rng.integers(0, 4, size=200), rng.integers(0, 4, size=200)
    train_inputs, test_inputs = colour_images(rng, train_labels), colour_images(rng, test_labels)
    assert reference_accuracy("visible", train_inputs, train_labels, test_inputs, test_labels) >= 0.95
    shuffled = reference_accuracy(
        "visible", train_inputs, rng.permutation(train_labels), test_inputs, rng.permutation(test_labels))
    assert shuffled < 0.4  # chance is 0.25; 200 test samples give a standard deviation near 0.03


def test_wrapper_equals_direct_sklearn_pipeline():
    rng = np.random.default_rng(6)
    train_labels, test_labels = rng.integers(0, 4, size=80), rng.integers(0, 4, size=80)
    train_inputs = colour_images(rng, train_labels, shape=(16, 16, 1), noise=0.6)
    test_inputs = colour_images(rng, test_labels, shape=(16, 16, 1), noise=0.6)
    got = reference_accuracy("thermal", train_inputs, train_labels, test_inputs, test_labels, seed=3)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=3))
    model.fit(train_inputs.reshape(80, -1), train_labels)
    want = model.score(test_inputs.reshape(80, -1), test_labels)
    assert 0.3 < want < 1.0  # an informative comparison: neither chance nor perfect
    assert got == want


@pytest.mark.parametrize(
    "change, argument",
    [
        ({"train_inputs": np.zeros((0, 8, 8, 3))}, "train_inputs"),
        ({"train_labels": np.zeros(0, dtype=int)}, "train_labels"),
        ({"test_inputs": np.zeros((0, 8, 8, 3)), "test_labels": np.zeros(0, dtype=int)}, "test_labels"),
        ({"test_inputs": np.zeros((0, 8, 8, 3))}, "test_inputs"),
        ({"train_labels": np.array([0, 1, 0])}, "train_inputs"),
        ({"test_labels": np.array([0, 1, 0, 1, 0])}, "test_inputs"),
        ({"train_labels": np.ones(6, dtype=int)}, "train_labels"),
        ({"train_labels": np.zeros((6, 1), dtype=int)}, "train_labels"),
        ({"test_inputs": np.zeros((4, 8, 8, 1))}, "test_inputs"),
        ({"train_inputs": np.zeros(6)}, "train_inputs"),
        ({"test_inputs": np.full((4, 8, 8, 3), np.nan)}, "test_inputs"),
    ],
)
def test_value_errors_name_the_argument(change, argument):
    arguments = {
        "train_inputs": np.zeros((6, 8, 8, 3)), "train_labels": np.array([0, 1, 2, 0, 1, 2]),
        "test_inputs": np.zeros((4, 8, 8, 3)), "test_labels": np.array([0, 1, 2, 0]),
    }
    arguments.update(change)
    with pytest.raises(ValueError, match=argument):
        reference_accuracy("visible", **arguments)
