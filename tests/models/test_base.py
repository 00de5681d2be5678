"""The system base: serving spec, feature size, and the classifier over any backbone."""

import keras
import numpy as np
import pytest

from avtfuse.models.avtnet import AVTNet, AVTNetConfig, build_recognizer
from avtfuse.models.base import ContractClassifier, predicted_label

CONFIG = AVTNetConfig(modalities=("audio", "thermal"), audio_shape=(16, 8), image_size=(16, 16), image_filters=4,
                      token_dim=8, embedding_dim=8, hidden_dim=8, num_heads=2, ff_dim=8)


def inputs(batch=4, seed=0):
    rng = np.random.default_rng(seed)
    return {"audio": rng.normal(size=(batch, 16, 8)).astype("float32"),
            "thermal": rng.uniform(size=(batch, 16, 16, 1)).astype("float32"),
            "present": np.ones((batch, 2), "float32")}


@pytest.fixture
def classifier():
    backbone = AVTNet(CONFIG)
    return ContractClassifier(backbone, build_recognizer(backbone.feature_dim, 3))


def test_serving_spec_and_feature_dim(classifier):
    assert classifier.serving_spec() == {"audio": ((None, 16, 8), "float32"),
                                         "thermal": ((None, 16, 16, 1), "float32"),
                                         "present": ((None, 2), "float32")}
    assert classifier.backbone.feature_dim == 3 * 8  # audio, thermal and joint embeddings


def test_serve_blanks_missing_modalities_and_matches_call(classifier):
    batch = inputs()
    batch["present"][1, 0] = 0.0
    served = {k: keras.ops.convert_to_numpy(v) for k, v in classifier.serve(batch).items()}
    zeroed = dict(batch, audio=batch["audio"] * batch["present"][:, :1, None])
    expected = keras.ops.convert_to_numpy(classifier(zeroed, training=False))
    np.testing.assert_allclose(served["probabilities"], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(served["label"], expected.argmax(-1))
    assert served["embedding"].shape == (4, 24) and served["label"].dtype == np.int32


def test_save_and_load_round_trip(classifier, tmp_path):
    batch = inputs()
    expected = keras.ops.convert_to_numpy(classifier(batch, training=False))
    classifier.save(tmp_path / "classifier.keras")
    loaded = keras.models.load_model(tmp_path / "classifier.keras")
    assert isinstance(loaded, ContractClassifier) and isinstance(loaded.backbone, AVTNet)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(batch, training=False)), expected, rtol=1e-6)


def test_backbone_must_be_a_contract_model():
    with pytest.raises(ValueError, match="ContractModel"):
        ContractClassifier(build_recognizer(4, 2), build_recognizer(4, 2))


def test_predicted_label_is_numpy_argmax_ties_included():
    rng = np.random.default_rng(0)
    probabilities = rng.random((64, 5)).astype("float32")
    probabilities[:8] = 0.2  # every class tied: the first
    probabilities[8:16, 1] = probabilities[8:16, 3] = 2.0  # two tied maxima: the first of them
    label = keras.ops.convert_to_numpy(predicted_label(probabilities))
    assert label.dtype == np.int32
    np.testing.assert_array_equal(label, probabilities.argmax(axis=-1))
    assert (label[:8] == 0).all() and (label[8:16] == 1).all()
