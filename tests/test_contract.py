"""The data contract's vocabulary: names, headline conditions, blanking a missing modality, labels.json."""

import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf

from avtfuse.contract import (
    ABLATIONS, GIVEN_PROTOCOLS, MODALITIES, PROTOCOLS, blank_missing, canonical_modalities, condition_name,
    condition_order, headline_conditions, load_class_names, save_class_names)


def test_canonical_modalities():
    assert canonical_modalities("thermal, audio") == ("audio", "thermal")
    for bad, word in (("audio,smell", "smell"), (["audio", "audio"], "repeated"), ("", "at least")):
        with pytest.raises(ValueError, match=word):
            canonical_modalities(bad)


def test_protocols_and_ablations():
    assert PROTOCOLS == ("paper", "strict", "official", "manifest", "folds")
    assert set(GIVEN_PROTOCOLS) < set(PROTOCOLS) and "folds" not in GIVEN_PROTOCOLS
    assert ABLATIONS == ("paper", "subsets", "complete")


def test_condition_names_and_headline_conditions():
    assert condition_name([1, 1, 1], MODALITIES) == "complete"
    assert condition_name([1, 0, 1], MODALITIES) == "missing_visible"
    assert condition_name([0, 0, 1], MODALITIES) == "only_thermal"
    assert condition_name([0, 0, 0], MODALITIES) == "none"
    assert condition_name([1, 0], ("audio", "visible")) == "only_audio"
    assert headline_conditions(MODALITIES) == ["complete", "missing_visible", "missing_thermal", "missing_audio"]
    assert headline_conditions(("audio", "thermal")) == ["complete", "only_audio", "only_thermal"]
    assert headline_conditions(("visible",)) == ["complete"]
    names = ["only_audio", "with_x", "missing_audio", "complete"]
    assert sorted(names, key=condition_order) == ["complete", "missing_audio", "only_audio", "with_x"]


@pytest.mark.parametrize("to_array", [np.asarray, tf.constant, jnp.asarray], ids=["numpy", "tensorflow", "jax"])
def test_blank_missing_on_one_example_and_a_batch(to_array):
    rng = np.random.default_rng(0)
    batch = {"audio": rng.normal(size=(3, 5, 2)), "thermal": rng.normal(size=(3, 4, 4, 1)), "recording": "r"}
    present = np.array([[1, 0], [0, 1], [1, 1]], "float32")
    inputs = {k: to_array(v.astype("float32")) if k != "recording" else v for k, v in batch.items()}
    out = blank_missing(inputs, to_array(present), ("audio", "thermal"))
    for index, modality in enumerate(("audio", "thermal")):
        expected = np.where(present[:, index].reshape(-1, *[1] * (batch[modality].ndim - 1)) > 0, batch[modality], 0)
        np.testing.assert_allclose(np.asarray(out[modality]), expected, rtol=1e-6)
    assert out["recording"] == "r" and np.array_equal(np.asarray(out["present"]), present)
    one = blank_missing({k: v[1] for k, v in inputs.items() if k != "recording"}, to_array(present[1]),
                        ("audio", "thermal"))
    assert not np.asarray(one["audio"]).any() and np.asarray(one["thermal"]).any()


def test_class_names_round_trip(tmp_path):
    path = tmp_path / "labels.json"
    assert load_class_names(str(path)) is None
    save_class_names([3, "ana"], str(path))
    assert load_class_names(str(path)) == ["3", "ana"]
    path.write_text('{"ana": 0}')
    with pytest.raises(ValueError, match="labels.json"):
        load_class_names(str(path))
