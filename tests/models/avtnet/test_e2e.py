"""Tests for avtfuse.models.avtnet.e2e: the E2E baseline (branch features -> recogniser, one phase)."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from avtfuse.export import export_saved_model, load_serving
from avtfuse.layers import AudioBranch, ImageBranch
from avtfuse.contract import MODALITIES
from avtfuse.models.avtnet import AVTNetConfig, BranchFeatures, build_recognizer
from avtfuse.models.base import ContractClassifier

NUM_PEOPLE = 3
BATCH = 6
# 16 frames x 8 mels; 16 x 16 images -> 2 x 2 maps after 3 poolings; 8-d tokens.
TINY = {"audio_shape": (16, 8), "image_size": (16, 16), "token_dim": 8, "num_heads": 2, "image_filters": 4}
SUBSETS = [subset for size in (1, 2, 3) for subset in itertools.combinations(MODALITIES, size)]


def tiny_config(**overrides):
    return AVTNetConfig(**{**TINY, **overrides})


def build_e2e(config, num_people):
    """(backbone, recogniser, classifier) of the E2E baseline, as its recipe builds them."""
    features_model = BranchFeatures(config)
    recognizer = build_recognizer(features_model.feature_dim, num_people)
    return features_model, recognizer, ContractClassifier(features_model, recognizer)


def make_inputs(config, batch, seed=0, present=None):
    """A data-contract batch with "present" and "recording"; missing modalities zeroed."""
    rng = np.random.default_rng(seed)
    if present is None:
        present = np.ones((batch, len(config.modalities)), "float32")
    shapes = {
        "audio": config.audio_shape,
        "visible": (*config.image_size, 3),
        "thermal": (*config.image_size, config.thermal_channels),
    }
    inputs = {"present": present.astype("float32"), "recording": np.array([b"rec"] * batch)}
    for index, modality in enumerate(config.modalities):
        values = rng.normal(size=(batch, *shapes[modality])).astype("float32")
        inputs[modality] = values * present[:, index].reshape((batch,) + (1,) * len(shapes[modality]))
    return inputs


def numpy(value):
    return keras.ops.convert_to_numpy(value)


def move_batch_norm_statistics(recognizer):
    """Moves the recogniser's BN moving statistics off their initial values (so inference mode matters)."""
    rng = np.random.default_rng(1)
    for layer in recognizer.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(rng.normal(size=layer.moving_mean.shape) * 0.1)
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, size=layer.moving_variance.shape))


def reference_features(model, inputs):
    """Branch outputs pooled and concatenated with NumPy (per the config's pooling)."""
    pooled = []
    for modality in model.config.modalities:
        tensor = inputs[modality]
        if model.config.standardize_inputs:
            tensor = model.get_layer(f"{modality}_standardize")(tensor)
        feature_map = numpy(model.get_layer(f"{modality}_branch")(tensor))
        if model.config.pooling == "flatten":
            pooled.append(feature_map.reshape(len(feature_map), -1))
        else:
            pooled.append(feature_map.reshape(len(feature_map), -1, feature_map.shape[-1]).mean(axis=1))
    return np.concatenate(pooled, axis=1)


def test_shapes_and_interface():
    config = tiny_config()
    features_model, recognizer, combined = build_e2e(config, NUM_PEOPLE)
    inputs = make_inputs(config, BATCH)
    outputs = features_model(inputs)
    assert set(outputs) == {"features"}
    features = numpy(features_model.features(outputs))
    assert features.shape == (BATCH, features_model.feature_dim) and features.dtype == np.float32
    assert recognizer.inputs[0].shape[-1] == features_model.feature_dim
    assert isinstance(features_model.get_layer("audio_branch"), AudioBranch)
    assert isinstance(features_model.get_layer("thermal_branch"), ImageBranch)
    probabilities = numpy(combined(inputs, training=False))
    assert probabilities.shape == (BATCH, NUM_PEOPLE) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    # The paper's head: Dense 512 + BN + ReLU, Dense 256 + BN + ReLU, softmax.
    dense = [layer.units for layer in recognizer.layers if isinstance(layer, keras.layers.Dense)]
    assert dense == [512, 256, NUM_PEOPLE]
    with pytest.raises(ValueError, match="thermal"):
        features_model({"audio": inputs["audio"]})
    with pytest.raises(ValueError, match="dict"):
        features_model(inputs["audio"])
    with pytest.raises(ValueError, match="AVTNetConfig"):
        BranchFeatures("audio")


@pytest.mark.parametrize("modalities", SUBSETS, ids=["-".join(s) for s in SUBSETS])
def test_every_modality_subset_builds(modalities):
    config = tiny_config(modalities=modalities)
    features_model, _, combined = build_e2e(config, NUM_PEOPLE)
    assert sorted(features_model.input) == sorted(modalities)
    inputs = make_inputs(config, 2)
    flattened = {"audio": 16 * 8, "visible": 2 * 2 * 8, "thermal": 2 * 2 * 8}
    assert features_model.feature_dim == sum(flattened[m] for m in modalities)
    features = numpy(features_model(inputs)["features"])
    np.testing.assert_allclose(features, reference_features(features_model, inputs), rtol=1e-5, atol=1e-6)
    assert numpy(combined(inputs)).shape == (2, NUM_PEOPLE)


