"""Tests for avtfuse.models.sa_fusion: the SA-fusion backbone (branches, LT / IT / IA fusion) and its frame encoder."""

import keras
import numpy as np
import pytest

from avtfuse.layers import AttentionVectorFusion, CrossAttentionBlock, Standardization, TemporalConvBlock
from avtfuse.models import ContractClassifier
from avtfuse.models.sa_fusion import VARIANTS, SAFusionConfig, SAFusionNet, build_linear_head

# Audio 24 steps -> 18 after stage 1 -> 12 after stage 2; 8 frames of 16 x 16 (8 keeps 4 steps clear of the
# 'same' padding of the two stage-1 convolutions).
TINY = {"audio_shape": (24, 10), "visible_shape": (8, 16, 16, 3), "thermal_shape": (8, 16, 16, 1),
        "frame_filters": 8, "frame_units": 16}
MODALITY_SETS = {"av": ("audio", "visible"), "avt": ("audio", "visible", "thermal"), "a": ("audio",)}
# Feature size: M x 128 (IT, IA, one modality), M(M-1) x 128 (LT).
FEATURE_DIM = {("av", "lt"): 256, ("av", "it"): 256, ("av", "ia"): 256, ("avt", "lt"): 768, ("avt", "it"): 384,
               ("avt", "ia"): 384, ("a", "lt"): 128, ("a", "it"): 128, ("a", "ia"): 128}


def numpy(value):
    return keras.ops.convert_to_numpy(value)


def tiny_config(variant="ia1", modalities=("audio", "visible"), **changes):
    return SAFusionConfig(**{**TINY, "modalities": modalities, **VARIANTS[variant].overrides, **changes})


def make_inputs(config, batch=2, seed=0, zero=()):
    """A data-contract batch: MFCC-like audio, [0, 1] frames; the modalities in `zero` all zeros."""
    rng = np.random.default_rng(seed)
    inputs = {"present": np.ones((batch, len(config.modalities)), "float32"),
              "recording": np.array([b"clip"] * batch)}
    for modality in config.modalities:
        shape = (batch, *config.input_shape(modality))
        values = rng.normal(size=shape) * 5.0 if modality == "audio" else rng.uniform(size=shape)
        inputs[modality] = np.zeros(shape, "float32") if modality in zero else values.astype("float32")
    return inputs


def outputs_numpy(model, inputs):
    return {name: numpy(value) for name, value in model(inputs, training=False).items()}


@pytest.fixture(scope="module")
def models():
    """Built models shared by the tests of this module, keyed by (variant, modality set)."""
    cache = {}

    def get(variant, modality_set):
        if (variant, modality_set) not in cache:
            keras.utils.set_random_seed(0)
            cache[variant, modality_set] = SAFusionNet(tiny_config(variant, MODALITY_SETS[modality_set]))
        return cache[variant, modality_set]

    return get


def test_paper_shapes_through_the_stages():
    model = SAFusionNet(SAFusionConfig())  # A+V, audio [156, 10], 15 frames of 48 x 48, IA1
    shapes = {layer.name: tuple(layer.output.shape) for layer in model.layers if layer.name != "ia_fusion"}
    assert shapes["audio"] == (None, 156, 10)
    assert shapes["audio_stage1_0"] == (None, 153, 64) and shapes["audio_stage1_1"] == (None, 150, 128)
    assert shapes["audio_stage2_0"] == (None, 147, 256) and shapes["audio_stage2_1"] == (None, 144, 128)
    assert shapes["visible_frame_encoder"] == (None, 15, 256)
    assert shapes["visible_stage1_1"] == (None, 15, 64) and shapes["visible_stage2_1"] == (None, 15, 128)
    assert {name: tuple(t.shape) for name, t in model.output.items()} == {
        "features": (None, 256), "audio_weights": (None, 150), "visible_weights": (None, 15)}
    assert model.input_shapes() == {"audio": (156, 10), "visible": (15, 48, 48, 3)}
    assert model.feature_dim == 256
    blocks = [layer for layer in model.layers if isinstance(layer, TemporalConvBlock)]
    audio = [b for b in blocks if b.name.startswith("audio")]
    assert [(b.padding, b.pool_size, b.pool_strides, b.filters) for b in audio] == [
        ("valid", 2, 1, 64), ("valid", 2, 1, 128), ("valid", 2, 1, 256), ("valid", 2, 1, 128)]
    visual = [b for b in blocks if b.name.startswith("visible")]
    assert [(b.padding, b.pool_size, b.filters) for b in visual] == [
        ("same", None, 64), ("same", None, 64), ("same", None, 128), ("same", None, 128)]
    assert all(b.batch_norm and b.activation == "relu" for b in blocks)


