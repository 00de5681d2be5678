"""Shared checks for the avtfuse layers: config round trip and .keras save/load."""

import keras
import numpy as np
import pytest


class LayerChecks:
    """Serialisation checks of one layer on concrete inputs (an array or a list of arrays)."""

    def __init__(self, directory):
        self.directory = directory

    def config_round_trip(self, layer, inputs):
        """from_config(get_config()) with the weights copied gives identical outputs."""
        expected = keras.ops.convert_to_numpy(layer(inputs))
        clone = type(layer).from_config(layer.get_config())
        clone(inputs)
        clone.set_weights(layer.get_weights())
        assert clone.get_config() == layer.get_config()
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(clone(inputs)), expected)

    def save_load(self, layer, inputs):
        """A functional model holding the layer survives model.save + load_model unchanged."""
        if isinstance(inputs, list):
            symbolic = [keras.Input(shape=array.shape[1:]) for array in inputs]
        else:
            symbolic = keras.Input(shape=inputs.shape[1:])
        model = keras.Model(symbolic, layer(symbolic))
        path = str(self.directory / "model.keras")
        model.save(path)
        loaded = keras.models.load_model(path)
        assert [type(item) for item in loaded.layers] == [type(item) for item in model.layers]
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(loaded(inputs)),
            keras.ops.convert_to_numpy(model(inputs)),
            rtol=1e-6,
            atol=1e-6,
        )


@pytest.fixture
def layer_checks(tmp_path):
    return LayerChecks(tmp_path)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