@pytest.mark.parametrize("pooling, dim", [("flatten", 16 * 8 + 2 * (2 * 2 * 8)), ("average", 3 * 8)])
def test_pooling_and_feature_dim(pooling, dim):
    config = tiny_config(pooling=pooling, standardize_inputs=False)
    features_model = BranchFeatures(config)
    assert features_model.feature_dim == dim
    assert not any(isinstance(layer, keras.layers.Normalization) for layer in features_model.layers)
    inputs = make_inputs(config, 3)
    features = numpy(features_model(inputs)["features"])
    np.testing.assert_allclose(features, reference_features(features_model, inputs), rtol=1e-5, atol=1e-6)


def test_adapt_fits_standardisation_on_present_samples():
    config = tiny_config(modalities=("audio", "thermal"))
    present = np.array([[1, 1], [0, 1], [1, 0], [1, 1]], "float32")
    inputs = make_inputs(config, 4, present=present)
    inputs["audio"] = inputs["audio"] * 3.0 + 5.0 * present[:, :1, None]
    features_model, _, combined = build_e2e(config, NUM_PEOPLE)
    combined.adapt(tf.data.Dataset.from_tensor_slices((inputs, np.zeros(4, "int32"))))
    for index, modality in enumerate(config.modalities):
        real = inputs[modality][present[:, index] > 0]
        values = real.reshape(-1, real.shape[-1])
        layer = features_model.get_layer(f"{modality}_standardize")
        np.testing.assert_allclose(numpy(layer.mean).ravel(), values.mean(axis=0), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(numpy(layer.variance).ravel(), values.var(axis=0), rtol=1e-4, atol=1e-5)


def test_fit_end_to_end_on_dicts_with_present_and_recording():
    keras.utils.set_random_seed(0)
    config = tiny_config()
    features_model, recognizer, combined = build_e2e(config, NUM_PEOPLE)
    inputs = make_inputs(config, BATCH, present=np.array([[1, 1, 1], [0, 1, 1], [1, 0, 1]] * 2, "float32"))
    labels = np.array([0, 1, 2, 0, 1, 2], "int32")
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(3)
    combined.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    branch_conv = features_model.get_layer("visible_branch").convolutions[0]
    branch_kernel = numpy(branch_conv.kernel).copy()
    head_kernel = numpy(recognizer.get_layer("dense_0").kernel).copy()
    history = combined.fit(dataset, epochs=1, shuffle=False, verbose=0)
    assert combined.optimizer.iterations.numpy() == 2
    assert np.isfinite(history.history["loss"][-1])
    # Cross-entropy gradients reach both the branches and the head.
    assert not np.array_equal(numpy(branch_conv.kernel), branch_kernel)
    assert not np.array_equal(numpy(recognizer.get_layer("dense_0").kernel), head_kernel)


def test_combined_equals_recognizer_on_features(tmp_path):
    config = tiny_config()
    features_model, recognizer, combined = build_e2e(config, NUM_PEOPLE)
    move_batch_norm_statistics(recognizer)
    inputs = make_inputs(config, BATCH)
    features = features_model.features(features_model(inputs))
    expected = numpy(recognizer(features, training=False))
    np.testing.assert_allclose(numpy(combined(inputs, training=False)), expected, rtol=1e-6, atol=1e-7)
    path = tmp_path / "e2e.keras"
    combined.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, ContractClassifier) and isinstance(loaded.backbone, BranchFeatures)
    np.testing.assert_allclose(numpy(loaded(inputs, training=False)), expected, rtol=1e-6, atol=1e-7)


def test_features_model_save_load_round_trip(tmp_path):
    config = tiny_config(pooling="average", modalities=("visible", "thermal"))
    features_model = BranchFeatures(config)
    images = np.random.default_rng(2).uniform(size=(4, 16, 16, 3))
    features_model.get_layer("visible_standardize").adapt(images)
    inputs = make_inputs(config, 3)
    path = tmp_path / "features.keras"
    features_model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, BranchFeatures) and loaded.config == config
    expected = numpy(features_model(inputs)["features"])
    np.testing.assert_array_equal(numpy(loaded(inputs)["features"]), expected)


def test_mixed_precision_features_are_float32():
    config = tiny_config(modalities=("audio",))
    features_model = BranchFeatures(config, dtype="mixed_float16")
    assert features_model.get_layer("audio_branch").compute_dtype == "float16"
    features = numpy(features_model(make_inputs(config, 2))["features"])
    assert features.dtype == np.float32 and np.all(np.isfinite(features))


def test_export_saved_model_matches_combined(tmp_path):
    config = tiny_config()
    features_model, recognizer, combined = build_e2e(config, NUM_PEOPLE)
    move_batch_norm_statistics(recognizer)
    present = np.array([[1, 1, 1], [0, 1, 1], [1, 0, 1], [1, 1, 0], [1, 1, 1], [0, 0, 1]], "float32")
    inputs = make_inputs(config, BATCH, present=present)
    export_saved_model(combined, tmp_path / "e2e")
    signature = load_serving(tmp_path / "e2e")
    served = signature(**{key: tf.constant(inputs[key]) for key in (*config.modalities, "present")})
    expected = numpy(combined(inputs, training=False))
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, atol=1e-5)
    np.testing.assert_array_equal(served["label"].numpy(), expected.argmax(axis=1))
    assert served["embedding"].shape == (BATCH, features_model.feature_dim)
