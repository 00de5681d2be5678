"""Tests for SpecialistFallback: a sample with one sensor left gets its specialist's answer, in Keras, after a
save and load, and in the exported SavedModel."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from avtfuse.export import export_saved_model, load_serving
from avtfuse.models.avtnet import AVTNet, AVTNetConfig, build_recognizer
from avtfuse.models.base import ContractClassifier
from avtfuse.models.specialist_fallback import SpecialistFallback

AUDIO_SHAPE = (16, 8)
IMAGE_SIZE = (16, 16)
NUM_PEOPLE = 4
MODALITIES = ("audio", "thermal")
# Rows: complete, audio alone, thermal alone, complete, audio alone, thermal alone.
PRESENT = np.array([[1, 1], [1, 0], [0, 1], [1, 1], [1, 0], [0, 1]], np.float32)


def classifier_on(modalities):
    """A small AVTNet classifier whose joint transformer reads the present bits (so each specialist must get its
    own bit, [B, 1])."""
    config = AVTNetConfig(modalities=modalities, audio_shape=AUDIO_SHAPE, image_size=IMAGE_SIZE, thermal_channels=1,
                          image_filters=8, token_dim=16, hidden_dim=32, ff_dim=32, embedding_dim=16,
                          joint_tokens="present")
    backbone = AVTNet(config)
    return ContractClassifier(backbone, build_recognizer(backbone.feature_dim, NUM_PEOPLE, hidden_units=(16,)))


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(3)
    fused = classifier_on(MODALITIES)
    specialists = {modality: classifier_on((modality,)) for modality in MODALITIES}
    return fused, specialists, SpecialistFallback.around(fused, specialists)


def contract_inputs(seed=0):
    """Data-contract inputs with each missing modality zero, as the pipeline gives them."""
    rng = np.random.default_rng(seed)
    inputs = {"audio": rng.normal(size=(len(PRESENT), *AUDIO_SHAPE)).astype(np.float32),
              "thermal": rng.random((len(PRESENT), *IMAGE_SIZE, 1), dtype=np.float32)}
    for index, modality in enumerate(MODALITIES):
        inputs[modality] *= PRESENT[:, index].reshape(-1, *[1] * (inputs[modality].ndim - 1))
    return dict(inputs, present=PRESENT)


def expected_probabilities(fused, specialists, inputs):
    """Row by row: the fused answer, or, with one modality present, its specialist's on that modality and bit."""
    rows = []
    for row in range(len(PRESENT)):
        one = {key: value[row:row + 1] for key, value in inputs.items()}
        present = np.flatnonzero(PRESENT[row])
        if len(present) == 1 and MODALITIES[present[0]] in specialists:
            modality = MODALITIES[present[0]]
            one = {modality: one[modality], "present": np.ones((1, 1), np.float32)}
            rows.append(np.asarray(specialists[modality](one, training=False)))
        else:
            rows.append(np.asarray(fused(one, training=False)))
    return np.concatenate(rows)


def test_one_sensor_left_gets_its_specialist_and_the_rest_the_fused_model(models):
    fused, specialists, fallback = models
    inputs = contract_inputs()
    routed = np.asarray(fallback(inputs, training=False))
    np.testing.assert_allclose(routed, expected_probabilities(fused, specialists, inputs), rtol=1e-5, atol=1e-6)
    # The specialists answer differently from the fused model, so the routing is what made the rows agree.
    alone = PRESENT.sum(1) == 1
    assert np.abs(routed[alone] - np.asarray(fused(inputs, training=False))[alone]).max() > 1e-3


def test_saves_and_loads_with_its_specialists(models, tmp_path):
    _, _, fallback = models
    inputs = contract_inputs(1)
    fallback.save(tmp_path / "fallback.keras")
    loaded = keras.models.load_model(tmp_path / "fallback.keras")
    assert isinstance(loaded, SpecialistFallback) and sorted(loaded.specialists) == sorted(MODALITIES)
    np.testing.assert_allclose(np.asarray(loaded(inputs, training=False)), np.asarray(fallback(inputs, training=False)),
                               rtol=1e-5, atol=1e-6)