def test_widths_scale_every_block():
    config = tiny_config("lt4", audio_width=4, visual_width=8, lt_units=12, frame_filters=4, frame_units=8)
    model = SAFusionNet(config)
    filters = {layer.name: layer.filters for layer in model.layers if isinstance(layer, TemporalConvBlock)}
    assert [filters[f"audio_stage{s}_{i}"] for s, i in ((1, 0), (1, 1), (2, 0), (2, 1))] == [4, 8, 16, 8]
    assert [filters[f"visible_stage{s}_{i}"] for s, i in ((1, 0), (1, 1), (2, 0), (2, 1))] == [8, 8, 16, 16]
    encoder = model.get_layer("visible_frame_encoder")
    assert (encoder.filters, encoder.units) == (4, 8)
    assert model.get_layer("lt_audio_to_visible").units == 12 and model.feature_dim == 24  # 2 pairs x lt_units
    ia = SAFusionNet(tiny_config("ia1", audio_width=4, visual_width=8))
    assert ia.feature_dim == 2 * 4 + 2 * 8  # the stage-2 widths, 2 w_a and 2 w_v


# Every variant on A+V; each fusion on three sensors; one modality (no fusion: the same model for every variant).
BUILDS = [(variant, "av") for variant in VARIANTS] + [(v, "avt") for v in ("lt1", "it4", "ia1")] + [("ia1", "a")]


@pytest.mark.parametrize("variant, modality_set", BUILDS)
def test_every_variant_builds_round_trips_and_saves(variant, modality_set, models, tmp_path):
    model = models(variant, modality_set)
    config = model.config
    inputs = make_inputs(config)
    expected = outputs_numpy(model, inputs)
    assert expected["features"].shape == (2, FEATURE_DIM[modality_set, config.fusion])
    assert expected["features"].dtype == np.float32 and np.all(np.isfinite(expected["features"]))
    assert model.feature_dim == FEATURE_DIM[modality_set, config.fusion]
    weights = sorted(name for name in expected if name.endswith("_weights"))
    fused = len(config.modalities) > 1
    assert weights == (sorted(f"{m}_weights" for m in config.modalities) if fused and config.fusion == "ia" else [])
    heads = {layer.num_heads for layer in model._flatten_layers()
             if isinstance(layer, (CrossAttentionBlock, AttentionVectorFusion))}
    assert heads == ({VARIANTS[variant].overrides["heads"]} if fused else set())

    # load_model rebuilds the model with from_config(get_config()), then loads the weights.
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, SAFusionNet) and loaded.config == config
    assert loaded.get_config() == model.get_config() and SAFusionConfig.from_dict(config.to_dict()) == config
    for name, value in outputs_numpy(loaded, inputs).items():
        np.testing.assert_allclose(value, expected[name], rtol=1e-5, atol=1e-6)


def test_fusion_structure(models):
    def blocks(model):
        return sorted(layer.name for layer in model.layers if isinstance(layer, CrossAttentionBlock))

    assert blocks(models("lt1", "av")) == ["lt_audio_to_visible", "lt_visible_to_audio"]
    assert len(blocks(models("lt4", "avt"))) == 6
    it = models("it1", "av")
    assert blocks(it) == ["it_audio_to_visible", "it_visible_to_audio"]
    # IT: the block updating audio (queries audio, kv video) is 128 wide, the one updating video 64.
    assert it.get_layer("it_visible_to_audio").units == 128 and it.get_layer("it_audio_to_visible").units == 64
    assert not any(layer.query_residual for layer in it.layers if isinstance(layer, CrossAttentionBlock))
    ia = models("ia1", "av")
    fusion = ia.get_layer("ia_fusion")
    assert [(name, layer.units, layer.values) for name, layer in fusion.attentions.items()] == [
        ("0_to_1", 128, False), ("1_to_0", 64, False)]
    assert not blocks(ia) and not blocks(models("it4", "a"))
    assert not any(isinstance(layer, Standardization) for layer in ia.layers)


def test_intermediate_attention_weights_sum_to_the_other_length(models):
    model = models("ia4", "av")
    outputs = outputs_numpy(model, make_inputs(model.config))
    # T_a = 18 audio and T_v = 8 video steps after stage 1.
    np.testing.assert_allclose(outputs["visible_weights"].sum(axis=1), [18.0, 18.0], rtol=1e-5)
    np.testing.assert_allclose(outputs["audio_weights"].sum(axis=1), [8.0, 8.0], rtol=1e-5)
    three = models("ia1", "avt")
    outputs = outputs_numpy(three, make_inputs(three.config))
    # Visible is attended by audio (18 queries) and thermal (8): the mean sums to 13.
    np.testing.assert_allclose(outputs["visible_weights"].sum(axis=1), [13.0, 13.0], rtol=1e-5)
    np.testing.assert_allclose(outputs["audio_weights"].sum(axis=1), [8.0, 8.0], rtol=1e-5)


@pytest.mark.parametrize("training", [False, True])
def test_zero_video_gives_uniform_video_weights_away_from_the_edges(training, models):
    """SYSTEMS.md 2.6 trap 10: zero frames give stage-1 video features constant over time (conv bias, BN shift),
    except the two steps at each end that the two 'same' convolutions pad: audio queries weight the rest equally."""
    model = models("ia1", "av")
    inputs = make_inputs(model.config, zero=("visible",))
    outputs = {name: numpy(value) for name, value in model(inputs, training=training).items()}
    w_v = outputs["visible_weights"]
    interior = w_v[:, 2:-2]
    np.testing.assert_allclose(interior, np.broadcast_to(interior[:, :1], interior.shape), rtol=1e-5)
    np.testing.assert_allclose(w_v.sum(axis=1), 18.0, rtol=1e-5)
    assert np.all(np.isfinite(outputs["audio_weights"])) and np.all(outputs["audio_weights"] > 0)


