import keras
import numpy as np
import pytest

from avtfuse.models.avtnet import build_recognizer


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_shapes_and_probabilities(rng):
    model = build_recognizer(32, 5, hidden_units=(16, 8))
    probabilities = model.predict(rng.normal(size=(7, 32)).astype("float32"), verbose=0)
    assert probabilities.shape == (7, 5)
    assert np.all(probabilities >= 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_paper_layout():
    model = build_recognizer(1024, 75)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [512, 256, 75]
    assert sum(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers) == 2
    assert model.input_shape == (None, 1024)
    assert dense[-1].activation.__name__ == "softmax"


def test_float32_output_under_mixed_precision(rng):
    previous = keras.mixed_precision.global_policy()
    try:
        keras.mixed_precision.set_global_policy("mixed_float16")
        model = build_recognizer(16, 3, hidden_units=(8,))
        assert model.get_layer("dense_0").compute_dtype == "float16"
        assert model(rng.normal(size=(2, 16)).astype("float32")).dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy(previous)


def test_trains_with_sparse_cross_entropy(rng):
    model = build_recognizer(8, 3, hidden_units=(8,))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    features = rng.normal(size=(12, 8)).astype("float32")
    history = model.fit(features, np.arange(12) % 3, batch_size=6, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_save_and_load(tmp_path, rng):
    model = build_recognizer(16, 4, hidden_units=(8, 6))
    features = rng.normal(size=(3, 16)).astype("float32")
    path = str(tmp_path / "recognizer.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(features, verbose=0), model.predict(features, verbose=0), rtol=1e-6)


@pytest.mark.parametrize(
    "arguments, field",
    [((0, 3), "input_dim"), ((8, 1), "num_people"), ((8, 3, (4, 0)), "hidden_units")],
)
def test_rejects_bad_arguments(arguments, field):
    with pytest.raises(ValueError, match=field):
        build_recognizer(*arguments)
