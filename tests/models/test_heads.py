"""The heads shared by systems."""

import keras
import numpy as np
import pytest

from avtfuse.models.heads import build_linear_head


@pytest.fixture
def mixed_float16():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    yield
    keras.mixed_precision.set_dtype_policy("float32")


def test_linear_head(mixed_float16):
    head = build_linear_head(256, 8)
    assert [type(layer).__name__ for layer in head.layers] == ["InputLayer", "Dense"]
    assert head.count_params() == 256 * 8 + 8
    probabilities = head(np.random.default_rng(0).normal(size=(3, 256)).astype("float32"))
    assert keras.backend.standardize_dtype(probabilities.dtype) == "float32"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(probabilities).sum(axis=1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="num_classes"):
        build_linear_head(256, 1)