def test_saved_model_routes_as_the_keras_model(models, tmp_path):
    """Served inputs carry junk where a sensor is missing: the graph blanks it before any model sees it."""
    fused, specialists, fallback = models
    inputs = contract_inputs(2)
    junk = dict(inputs, audio=np.where(PRESENT[:, :1, None] > 0, inputs["audio"], 5.0).astype(np.float32))
    serve = load_serving(export_saved_model(fallback, tmp_path / "saved"))
    outputs = {key: value.numpy() for key, value in serve(**{k: tf.constant(v) for k, v in junk.items()}).items()}
    expected = expected_probabilities(fused, specialists, inputs)
    np.testing.assert_allclose(outputs["probabilities"], expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(outputs["label"], expected.argmax(-1))
    np.testing.assert_allclose(outputs["embedding"],
                               np.asarray(fused.backbone.features(fused.backbone(inputs, training=False))),
                               rtol=1e-4, atol=1e-5)


def test_a_sensor_without_a_specialist_is_answered_by_the_fused_model(models):
    fused, specialists, _ = models
    audio_alone = {"audio": specialists["audio"]}
    fallback = SpecialistFallback.around(fused, audio_alone)
    inputs = contract_inputs(5)
    routed = np.asarray(fallback(inputs, training=False))
    np.testing.assert_allclose(routed, expected_probabilities(fused, audio_alone, inputs), rtol=1e-5, atol=1e-6)
    thermal_alone = PRESENT[:, 0] == 0
    np.testing.assert_allclose(routed[thermal_alone], np.asarray(fused(inputs, training=False))[thermal_alone],
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("which, word", [("none", "some of the modalities"), ("visible", "some of the modalities"),
                                         ("wrong", "thermal alone")])
def test_specialists_that_do_not_match_the_modalities_are_refused(models, which, word):
    fused, specialists, _ = models
    bad = {"none": {}, "visible": {"visible": specialists["audio"]},
           "wrong": {"audio": specialists["audio"], "thermal": fused}}[which]
    with pytest.raises(ValueError, match=word):
        SpecialistFallback.around(fused, bad)


def test_a_specialist_lacking_classes_answers_in_the_fused_class_order_with_zero_for_those_it_lacks(tmp_path):
    """A thermal specialist trained without person 1 (never recorded by thermal) has 3 classes: the fused model's
    0, 2 and 3. Its probabilities land there, with 0 for person 1; saved and loaded, the placement holds."""
    keras.utils.set_random_seed(4)
    fused = classifier_on(MODALITIES)
    thermal_config = AVTNetConfig(modalities=("thermal",), audio_shape=AUDIO_SHAPE, image_size=IMAGE_SIZE,
                                  thermal_channels=1, image_filters=8, token_dim=16, hidden_dim=32, ff_dim=32,
                                  embedding_dim=16, joint_tokens="present")
    backbone = AVTNet(thermal_config)
    thermal = ContractClassifier(backbone, build_recognizer(backbone.feature_dim, NUM_PEOPLE - 1, hidden_units=(16,)))
    specialists = {"audio": classifier_on(("audio",)), "thermal": thermal}
    fallback = SpecialistFallback.around(fused, specialists, classes={"thermal": [0, 2, 3]})
    inputs = contract_inputs(3)
    routed = np.asarray(fallback(inputs, training=False))
    only_thermal = (PRESENT[:, 0] == 0) & (PRESENT[:, 1] == 1)
    own = np.asarray(thermal({"thermal": inputs["thermal"], "present": PRESENT[:, 1:]}, training=False))
    np.testing.assert_allclose(routed[only_thermal][:, [0, 2, 3]], own[only_thermal], rtol=1e-5, atol=1e-6)
    assert (routed[only_thermal][:, 1] == 0).all()
    np.testing.assert_allclose(routed[only_thermal].sum(-1), 1.0, rtol=1e-5)
    only_audio = PRESENT[:, 1] == 0  # the audio specialist has every class: its answer as it is
    audio = np.asarray(specialists["audio"]({"audio": inputs["audio"], "present": PRESENT[:, :1]}, training=False))
    np.testing.assert_allclose(routed[only_audio], audio[only_audio], rtol=1e-5, atol=1e-6)
    both = PRESENT.sum(-1) == 2
    np.testing.assert_allclose(routed[both], np.asarray(fused(inputs, training=False))[both], rtol=1e-5, atol=1e-6)
    fallback.save(tmp_path / "fallback.keras")
    loaded = keras.models.load_model(tmp_path / "fallback.keras")
    assert loaded.classes["thermal"] == [0, 2, 3] and loaded.classes["audio"] == list(range(NUM_PEOPLE))
    np.testing.assert_allclose(np.asarray(loaded(inputs, training=False)), routed, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"classes\['thermal'\]: expected 3 distinct"):
        SpecialistFallback.around(fused, specialists, classes={"thermal": [0, 2]})
    with pytest.raises(ValueError, match="expected 3 distinct"):
        SpecialistFallback.around(fused, specialists)  # a specialist of 3 classes, none placed


def test_confidence_combine_weights_each_present_sensors_answer_by_its_largest_probability(models, tmp_path):
    """Late fusion against a NumPy loop: a row's answer is sum_m c_m p_m / sum_m c_m over its present sensors,
    p_m that sensor's specialist's probabilities and c_m their maximum; a lone sensor's row is its specialist's. The
    SavedModel serves the same."""
    fused, specialists, _ = models
    late = SpecialistFallback.around(fused, specialists, combine="confidence")
    inputs = contract_inputs(6)
    expected = []
    for row in range(len(PRESENT)):
        answers = []
        for column in np.flatnonzero(PRESENT[row]):
            modality = MODALITIES[column]
            one = {modality: inputs[modality][row:row + 1], "present": np.ones((1, 1), np.float32)}
            answers.append(np.asarray(specialists[modality](one, training=False))[0])
        weights = np.array([answer.max() for answer in answers])
        expected.append((weights[:, None] * np.array(answers)).sum(0) / weights.sum())
    expected = np.array(expected)
    np.testing.assert_allclose(np.asarray(late(inputs, training=False)), expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(expected[PRESENT.sum(-1) == 2], np.asarray(fused(inputs, training=False))[
        PRESENT.sum(-1) == 2], atol=1e-3)  # not the fused model's answer
    assert late.get_config()["combine"] == "confidence"  # saved with the model (the rest: the test above)
    serve = load_serving(export_saved_model(late, tmp_path / "late"))
    served = serve(**{key: tf.constant(value) for key, value in inputs.items()})["probabilities"].numpy()
    np.testing.assert_allclose(served, expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="needs one per modality"):
        SpecialistFallback.around(fused, {"audio": specialists["audio"]}, combine="confidence")
    with pytest.raises(ValueError, match="combine"):
        SpecialistFallback.around(fused, specialists, combine="vote")
