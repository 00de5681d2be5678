"""Tests for avtfuse.export: the end-to-end SavedModel reloads and matches the Keras models."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from avtfuse.export import export_saved_model, exported_class_names, load_serving
from avtfuse.models.avtnet import AVTNet, AVTNetConfig, build_recognizer
from avtfuse.models.base import ContractClassifier

AUDIO_SHAPE = (16, 8)
IMAGE_SIZE = (16, 16)
NUM_PEOPLE = 3
BATCH = 4
CHANNELS = {"visible": 3, "thermal": 1}


def build_models(modalities):
    config = AVTNetConfig(
        modalities=modalities,
        audio_shape=AUDIO_SHAPE,
        image_size=IMAGE_SIZE,
        image_filters=8,
        token_dim=16,
        hidden_dim=32,
        ff_dim=32,
    )
    embedding_model = AVTNet(config)
    recognizer = build_recognizer(config.embedding_dim * len(embedding_model.embedding_names), NUM_PEOPLE)
    # Move the batch-norm statistics off their initial values so inference mode matters.
    for layer in recognizer.layers:
        if layer.__class__.__name__ == "BatchNormalization":
            layer.moving_mean.assign(np.random.default_rng(0).normal(size=layer.moving_mean.shape) * 0.1)
    return embedding_model, recognizer


def random_inputs(modalities, seed):
    rng = np.random.default_rng(seed)
    inputs = {}
    for name in modalities:
        shape = (BATCH, *AUDIO_SHAPE) if name == "audio" else (BATCH, *IMAGE_SIZE, CHANNELS[name])
        inputs[name] = rng.random(shape, dtype=np.float32)
    inputs["present"] = np.ones((BATCH, len(modalities)), np.float32)
    return inputs


def keras_outputs(embedding_model, recognizer, inputs):
    embedding = embedding_model.features(embedding_model(inputs, training=False))
    probabilities = recognizer(embedding, training=False)
    return np.asarray(probabilities), np.asarray(embedding)


def served(signature, inputs):
    outputs = signature(**{key: tf.constant(value) for key, value in inputs.items()})
    return {key: value.numpy() for key, value in outputs.items()}


@pytest.fixture(scope="module")
def trimodal(tmp_path_factory):
    modalities = ("audio", "visible", "thermal")
    embedding_model, recognizer = build_models(modalities)
    path = export_saved_model(ContractClassifier(embedding_model, recognizer),
                              tmp_path_factory.mktemp("export") / "avtnet", class_names=["ana", "bo", "cy"])
    return modalities, embedding_model, recognizer, path


def test_signature_inputs_and_outputs(trimodal):
    _, _, _, path = trimodal
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    _, input_specs = signature.structured_input_signature
    assert set(input_specs) == {"audio", "visible", "thermal", "present"}
    assert input_specs["audio"].shape.as_list() == [None, *AUDIO_SHAPE]
    assert input_specs["visible"].shape.as_list() == [None, *IMAGE_SIZE, 3]
    assert input_specs["thermal"].shape.as_list() == [None, *IMAGE_SIZE, 1]
    assert input_specs["present"].shape.as_list() == [None, 3]
    assert all(spec.dtype == tf.float32 for spec in input_specs.values())
    outputs = signature.structured_outputs
    assert set(outputs) == {"probabilities", "label", "embedding", "person_embedding"}
    assert outputs["probabilities"].shape.as_list() == [None, NUM_PEOPLE]
    assert outputs["embedding"].shape.as_list() == [None, 256 * 4]
    assert outputs["person_embedding"].shape.as_list() == [None, 256]
    assert outputs["label"].dtype == tf.int32


def test_reloaded_model_matches_keras(trimodal):
    modalities, embedding_model, recognizer, path = trimodal
    signature = load_serving(path)
    inputs = random_inputs(modalities, seed=1)
    got = served(signature, inputs)
    probabilities, embedding = keras_outputs(embedding_model, recognizer, inputs)
    np.testing.assert_allclose(got["probabilities"], probabilities, atol=1e-5)
    np.testing.assert_allclose(got["embedding"], embedding, atol=1e-5)
    np.testing.assert_array_equal(got["label"], probabilities.argmax(axis=-1))
    joint = embedding_model.embeddings(embedding_model(inputs, training=False))["joint"]  # what verification scores
    np.testing.assert_allclose(got["person_embedding"], np.asarray(joint), atol=1e-5)


@pytest.mark.parametrize("missing", ["audio", "visible", "thermal"])
def test_missing_modality_matches_keras_on_zeros(trimodal, missing):
    modalities, embedding_model, recognizer, path = trimodal
    signature = load_serving(path)
    inputs = random_inputs(modalities, seed=2)
    index = modalities.index(missing)
    inputs["present"][1:3, index] = 0.0
    zeroed = {key: value.copy() for key, value in inputs.items()}
    zeroed[missing][1:3] = 0.0
    probabilities, embedding = keras_outputs(embedding_model, recognizer, zeroed)

    # Zeros with present = 0 (the contract) and stale data with present = 0 serve the same.
    for fed in (zeroed, inputs):
        got = served(signature, fed)
        np.testing.assert_allclose(got["probabilities"], probabilities, atol=1e-5)
        np.testing.assert_allclose(got["embedding"], embedding, atol=1e-5)
        np.testing.assert_array_equal(got["label"], probabilities.argmax(axis=-1))
    # The zeroed rows really differ from the complete ones.
    complete, _ = keras_outputs(embedding_model, recognizer, random_inputs(modalities, seed=2))
    assert np.abs(complete[1:3] - probabilities[1:3]).max() > 1e-6


def test_labels_saved_beside_model(trimodal):
    _, _, _, path = trimodal
    assert json.loads((path / "labels.json").read_text()) == ["ana", "bo", "cy"]
    assert exported_class_names(path) == ["ana", "bo", "cy"]


def test_bimodal_export_without_avtfuse(tmp_path):
    modalities = ("audio", "thermal")
    embedding_model, recognizer = build_models(modalities)
    path = export_saved_model(ContractClassifier(embedding_model, recognizer), tmp_path / "at")
    assert exported_class_names(path) is None
    inputs = random_inputs(modalities, seed=3)
    inputs["present"][0, 1] = 0.0
    inputs["thermal"][0] = 0.0
    probabilities, _ = keras_outputs(embedding_model, recognizer, inputs)
    np.save(tmp_path / "inputs.npy", inputs, allow_pickle=True)

    # A fresh interpreter that cannot import avtfuse (or keras) loads and runs the signature.
    script = (
        "import sys; sys.modules['avtfuse'] = None; sys.modules['keras'] = None\n"
        "import numpy as np, tensorflow as tf\n"
        f"signature = tf.saved_model.load({str(path)!r}).signatures['serving_default']\n"
        "print(sorted(signature.structured_input_signature[1]))\n"
        f"inputs = np.load({str(tmp_path / 'inputs.npy')!r}, allow_pickle=True).item()\n"
        "outputs = signature(**{k: tf.constant(v) for k, v in inputs.items()})\n"
        f"np.save({str(tmp_path / 'probabilities.npy')!r}, outputs['probabilities'].numpy())\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "['audio', 'present', 'thermal']"
    np.testing.assert_allclose(np.load(tmp_path / "probabilities.npy"), probabilities, atol=1e-5)


def test_bad_arguments(tmp_path, trimodal):
    _, embedding_model, recognizer, _ = trimodal
    classifier = ContractClassifier(embedding_model, recognizer)
    with pytest.raises(ValueError, match="class_names"):
        export_saved_model(classifier, tmp_path / "m", class_names=["a", "b"])
    with pytest.raises(ValueError, match="incompatible"):
        export_saved_model(ContractClassifier(embedding_model, build_recognizer(64, NUM_PEOPLE)), tmp_path / "m")
    with pytest.raises(ValueError, match="ContractClassifier"):
        export_saved_model(recognizer, tmp_path / "m")
    with pytest.raises(ValueError, match="no saved_model.pb"):
        load_serving(tmp_path)


@pytest.mark.parametrize("variant", ["lt1", "lt4", "it1", "it4", "ia1", "ia4"])
def test_every_sa_fusion_variant_exports_and_serves_as_keras(variant, tmp_path):
    from avtfuse.models.sa_fusion import VARIANTS, SAFusionConfig, SAFusionNet, build_linear_head

    config = SAFusionConfig(audio_shape=(20, 10), visible_shape=(6, 16, 16, 3), frame_filters=4, frame_units=8,
                            **VARIANTS[variant].overrides)
    backbone = SAFusionNet(config)
    classifier = ContractClassifier(backbone, build_linear_head(backbone.feature_dim, NUM_PEOPLE))
    rng = np.random.default_rng(0)
    inputs = {"audio": rng.normal(size=(BATCH, 20, 10)).astype(np.float32),
              "visible": rng.random((BATCH, 6, 16, 16, 3), dtype=np.float32),
              "present": np.array([[1, 1], [1, 0], [0, 1], [1, 1]], np.float32)}
    blanked = {"audio": inputs["audio"] * inputs["present"][:, :1, None],
               "visible": inputs["visible"] * inputs["present"][:, 1, None, None, None, None]}
    expected = np.asarray(classifier(blanked, training=False))
    outputs = served(load_serving(export_saved_model(classifier, tmp_path / variant)), inputs)
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-5)


def test_noise_fill_serves_a_fixed_noise_for_the_missing_modality(tmp_path):
    from avtfuse.models.sa_fusion import SAFusionConfig, SAFusionNet, build_linear_head

    backbone = SAFusionNet(SAFusionConfig(audio_shape=(20, 10), visible_shape=(6, 16, 16, 3), frame_filters=4,
                                          frame_units=8))
    classifier = ContractClassifier(backbone, build_linear_head(backbone.feature_dim, NUM_PEOPLE),
                                    missing_fill="noise")
    inputs = {"audio": np.zeros((BATCH, 20, 10), np.float32),
              "visible": np.full((BATCH, 6, 16, 16, 3), 0.5, np.float32),
              "present": np.array([[0, 1]] * BATCH, np.float32)}
    signature = load_serving(export_saved_model(classifier, tmp_path / "noise"))
    first, second = served(signature, inputs), served(signature, inputs)
    np.testing.assert_array_equal(first["probabilities"], second["probabilities"])
    zeros = np.asarray(classifier({"audio": inputs["audio"], "visible": inputs["visible"]}, training=False))
    assert np.abs(first["probabilities"] - zeros).max() > 1e-4  # the missing audio is noise, not zeros
    with pytest.raises(ValueError, match="missing_fill"):
        ContractClassifier(backbone, classifier.head, missing_fill="mean")
