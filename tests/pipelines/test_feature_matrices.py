"""Tests for pipelines.feature_matrices: the area weights and the MFCC matrix against their definitions."""

import numpy as np
import pytest
import scipy.fft

from pipelines.feature_matrices import area_matrix, mfcc_matrix


def area_loop(source, target):
    """[target, source] float64 by the definition: the overlap of pixel [j, j + 1) with cell [i s, (i + 1) s),
    over s = source / target."""
    scale = source / target
    weights = np.zeros((target, source))
    for i in range(target):
        for j in range(source):
            weights[i, j] = max(0.0, min(j + 1, (i + 1) * scale) - max(j, i * scale)) / scale
    return weights


@pytest.mark.parametrize("source, target", [(48, 16), (40, 16), (16, 16), (17, 5)])
def test_area_matrix_is_the_overlap_rule(source, target):
    weights = area_matrix(source, target)
    assert weights.dtype == np.float32
    np.testing.assert_allclose(weights, area_loop(source, target), atol=1e-7)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("source, target", [(8, 16), (16, 0)])
def test_area_matrix_refuses_enlarging(source, target):
    with pytest.raises(ValueError, match="area_matrix target"):
        area_matrix(source, target)


def test_mfcc_matrix_is_the_orthonormal_dct():
    log_mel = np.random.default_rng(0).normal(size=(6, 12))
    np.testing.assert_allclose(log_mel @ mfcc_matrix(12, 5),
                               scipy.fft.dct(log_mel, type=2, norm="ortho", axis=-1)[:, :5], atol=1e-5)
    full = mfcc_matrix(12, 20)
    assert full.shape == (12, 12)
    np.testing.assert_allclose(full.T @ full, np.eye(12), atol=1e-6)


def test_mfcc_matrix_bad_sizes():
    with pytest.raises(ValueError, match="mfcc_matrix"):
        mfcc_matrix(0)
