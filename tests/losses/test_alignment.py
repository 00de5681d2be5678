"""Tests for avtfuse.losses.alignment: the GFA distances against NumPy references."""

import keras
import numpy as np
import pytest

from avtfuse.losses.alignment import (alignment_distance, cosine_distance, jensen_shannon_distance,
                                      smooth_l1_distance)
from avtfuse.losses.cmd import central_moment_discrepancy

RNG = np.random.default_rng(0)
X1 = RNG.normal(size=(5, 7)).astype("float32") * 2.0
X2 = RNG.normal(size=(5, 7)).astype("float32")


def numpy(value):
    return float(keras.ops.convert_to_numpy(value))


def numpy_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_smooth_l1_against_numpy():
    d = np.abs(X1 - X2)
    expected = np.mean(np.where(d < 1.0, 0.5 * d ** 2, d - 0.5))
    assert numpy(smooth_l1_distance(X1, X2)) == pytest.approx(expected, rel=1e-5)


def test_cosine_against_numpy_and_zero_vectors():
    cosines = (X1 * X2).sum(-1) / (np.linalg.norm(X1, axis=-1) * np.linalg.norm(X2, axis=-1))
    assert numpy(cosine_distance(X1, X2)) == pytest.approx(np.mean(1 - cosines), rel=1e-5)
    assert numpy(cosine_distance(np.zeros((2, 3)), np.ones((2, 3)))) == pytest.approx(1.0)


def test_jensen_shannon_against_numpy():
    p, q = numpy_softmax(X1), numpy_softmax(X2)
    m = 0.5 * (p + q)
    expected = np.mean(0.5 * (p * np.log(p / m)).sum(-1) + 0.5 * (q * np.log(q / m)).sum(-1))
    assert numpy(jensen_shannon_distance(X1, X2)) == pytest.approx(expected, rel=1e-4)
    assert numpy(jensen_shannon_distance(X1, X1)) == pytest.approx(0.0, abs=1e-6)


def test_dispatch_float16_and_unknown_kind():
    assert numpy(alignment_distance("cmd", X1, X2, moments=3)) == pytest.approx(
        numpy(central_moment_discrepancy(X1, X2, moments=3)))
    for kind in ("cmd", "smooth_l1", "cosine", "jsd"):
        value = alignment_distance(kind, X1.astype("float16"), np.zeros((5, 7), "float16"))
        assert keras.backend.standardize_dtype(value.dtype) == "float32" and np.isfinite(numpy(value))
    with pytest.raises(ValueError, match="alignment"):
        alignment_distance("kl", X1, X2)
