"""The shared inputs, standardisation and branches of AVTNet and the E2E features."""

import keras

from avtfuse.models.avtnet import branches
from avtfuse.models.avtnet import AVTNetConfig


def test_feature_maps_have_the_branch_shapes():
    config = AVTNetConfig(audio_shape=(20, 8), image_size=(16, 24))
    inputs, maps = branches.feature_maps(config, None)
    assert {m: tuple(t.shape[1:]) for m, t in inputs.items()} == {
        "audio": (20, 8), "visible": (16, 24, 3), "thermal": (16, 24, 1)}
    assert {m: tuple(t.shape[1:]) for m, t in maps.items()} == {
        "audio": (20, 64), "visible": (2, 3, 64), "thermal": (2, 3, 64)}


def test_standardisation_layers_only_when_asked():
    for standardize in (True, False):
        config = AVTNetConfig(modalities=("audio", "thermal"), audio_shape=(20, 8), image_size=(16, 16),
                              standardize_inputs=standardize)
        inputs, maps = branches.feature_maps(config, None)
        model = keras.Model(inputs, maps)
        names = {layer.name for layer in model.layers}
        assert ({"audio_standardize", "thermal_standardize"} <= names) == standardize
        assert branches.input_shapes(config) == {"audio": (20, 8), "thermal": (16, 16, 1)}
