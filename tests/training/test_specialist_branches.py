"""adopt_specialist_branches: each sensor's layers copied from its specialist and frozen, the joint layers left."""

import keras
import numpy as np
import pytest

from avtfuse.models.avtnet import AVTNet, AVTNetConfig
from avtfuse.training.specialist_branches import adopt_specialist_branches

TINY = {"audio_shape": (16, 8), "image_size": (16, 16), "token_dim": 16, "image_filters": 8}


def test_copies_and_freezes_each_sensors_layers_only(tmp_path):
    fused = AVTNet(AVTNetConfig(**TINY, modalities=("audio", "thermal")))
    paths = {}
    for modality in ("audio", "thermal"):
        specialist = AVTNet(AVTNetConfig(**TINY, modalities=(modality,)))
        paths[modality] = str(tmp_path / f"{modality}.keras")
        specialist.save(paths[modality])
    joint_before = [w.copy() for w in fused.get_layer("joint_transformer").get_weights()]
    adopted = adopt_specialist_branches(fused, paths)
    parts = ("standardize", "branch", "embedding")
    assert set(adopted) == {f"{m}_{part}" for m in ("audio", "thermal") for part in parts}
    for modality, path in paths.items():
        specialist = keras.models.load_model(path)
        for name in (f"{modality}_branch", f"{modality}_embedding"):
            assert not fused.get_layer(name).trainable
            for ours, theirs in zip(fused.get_layer(name).get_weights(), specialist.get_layer(name).get_weights()):
                np.testing.assert_array_equal(ours, theirs)
    assert fused.get_layer("joint_transformer").trainable
    for before, after in zip(joint_before, fused.get_layer("joint_transformer").get_weights()):
        np.testing.assert_array_equal(before, after)
    trainable = {id(w) for w in fused.trainable_weights}
    assert not any(id(w) in trainable for w in fused.get_layer("audio_branch").weights)


def test_a_specialist_without_the_sensors_layers_is_refused(tmp_path):
    fused = AVTNet(AVTNetConfig(**TINY, modalities=("audio", "thermal")))
    path = str(tmp_path / "audio.keras")
    AVTNet(AVTNetConfig(**TINY, modalities=("audio",))).save(path)
    with pytest.raises(ValueError, match="no thermal_"):
        adopt_specialist_branches(fused, {"thermal": path})
