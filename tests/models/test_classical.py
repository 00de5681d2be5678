"""Tests for avtfuse.models.classical: the exported classical specialists answer as scikit-learn's predict_proba,
save and load, and serve inside SpecialistFallback."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from avtfuse.evaluation.reference import reference_features
from avtfuse.export import export_saved_model, load_serving
from avtfuse.models.avtnet import AVTNet, AVTNetConfig, build_recognizer
from avtfuse.models.base import ContractClassifier
from avtfuse.models.classical import SEQUENCE, classical_classifier, fit_classical, fit_pipeline
from avtfuse.models.specialist_fallback import SpecialistFallback

TOLERANCE = 1e-5
# kind, modality, input shape without the batch axis: audio log-mel, visible 3-channel, thermal 1-channel frames.
CASES = {
    "mfcc_lr": ("audio", (10, 24)),
    "sequence_lr": ("visible", (6, 12)),  # e.g. face embeddings per frame, or MFCC audio
    "pixels_lr": ("visible", (20, 24, 3)),
    "fisherfaces": ("thermal", (40, 16, 1)),
}


def contract_arrays(modality, shape, labels, seed):
    """Inputs [N, *shape] whose mean depends on the class (so the classes are learnable but overlap): log-mel in
    dB for audio, frames in [0, 1] otherwise."""
    rng = np.random.default_rng(seed)
    offset = np.asarray(labels, np.float32).reshape(-1, *[1] * len(shape))
    if modality == "audio":
        return (rng.normal(size=(len(labels), *shape)) * 10 - 40 + 2 * offset).astype(np.float32)
    return np.clip(rng.random((len(labels), *shape)) * 0.8 + 0.05 * offset, 0, 1).astype(np.float32)


def features(kind, modality, inputs):
    """The reference's features as the kind reads them (a sequence of any modality: no MFCCs taken)."""
    return reference_features(SEQUENCE if kind == "sequence_lr" else modality, inputs)


def served(signature, modality, inputs):
    present = np.ones((len(inputs), 1), np.float32)
    return signature(**{modality: tf.constant(inputs), "present": tf.constant(present)})


@pytest.fixture(scope="module", params=list(CASES))
def exported(request, tmp_path_factory):
    kind = request.param
    modality, shape = CASES[kind]
    labels = np.arange(15) % 3
    pipeline = fit_pipeline(kind, modality, contract_arrays(modality, shape, labels, 1), labels)
    classifier = classical_classifier(kind, modality, shape, pipeline)
    path = export_saved_model(classifier, tmp_path_factory.mktemp("classical") / kind)
    test = contract_arrays(modality, shape, np.arange(7) % 3, 2)
    return kind, classifier, pipeline, load_serving(path), test


def test_saved_model_equals_predict_proba(exported):
    kind, _, pipeline, signature, test = exported
    modality = CASES[kind][0]
    outputs = served(signature, modality, test)
    expected = pipeline.predict_proba(features(kind, modality, test))
    np.testing.assert_allclose(outputs["probabilities"].numpy(), expected, atol=TOLERANCE, rtol=0)
    np.testing.assert_array_equal(outputs["label"].numpy(), np.argmax(expected, axis=1))


def test_saved_model_equals_the_decision_values(exported):
    """The head's logits are the pipeline's decision values (probabilities near 0 or 1 hide them)."""
    kind, classifier, pipeline, signature, test = exported
    modality = CASES[kind][0]
    embedding = served(signature, modality, test)["embedding"].numpy()
    kernel, bias = classifier.head.get_layer("linear").get_weights()
    np.testing.assert_allclose(embedding, pipeline[:-1].transform(features(kind, modality, test)), atol=1e-4)
    decision = pipeline.decision_function(features(kind, modality, test))
    np.testing.assert_allclose(embedding @ kernel + bias, decision, atol=1e-4 * max(1, np.abs(decision).max()))


def test_keras_save_and_load(exported, tmp_path):
    kind, classifier, _, _, test = exported
    inputs = {CASES[kind][0]: test, "present": np.ones((len(test), 1), np.float32)}
    classifier.save(tmp_path / "classical.keras")
    loaded = keras.models.load_model(tmp_path / "classical.keras")
    assert loaded.backbone.config == classifier.backbone.config
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded.serve(inputs)["probabilities"]),
                               keras.ops.convert_to_numpy(classifier.serve(inputs)["probabilities"]), atol=1e-7)


