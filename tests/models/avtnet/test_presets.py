"""The paper's variants: which backbone, recipe, heads and losses each one has, and its presets."""

import dataclasses
import re

import numpy as np
import pytest

from avtfuse.layers import DenseJointEncoder, EmbeddingHead, TransformerBlock
from avtfuse.models import SYSTEMS
from avtfuse.models.avtnet import AVTNet, BranchFeatures
from avtfuse.models.avtnet.presets import SYSTEM, VARIANTS
from avtfuse.models.system import Preset
from avtfuse.training.recipes import RECIPES

SHAPES = {"audio": (16, 8), "visible": (16, 16, 3), "thermal": (16, 16, 1)}
TINY = {"image_filters": 4, "token_dim": 8, "embedding_dim": 8, "hidden_dim": 8, "num_heads": 2, "ff_dim": 8}

# (embedding names, modality loss, joint encoder, joint loss, recogniser input) of each variant.
STRUCTURE = {
    "prop": (("audio", "visible", "thermal", "joint"), "missing_modality", TransformerBlock, "batch_hard", "all"),
    "prop-1": (("audio", "visible", "thermal", "joint"), "missing_modality", DenseJointEncoder, "batch_hard", "all"),
    "prop-2": (("audio", "visible", "thermal", "joint"), "batch_hard", TransformerBlock, "batch_hard", "all"),
    "prop-3": (("audio", "visible", "thermal", "joint"), "missing_modality", TransformerBlock, "batch_hard", "joint"),
    "jer-1": (("joint",), None, DenseJointEncoder, "batch_hard", "joint"),
    "jer-2": (("joint",), None, DenseJointEncoder, "prototypical", "joint"),
    "dense-triplet": (("audio", "visible", "thermal", "joint"), "batch_hard", DenseJointEncoder, "batch_hard", "all"),
}


def model_config(variant, **changes):
    return SYSTEM.model_config(variant, ("audio", "visible", "thermal"), SHAPES, **TINY, **changes)


def test_registry_and_recipes():
    assert SYSTEMS["avtnet"] is SYSTEM and list(SYSTEM.variants)[0] == "prop"
    for variant in VARIANTS.values():
        assert variant.recipe in RECIPES
    assert VARIANTS["e2e"].backbone is BranchFeatures and VARIANTS["e2e"].recipe == "end_to_end"
    assert {VARIANTS[name].backbone for name in STRUCTURE} == {AVTNet}
    assert {VARIANTS[name].recipe for name in STRUCTURE} == {"embed_then_recognize"}


@pytest.mark.parametrize("variant", list(STRUCTURE))
def test_variant_structure(variant):
    names, modality_loss, joint, joint_loss, recognizer = STRUCTURE[variant]
    config = model_config(variant)
    model = AVTNet(config)
    assert model.embedding_names == names
    assert config.modality_loss == modality_loss or modality_loss is None
    assert config.joint_loss == joint_loss
    layers = {type(layer) for layer in model.layers}
    assert joint in layers and ({TransformerBlock, DenseJointEncoder} - {joint}).isdisjoint(layers)
    heads = [layer for layer in model.layers if isinstance(layer, EmbeddingHead)]
    assert sorted(h.name for h in heads) == sorted(f"{n}_embedding" for n in names)
    assert model.recognizer_names == (("joint",) if recognizer == "joint" else names)
    # The loss has one term per embedding, each from the loss the variant names.
    labels = np.array([0, 0, 1, 1])
    outputs = {name: np.eye(4, 8, dtype="float32") for name in names}
    terms = model.loss_terms(labels, outputs, np.ones((4, 3), "float32"))
    assert tuple(terms) == names


@pytest.mark.parametrize("neck, heads", [("joint", ("joint",)), ("all", ("audio", "visible", "thermal", "joint")),
                                         ("none", ())])
def test_the_batch_norm_neck_is_on_the_same_heads_in_every_variant(neck, heads):
    for variant in ("prop", "prop-2", "dense-triplet", "jer-1"):
        config = model_config(variant, bn_neck=neck)
        model = AVTNet(config)
        expected = [h for h in heads if h in model.embedding_names]
        necked = [layer.name.removesuffix("_embedding") for layer in model.layers
                  if getattr(layer, "batch_norm_neck", False)]
        assert sorted(necked) == sorted(expected) == sorted(config.bn_neck_heads), variant


def test_prop_and_the_batch_hard_variants_differ_only_in_what_the_paper_varies():
    prop = dataclasses.asdict(model_config("prop"))
    for variant in ("prop-1", "prop-2", "prop-3", "jer-1", "jer-2", "dense-triplet"):
        other = dataclasses.asdict(model_config(variant))
        changed = {key for key in prop if prop[key] != other[key]}
        assert changed == set(VARIANTS[variant].overrides), variant


def test_presets_are_config_factories():
    small, paper = SYSTEM.preset("small"), SYSTEM.preset("paper")
    assert small.features["image_size"] == (48, 48) and small.train == {"epochs_embed": 40, "epochs_recognizer": 30}
    assert paper.features["n_mels"] == 128 and paper.train == {"epochs_embed": 50, "epochs_recognizer": 25}
    assert SYSTEM.preset("small") is not small  # a fresh config each call
    with pytest.raises(ValueError, match="preset"):
        SYSTEM.preset("huge")
    with pytest.raises(ValueError, match="variant"):
        SYSTEM.model_config("prop-9", ("audio",), SHAPES)


def test_preset_round_trip_and_changes_over_the_variant():
    preset = SYSTEM.preset("paper")
    assert Preset.from_dict(preset.to_dict()).train == preset.train
    config = SYSTEM.model_config("prop-1", ("visible",), {"visible": (32, 32, 3)}, pooling="average")
    assert (config.modalities, config.image_size, config.joint, config.pooling) == (
        ("visible",), (32, 32), "dense", "average")


@pytest.mark.parametrize("modality, shape", [("thermal", (64,)), ("visible", (4, 16, 16, 3)), ("audio", (40,))])
def test_inputs_that_are_not_log_mels_or_frames_are_refused_naming_the_modality(modality, shape):
    shapes = {"audio": (20, 16), "visible": (16, 16, 3), "thermal": (16, 16, 1), modality: shape}
    with pytest.raises(ValueError, match=re.escape(f"{modality} inputs have shape {shape}")):
        SYSTEM.input_fields(shapes)
    assert SYSTEM.input_fields({"audio": (20, 16), "thermal": (16, 16, 1)}) == {
        "audio_shape": (20, 16), "image_size": (16, 16), "thermal_channels": 1}
