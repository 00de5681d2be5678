"""Tests for avtfuse.layers.frame_encoder.FrameEncoder (the sequence systems' per-frame encoder)."""

import keras
import numpy as np
import pytest

from avtfuse.layers import FrameEncoder


def numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


def test_frame_encoders_save_and_follow_the_dtype_policy(tmp_path):
    frames = np.random.default_rng(0).uniform(size=(1, 2, 32, 32, 3)).astype("float32")
    for kind, units in (("mobilenet", 576), ("small", 16)):
        symbolic = keras.Input(shape=frames.shape[1:])
        encoder = FrameEncoder(kind, filters=8, units=16)
        model = keras.Model(symbolic, encoder(symbolic))
        assert encoder.output_units == units and model.output.shape == (None, 2, units)
        model.save(tmp_path / f"{kind}.keras")
        loaded = keras.models.load_model(tmp_path / f"{kind}.keras")
        np.testing.assert_allclose(numpy(loaded(frames)), numpy(model(frames)), rtol=1e-5, atol=1e-6)
    mixed = FrameEncoder("mobilenet", dtype="mixed_float16")
    features = mixed(frames)
    assert keras.backend.standardize_dtype(features.dtype) == "float16" and np.all(np.isfinite(numpy(features)))
    assert {layer.compute_dtype for layer in mixed.network._flatten_layers()} == {"float16"}
    assert {v.dtype for v in mixed.weights} == {"float32"}
    with pytest.raises(ValueError, match="kind"):
        FrameEncoder("efficientface")
    with pytest.raises(ValueError, match="frames"):
        FrameEncoder()(np.zeros((1, 16, 16, 3), "float32"))