@pytest.mark.parametrize("kind", list(CASES))
def test_two_classes(kind):
    """LogisticRegression and LDA decide two classes by one value z; the head answers [1 - sigmoid(z), sigmoid(z)]."""
    modality, shape = CASES[kind]
    labels = np.array([3, 7] * 5)
    inputs = contract_arrays(modality, shape, labels // 3, 3)
    classifier, classes = fit_classical(kind, modality, inputs, labels)
    np.testing.assert_array_equal(classes, [3, 7])
    test = contract_arrays(modality, shape, np.arange(5) % 2, 4)
    result = classifier.serve({modality: test, "present": np.ones((5, 1), np.float32)})["probabilities"]
    expected = fit_pipeline(kind, modality, inputs, labels).predict_proba(features(kind, modality, test))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(result), expected, atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("kind, modality, inputs, labels, message", [
    ("pixels_lr", "visible", np.zeros((4, 16, 16)), [0, 1, 0, 1], "train_inputs: kind 'pixels_lr' expects"),
    ("mfcc_lr", "audio", np.zeros((4, 16, 16, 1)), [0, 1, 0, 1], "train_inputs: kind 'mfcc_lr' expects"),
    ("pixels_lr", "thermal", np.zeros((4, 8, 16, 1)), [0, 1, 0, 1], "train_inputs: frames of 8 x 16"),
    ("pixels_lr", "visible", np.zeros((4, 16, 16, 3)), [1, 1, 1, 1], "train_labels: 1 class"),
    ("mfcc_lr", "audio", np.zeros((0, 10, 8)), [], "train_labels: empty"),
    ("mfcc_lr", "audio", np.zeros((3, 10, 8)), [0, 1], "train_inputs: 3 samples for 2"),
    ("fisherfaces", "thermal", np.zeros((3, 16, 16, 1)), [0, 1, 2], "train_labels: 3 samples of 3 classes"),
    ("mfcc_lr", "visible", np.zeros((4, 10, 8)), [0, 1, 0, 1], "modality: kind 'mfcc_lr' reads"),
    ("lda", "visible", np.zeros((4, 16, 16, 3)), [0, 1, 0, 1], "kind: choose from"),
])
def test_bad_inputs_name_the_argument(kind, modality, inputs, labels, message):
    with pytest.raises(ValueError, match=message) as error:
        fit_classical(kind, modality, inputs.astype(np.float32), np.asarray(labels))
    assert "\n" not in str(error.value)


def test_specialist_fallback_routes_to_a_classical_specialist(tmp_path):
    """A fused AVTNet over audio and thermal; alone, audio is answered by MFCC + logistic regression (all four
    people) and thermal by Fisherfaces fitted on people 1 and 3 only (zero for the others)."""
    keras.utils.set_random_seed(5)
    config = AVTNetConfig(modalities=("audio", "thermal"), audio_shape=(10, 24), image_size=(16, 16),
                          thermal_channels=1, image_filters=8, token_dim=16, hidden_dim=32, ff_dim=32,
                          embedding_dim=16)
    backbone = AVTNet(config)
    fused = ContractClassifier(backbone, build_recognizer(backbone.feature_dim, 4, hidden_units=(16,)))
    audio_labels, thermal_labels = np.arange(12) % 4, np.array([1, 3] * 4)
    audio, audio_classes = fit_classical("mfcc_lr", "audio", contract_arrays("audio", (10, 24), audio_labels, 5),
                                         audio_labels)
    thermal, thermal_classes = fit_classical("fisherfaces", "thermal",
                                             contract_arrays("thermal", (16, 16, 1), thermal_labels, 6), thermal_labels)
    router = SpecialistFallback.around(fused, {"audio": audio, "thermal": thermal},
                                       classes={"audio": audio_classes.tolist(), "thermal": thermal_classes.tolist()})
    present = np.array([[1, 1], [1, 0], [0, 1]], np.float32)
    inputs = {"audio": contract_arrays("audio", (10, 24), [0, 2, 0], 7) * present[:, :1, None],
              "thermal": contract_arrays("thermal", (16, 16, 1), [0, 0, 1], 8) * present[:, 1:, None, None],
              "present": present}
    signature = load_serving(export_saved_model(router, tmp_path / "router"))
    result = signature(**{key: tf.constant(value) for key, value in inputs.items()})["probabilities"].numpy()
    one = np.ones((1, 1), np.float32)
    np.testing.assert_allclose(result[0], keras.ops.convert_to_numpy(fused.serve(inputs)["probabilities"])[0],
                               atol=1e-6)
    expected_audio = audio.serve({"audio": inputs["audio"][1:2], "present": one})["probabilities"]
    np.testing.assert_allclose(result[1], keras.ops.convert_to_numpy(expected_audio)[0], atol=1e-6)
    expected_thermal = keras.ops.convert_to_numpy(
        thermal.serve({"thermal": inputs["thermal"][2:3], "present": one})["probabilities"])[0]
    np.testing.assert_allclose(result[2, [1, 3]], expected_thermal, atol=1e-6)
    np.testing.assert_array_equal(result[2, [0, 2]], 0.0)


def test_frame_sequences_are_served_as_predict_proba_of_their_mean_frame(tmp_path):
    """SA-fusion's and CFN-SR's visible input, [N, T, H, W, C]: the reference's mean frame, in the SavedModel too."""
    labels = np.arange(12) % 3
    inputs = contract_arrays("visible", (3, 20, 24, 3), labels, 4)
    classifier, classes = fit_classical("pixels_lr", "visible", inputs, labels)
    pipeline = fit_pipeline("pixels_lr", "visible", inputs, labels)
    test = contract_arrays("visible", (3, 20, 24, 3), np.arange(5) % 3, 5)
    signature = load_serving(export_saved_model(classifier, tmp_path / "frames"))
    np.testing.assert_allclose(served(signature, "visible", test)["probabilities"].numpy(),
                               pipeline.predict_proba(reference_features("visible", test)), atol=TOLERANCE, rtol=0)
    np.testing.assert_array_equal(classes, [0, 1, 2])
