"""Tests for MFCCStatistics: librosa's MFCC means and standard deviations, as a layer."""

import keras
import librosa
import numpy as np
import pytest

from avtfuse.evaluation.reference import mfcc_statistics
from avtfuse.layers.mfcc_statistics import MFCCStatistics
from avtfuse.layers.sequence_statistics import SequenceStatistics


def librosa_statistics(log_mel, n_mfcc=20):
    """float64 [B, 2 K]: per sample, librosa.feature.mfcc over the mel axis, then mean and std over time."""
    rows = []
    for sample in log_mel:
        mfcc = librosa.feature.mfcc(S=sample.T, n_mfcc=n_mfcc).astype(np.float64)  # [K, T]
        rows.append(np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1)]))
    return np.stack(rows)


@pytest.mark.parametrize("n_mels, n_mfcc", [(24, 20), (8, 20), (13, 5)])
def test_matches_librosa(rng, n_mels, n_mfcc):
    log_mel = (rng.normal(size=(3, 11, n_mels)) * 20 - 40).astype(np.float32)
    result = keras.ops.convert_to_numpy(MFCCStatistics(n_mfcc=n_mfcc)(log_mel))
    assert result.shape == (3, 2 * min(n_mfcc, n_mels))
    np.testing.assert_allclose(result, librosa_statistics(log_mel, n_mfcc), rtol=1e-5, atol=2e-4)


def test_reference_features_are_the_layers(rng):
    log_mel = (rng.normal(size=(4, 9, 16)) * 20 - 40).astype(np.float32)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(MFCCStatistics()(log_mel)), mfcc_statistics(log_mel),
                               rtol=1e-5, atol=2e-4)


def test_constant_spectrogram_has_zero_spread():
    result = keras.ops.convert_to_numpy(MFCCStatistics()(np.full((2, 5, 8), -30.0, np.float32)))
    np.testing.assert_allclose(result[:, 8:], 0.0, atol=1e-5)


@pytest.mark.parametrize("shape", [(2, 16), (2, 3, 4, 5)])
def test_wrong_rank_names_inputs(shape):
    with pytest.raises(ValueError, match="MFCCStatistics inputs"):
        MFCCStatistics()(np.zeros(shape, np.float32))


def test_bad_n_mfcc():
    with pytest.raises(ValueError, match="MFCCStatistics n_mfcc"):
        MFCCStatistics(n_mfcc=0)


def test_serialisation(layer_checks, rng):
    log_mel = rng.normal(size=(2, 7, 12)).astype(np.float32)
    layer_checks.config_round_trip(MFCCStatistics(n_mfcc=6), log_mel)
    layer_checks.save_load(MFCCStatistics(n_mfcc=6), log_mel)


def test_sequence_statistics_are_numpys_mean_and_population_std_over_time():
    sequences = np.random.default_rng(3).normal(size=(4, 7, 5)).astype(np.float32)
    out = keras.ops.convert_to_numpy(SequenceStatistics()(sequences))
    np.testing.assert_allclose(out, np.concatenate([sequences.mean(1), sequences.std(1)], -1), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="SequenceStatistics inputs"):
        SequenceStatistics()(np.zeros((2, 3), np.float32))
