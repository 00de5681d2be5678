import keras
import numpy as np
import pytest
import tensorflow as tf

from avtfuse.layers.standardization import Standardization

CONSTANT = 3.0


@pytest.fixture
def data(rng):
    """[64, 3] training data; channel 1 is the constant CONSTANT (variance 0)."""
    values = rng.normal(loc=(2.0, 0.0, -1.0), scale=(0.5, 1.0, 4.0), size=(64, 3)).astype("float32")
    values[:, 1] = CONSTANT
    return values


@pytest.fixture
def probes():
    """Inputs whose constant channel deviates from CONSTANT, up to far beyond the data."""
    deviations = [[0.0, 1.0, 0.0], [5.0, -2.0, 9.0], [1.0, 1e3, -3.0]]
    return (np.array(deviations) + [0.0, CONSTANT, 0.0]).astype("float32")


@pytest.mark.parametrize("source", ["array", "dataset"])
def test_constant_channel_is_centred_not_scaled(source, data, probes):
    layer = Standardization()
    layer.adapt(data if source == "array" else tf.data.Dataset.from_tensor_slices(data).batch(16))
    result = layer(probes).numpy()
    np.testing.assert_allclose(result[:, 1], probes[:, 1] - CONSTANT, rtol=1e-6)
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(keras.ops.cast(result, "float16"))))
    varying = data[:, [0, 2]].astype("float64")
    expected = (probes[:, [0, 2]] - varying.mean(axis=0)) / np.sqrt(varying.var(axis=0))
    np.testing.assert_allclose(result[:, [0, 2]], expected, rtol=1e-4, atol=1e-5)


def test_float32_under_a_mixed_policy(data, probes):
    layer = Standardization(dtype="mixed_float16")
    layer.adapt(data)
    result = layer(probes)
    assert layer.compute_dtype == "float32" and result.dtype == tf.float32
    np.testing.assert_allclose(result.numpy()[:, 1], probes[:, 1] - CONSTANT, rtol=1e-6)


def test_rejects_non_positive_min_variance():
    with pytest.raises(ValueError, match="min_variance"):
        Standardization(min_variance=0.0)


def test_serialisation_keeps_the_adapted_statistics(layer_checks, data, probes):
    layer = Standardization(min_variance=1e-4)
    layer.adapt(data)
    layer_checks.config_round_trip(layer, probes)
    layer_checks.save_load(layer, probes)
