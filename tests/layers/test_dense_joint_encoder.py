import numpy as np

from avtfuse.layers.dense_joint_encoder import DenseJointEncoder
from avtfuse.layers.embedding_head import EmbeddingHead


def test_concatenates_flattened_maps_into_three_dense_layers(rng):
    audio = rng.normal(size=(3, 4, 6)).astype("float32")
    image = rng.normal(size=(3, 2, 2, 6)).astype("float32")
    encoder = DenseJointEncoder()
    result = encoder([audio, image]).numpy()
    assert result.shape == (3, 256)
    assert [layer.units for layer in encoder.hidden_layers] == [256, 256]
    assert encoder.hidden_layers[0].kernel.shape == (4 * 6 + 2 * 2 * 6, 256)
    hidden = np.concatenate([audio.reshape(3, -1), image.reshape(3, -1)], axis=1).astype("float64")
    for layer in encoder.hidden_layers:
        kernel, bias = layer.get_weights()
        hidden = np.maximum(hidden @ kernel + bias, 0.0)
    kernel, bias = encoder.projection.get_weights()
    projected = hidden @ kernel + bias
    expected = projected / np.linalg.norm(projected, axis=1, keepdims=True)
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-6)


def test_is_an_embedding_head():
    assert isinstance(DenseJointEncoder(), EmbeddingHead)


def test_serialisation(layer_checks, rng):
    inputs = [rng.normal(size=(2, 3, 4)).astype("float32"), rng.normal(size=(2, 2, 2, 4)).astype("float32")]
    layer_checks.config_round_trip(DenseJointEncoder(8, hidden_units=(5, 4)), inputs)
    layer_checks.save_load(DenseJointEncoder(8, hidden_units=(5, 4)), inputs)