def test_reads_its_modalities_only(models):
    model = models("lt1", "av")
    inputs = make_inputs(model.config)
    expected = outputs_numpy(model, inputs)["features"]
    extra = {**inputs, "present": np.zeros_like(inputs["present"]), "thermal": np.ones((2, 3), "float32")}
    np.testing.assert_array_equal(outputs_numpy(model, extra)["features"], expected)
    with pytest.raises(ValueError, match="visible"):
        model({"audio": inputs["audio"]})
    with pytest.raises(ValueError, match="dict"):
        model(inputs["audio"])
    assert model.serving_spec()["present"] == ((None, 2), "float32")
    assert model.features({"features": expected}) is expected
    with pytest.raises(ValueError, match="features"):
        model.features({})


def test_visible_alone_and_audio_standardization():
    visible = SAFusionNet(tiny_config("lt4", ("visible",)))
    assert visible.feature_dim == 128 and set(visible.output) == {"features"}
    audio = SAFusionNet(tiny_config("ia1", ("audio",), standardize_audio=True))
    assert isinstance(audio.get_layer("audio_standardize"), Standardization)


@pytest.fixture
def mixed_float16():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    yield
    keras.mixed_precision.set_dtype_policy("float32")


@pytest.mark.parametrize("variant", ["ia1", "it4"])
def test_mixed_float16_training_step(variant, mixed_float16):
    """One SGD step under mixed_float16 with one sample's video zeroed: finite loss, weights and outputs."""
    config = tiny_config(variant)
    backbone = SAFusionNet(config)
    classifier = ContractClassifier(backbone, build_linear_head(backbone.feature_dim, 3))
    inputs = make_inputs(config, batch=4)
    inputs["visible"][0] = 0.0
    labels = np.array([0, 1, 2, 1])
    classifier.compile(optimizer=keras.optimizers.SGD(0.004, momentum=0.9), loss="sparse_categorical_crossentropy",
                       run_eagerly=True)
    initial = [v.numpy() for v in classifier.trainable_variables]
    for _ in range(6):  # the loss-scale optimizer skips steps whose scaled gradients overflow
        logs = classifier.train_on_batch(inputs, labels, return_dict=True)
        assert np.isfinite(logs["loss"])
        if int(classifier.optimizer.iterations) > 0:
            break
    assert int(classifier.optimizer.iterations) == 1
    assert all(np.all(np.isfinite(v.numpy())) for v in classifier.variables)
    assert any(not np.array_equal(v.numpy(), w) for v, w in zip(classifier.trainable_variables, initial))
    outputs = backbone(inputs, training=False)
    assert all(keras.backend.standardize_dtype(t.dtype) == "float32" for t in outputs.values())
    assert all(np.all(np.isfinite(numpy(t))) for t in outputs.values())
    for layer in backbone._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.InputLayer):
            continue
        float32 = layer.name == "features" or layer.name.endswith("_pool") and "stage" not in layer.name
        assert layer.compute_dtype == ("float32" if float32 else "float16"), layer.name
    assert {v.dtype for v in backbone.weights} == {"float32"}


def test_model_keeps_its_dtype_policy():
    model = SAFusionNet(tiny_config("ia1"), dtype="mixed_float16")
    assert model.get_config()["dtype"] == "mixed_float16"
    assert model.get_layer("visible_frame_encoder").image_branch.compute_dtype == "float16"
    assert SAFusionNet.from_config(model.get_config()).dtype_policy.name == "mixed_float16"


def test_mobilenet_frame_encoder_at_112_one_step():
    """The paper preset's encoder: MobileNetV3Small per frame (576-d), one training step on one sample."""
    config = SAFusionConfig(visible_shape=(2, 112, 112, 3), frame_encoder="mobilenet", fusion="ia")
    backbone = SAFusionNet(config)
    assert tuple(backbone.get_layer("visible_frame_encoder").output.shape) == (None, 2, 576)
    assert tuple(backbone.get_layer("visible_stage2_1").output.shape) == (None, 2, 128)
    classifier = ContractClassifier(backbone, build_linear_head(backbone.feature_dim, 8))
    classifier.compile(optimizer=keras.optimizers.SGD(0.004, momentum=0.9), loss="sparse_categorical_crossentropy",
                       run_eagerly=True)
    inputs = make_inputs(config, batch=1)
    logs = classifier.train_on_batch(inputs, np.array([3]), return_dict=True)
    assert np.isfinite(logs["loss"])
    probabilities = numpy(classifier(inputs, training=False))
    assert probabilities.shape == (1, 8) and np.isclose(probabilities.sum(), 1.0, atol=1e-5)
