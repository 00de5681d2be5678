"""Tests for AreaResize: cv2.resize INTER_AREA to 16 x 16, flattened, as a layer."""

import cv2
import keras
import numpy as np
import pytest

from avtfuse.evaluation.reference import pixel_features
from avtfuse.layers.area_resize import AreaResize


@pytest.mark.parametrize("height, width, channels", [
    (48, 48, 3),  # integer factor 3 (cv2's fast path)
    (40, 40, 1),  # non-integer factor 2.5
    (16, 16, 3),  # kept
    (37, 16, 1),  # one side kept, the other shrunk by 2.3125
])
def test_matches_cv2(rng, height, width, channels):
    frames = rng.random((2, height, width, channels), dtype=np.float32)
    expected = np.stack([cv2.resize(frame, (16, 16), interpolation=cv2.INTER_AREA).reshape(-1) for frame in frames])
    result = keras.ops.convert_to_numpy(AreaResize()(frames))
    assert result.shape == (2, 256 * channels)
    np.testing.assert_allclose(result, expected, atol=1e-6, rtol=0)
    np.testing.assert_allclose(result, pixel_features(frames), atol=1e-6, rtol=0)


def test_other_size(rng):
    frames = rng.random((1, 30, 21, 3), dtype=np.float32)
    expected = cv2.resize(frames[0], (7, 7), interpolation=cv2.INTER_AREA).reshape(1, -1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(AreaResize(size=7)(frames)), expected, atol=1e-6)


@pytest.mark.parametrize("shape", [(1, 8, 16, 3), (1, 16, 15, 1)])
def test_enlarging_names_inputs(shape):
    with pytest.raises(ValueError, match="AreaResize inputs: frames of .* smaller than 16 x 16"):
        AreaResize()(np.zeros(shape, np.float32))


def test_wrong_rank_names_inputs():
    with pytest.raises(ValueError, match="AreaResize inputs"):
        AreaResize()(np.zeros((2, 16, 16), np.float32))


def test_bad_size():
    with pytest.raises(ValueError, match="AreaResize size"):
        AreaResize(size=0)


def test_serialisation(layer_checks, rng):
    frames = rng.random((2, 20, 18, 1), dtype=np.float32)
    layer_checks.config_round_trip(AreaResize(size=8), frames)
    layer_checks.save_load(AreaResize(size=8), frames)
