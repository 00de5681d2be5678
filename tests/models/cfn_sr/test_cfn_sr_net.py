"""Tests for avtfuse.models.cfn_sr: the CFN-SR backbone (variants, modality sets), batch independence, save/load,
export, precision, the paper preset's shapes, and the two-stage recipe's weight transfer."""

import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from avtfuse.export import export_saved_model, load_serving
from avtfuse.layers import AudioGuidedSpatialAttention, CausalTransformerEncoder, MFCCEncoder, Video3DEncoder
from avtfuse.models import ContractClassifier
from avtfuse.models.cfn_sr import SYSTEM, VARIANTS, CFNSRConfig, CFNSRNet, build_linear_head
from avtfuse.training.config import TrainConfig
from avtfuse.training.phase import PhaseRunner
from avtfuse.training import recipes
from avtfuse.training.recipes import RecipeContext, pretrain_then_fuse

# Audio 28 MFCC frames -> MFCCNet [3, 16]; 4 frames of 8 x 8 -> 3-D encoder [2, 2, 2, 8]; 1 transformer layer.
TINY = {"audio_shape": (28, 13), "visible_shape": (4, 8, 8, 3), "thermal_shape": (4, 8, 8, 1),
        "audio_filters": (8, 8, 16), "video_widths": (4, 8), "video_strides": ((1, 2, 2), (2, 2, 2)),
        "attention_units": 8, "transformer_layers": 1, "transformer_heads": 2, "transformer_ff": 16}
MODALITY_SETS = {"av": ("audio", "visible"), "avt": ("audio", "visible", "thermal"), "a": ("audio",),
                 "v": ("visible",), "vt": ("visible", "thermal")}
# Feature size: 8 per camera (pooled map) + 3 x 16 = 48 (flattened raw audio) or 16 (the guide, "attended").
FEATURE_DIM = {"av": 56, "avt": 64, "a": 48, "v": 8, "vt": 16}


def numpy(value):
    return keras.ops.convert_to_numpy(value)


def tiny_config(variant="cfn_sr", modalities=("audio", "visible"), **changes):
    return CFNSRConfig(**{**TINY, "modalities": modalities, **VARIANTS[variant].overrides, **changes})


def make_inputs(config, batch=2, seed=0):
    """A data-contract batch: MFCC-like audio, [0, 1] frames."""
    rng = np.random.default_rng(seed)
    inputs = {"present": np.ones((batch, len(config.modalities)), "float32"),
              "recording": np.array([b"clip"] * batch)}
    for modality in config.modalities:
        shape = (batch, *config.input_shape(modality))
        values = rng.normal(size=shape) * 10.0 if modality == "audio" else rng.uniform(size=shape)
        inputs[modality] = values.astype("float32")
    return inputs


def make_classifier(config, classes=3, seed=0):
    keras.utils.set_random_seed(seed)
    backbone = CFNSRNet(config)
    return ContractClassifier(backbone, build_linear_head(backbone.feature_dim, classes))


def layer_types(model):
    return {type(layer) for layer in model._flatten_layers()}


def test_shapes_through_the_model():
    model = CFNSRNet(tiny_config())
    assert tuple(model.get_layer("audio_encoder").output.shape) == (None, 3, 16)
    assert tuple(model.get_layer("visible_encoder").output.shape) == (None, 2, 2, 2, 8)
    assert tuple(model.get_layer("audio_transformer").output.shape) == (None, 3, 16)
    assert tuple(model.get_layer("audio_guide").output.shape) == (None, 16)
    assert {name: tuple(t.shape) for name, t in model.output.items()} == {
        "features": (None, 56), "visible_weights": (None, 2, 2, 2)}
    assert model.input_shapes() == {"audio": (28, 13), "visible": (4, 8, 8, 3)}
    assert model.feature_dim == 56
    assert model.encoder("audio") is model.get_layer("audio_encoder")
    with pytest.raises(ValueError, match="thermal"):
        model.encoder("thermal")


# Every variant on A+V; the block on three sensors; each modality alone; two cameras without audio (no guide).
BUILDS = [(variant, "av") for variant in VARIANTS] + [("cfn_sr", "avt"), ("cfn_sr", "a"), ("cfn_sr", "v"),
                                                        ("cfn_sr", "vt")]


@pytest.mark.parametrize("variant, modality_set", BUILDS)
def test_every_variant_builds_and_saves(variant, modality_set, tmp_path):
    config = tiny_config(variant, MODALITY_SETS[modality_set])
    model = CFNSRNet(config)
    inputs = make_inputs(config)
    expected = {name: numpy(value) for name, value in model(inputs, training=False).items()}
    assert expected["features"].shape == (2, FEATURE_DIM[modality_set])
    assert np.all(np.isfinite(expected["features"]))
    types_ = layer_types(model)
    assert (AudioGuidedSpatialAttention in types_) == config.guided
    assert (CausalTransformerEncoder in types_) == (config.guided and config.self_attention)
    assert (MFCCEncoder in types_) == ("audio" in config.modalities)
    assert sum(isinstance(layer, Video3DEncoder) for layer in model.layers) == len(config.visual_modalities)
    weights = sorted(name for name in expected if name.endswith("_weights"))
    assert weights == (sorted(f"{m}_weights" for m in config.visual_modalities) if config.guided else [])
    for name in weights:  # a softmax per temporal slice over H x W
        np.testing.assert_allclose(expected[name].sum(axis=(-2, -1)), 1.0, rtol=1e-5)
    if config.guided:
        assert model.get_layer("visible_audio_attention").residual == config.residual

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, CFNSRNet) and loaded.config == config and loaded.get_config() == model.get_config()
    for name, value in loaded(inputs, training=False).items():
        np.testing.assert_allclose(numpy(value), expected[name], rtol=1e-5, atol=1e-6)


def test_softmax_over_the_whole_map_and_attended_audio():
    model = CFNSRNet(tiny_config(softmax_over="thw", audio_to_head="attended"))
    outputs = model(make_inputs(model.config), training=False)
    np.testing.assert_allclose(numpy(outputs["visible_weights"]).sum(axis=(1, 2, 3)), 1.0, rtol=1e-5)
    assert model.feature_dim == 8 + 16  # the pooled map and the guide


def test_without_self_attention_the_guide_is_a_dense_of_the_time_mean():
    model = CFNSRNet(tiny_config("no_self_attention"))
    assert isinstance(model.get_layer("audio_mean"), keras.layers.GlobalAveragePooling1D)
    assert model.get_layer("audio_guide").units == 16
    full = CFNSRNet(tiny_config())
    # the transformer alone separates them
    assert full.count_params() - model.count_params() == \
        full.get_layer("audio_transformer").count_params() - model.get_layer("audio_guide").count_params()


@pytest.mark.parametrize("changes", [{}, {"softmax_over": "thw"}, {"audio_to_head": "attended"}])
def test_a_samples_prediction_does_not_depend_on_its_batch(changes):
    """SYSTEMS.md 4.5 trap 2: the public code sums the attention maps over the batch; ours are per sample."""
    config = tiny_config(**changes)
    classifier = make_classifier(config)
    batch = make_inputs(config, batch=6, seed=1)
    together = numpy(classifier(batch, training=False))
    for index in (0, 3):
        alone = {k: v[index:index + 1] for k, v in batch.items()}
        np.testing.assert_allclose(numpy(classifier(alone, training=False))[0], together[index], rtol=1e-5,
                                   atol=1e-6)
    reordered = {k: v[::-1] for k, v in batch.items()}
    np.testing.assert_allclose(numpy(classifier(reordered, training=False))[::-1], together, rtol=1e-5, atol=1e-6)


def test_reads_its_modalities_only():
    model = CFNSRNet(tiny_config())
    inputs = make_inputs(model.config)
    expected = numpy(model(inputs, training=False)["features"])
    extra = {**inputs, "present": np.zeros_like(inputs["present"]), "thermal": np.ones((2, 3), "float32")}
    np.testing.assert_array_equal(numpy(model(extra, training=False)["features"]), expected)
    with pytest.raises(ValueError, match="visible"):
        model({"audio": inputs["audio"]})
    with pytest.raises(ValueError, match="dict"):
        model(inputs["audio"])
    with pytest.raises(ValueError, match="features"):
        model.features({})


def test_classifier_saves_loads_and_exports(tmp_path):
    config = tiny_config(modalities=MODALITY_SETS["avt"])
    classifier = make_classifier(config)
    inputs = make_inputs(config, batch=3)
    inputs["present"][1] = [1.0, 0.0, 1.0]  # sample 1 has no visible camera
    inputs["visible"][1] = 0.0
    expected = numpy(classifier({k: v for k, v in inputs.items() if k != "recording"}, training=False))
    classifier.save(tmp_path / "classifier.keras")
    loaded = keras.models.load_model(tmp_path / "classifier.keras")
    np.testing.assert_allclose(numpy(loaded(inputs, training=False)), expected, atol=1e-6)
    assert set(classifier.serving_spec()) == {"audio", "visible", "thermal", "present"}
    export_saved_model(classifier, tmp_path / "saved")
    served = load_serving(tmp_path / "saved")(**{k: v for k, v in inputs.items() if k != "recording"})
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, atol=1e-5)


def test_one_training_step_at_the_paper_presets_shapes():
    """16 frames of 112 x 112 and [212, 13] MFCCs: MFCCNet [26, 64], the encoder's [2, 7, 7, 256] map, one step."""
    config = CFNSRConfig()
    classifier = make_classifier(config, classes=8)
    backbone = classifier.backbone
    assert tuple(backbone.get_layer("audio_encoder").output.shape) == (None, 26, 64)
    assert tuple(backbone.get_layer("visible_encoder").output.shape) == (None, 2, 7, 7, 256)
    assert backbone.feature_dim == 256 + 26 * 64
    # the block: W_v 256 x 64 + 64, W_a 64 x 64, the score 64 + 1; the transformer 5 x 49,984 + 128
    assert backbone.get_layer("visible_audio_attention").count_params() == 256 * 64 + 64 + 64 * 64 + 65
    assert backbone.get_layer("audio_transformer").count_params() == 5 * 49984 + 128
    # eagerly: a traced step of one 3-D clip takes TensorFlow's slow CPU convolution gradient (10 times slower)
    classifier.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                       run_eagerly=True)
    inputs = make_inputs(config, batch=1)
    logs = classifier.train_on_batch(inputs, np.array([3]), return_dict=True)
    assert np.isfinite(logs["loss"])
    probabilities = numpy(classifier(inputs, training=False))
    assert probabilities.shape == (1, 8) and np.isclose(probabilities.sum(), 1.0, atol=1e-5)


@pytest.fixture
def mixed_float16():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    yield
    keras.mixed_precision.set_dtype_policy("float32")


def test_mixed_float16_training_step(mixed_float16):
    """One Adam step under mixed_float16 with one sample's video zeroed: finite loss, weights and outputs."""
    config = tiny_config()
    classifier = make_classifier(config)
    inputs = make_inputs(config, batch=4)
    inputs["visible"][0] = 0.0
    labels = np.array([0, 1, 2, 1])
    classifier.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                       run_eagerly=True)
    for _ in range(6):  # the loss-scale optimizer skips steps whose scaled gradients overflow
        logs = classifier.train_on_batch(inputs, labels, return_dict=True)
        assert np.isfinite(logs["loss"])
        if int(classifier.optimizer.iterations) > 0:
            break
    assert int(classifier.optimizer.iterations) == 1
    assert all(np.all(np.isfinite(v.numpy())) for v in classifier.variables)
    outputs = classifier.backbone(inputs, training=False)
    assert all(keras.backend.standardize_dtype(t.dtype) == "float32" for t in outputs.values())
    assert all(np.all(np.isfinite(numpy(t))) for t in outputs.values())
    assert classifier.backbone.get_layer("visible_encoder").compute_dtype == "float16"


class ArrayData:
    """The part of pipelines.split_data.SplitData a recipe reads, over in-memory arrays: every sample complete."""

    def __init__(self, inputs, labels, classes):
        self.inputs, self.labels, self.num_people = inputs, labels, classes
        self.config = types.SimpleNamespace(missing_fill="zeros")

    def count(self, split):
        return len(self.labels) if split == "train" else 0

    def held_out_people(self, kind):
        return []  # no one held out

    def training_samples(self):
        """(recording index, condition index, label) of each training sample: one complete copy per row."""
        rows = np.arange(len(self.labels))
        return rows, np.zeros_like(rows), np.asarray(self.labels, np.int32)

    def training_batches(self, epoch, policy):
        """pipelines.batching.training_batches over the arrays: (dataset, steps)."""
        data = tf.data.Dataset.from_tensor_slices((self.inputs, self.labels))
        data = data.shuffle(len(self.labels), seed=policy.seed + epoch, reshuffle_each_iteration=False)
        return data.batch(policy.batch_size, drop_remainder=True), len(self.labels) // policy.batch_size


def test_recipe_copies_the_pretrained_encoders_into_the_fusion_model(tmp_path, monkeypatch):
    monkeypatch.setattr(recipes, "training_batches", lambda data, epoch, policy: data.training_batches(epoch, policy))
    config = tiny_config()
    inputs = make_inputs(config, batch=8)
    inputs.pop("recording")
    data = ArrayData(inputs, np.arange(8) % 2, classes=2)
    train = TrainConfig(epochs_embed=1, epochs_recognizer=0, batch_size=4, beta_1=0.9, beta_2=0.999)
    runtime = types.SimpleNamespace(strategy=tf.distribute.get_strategy())
    context = RecipeContext(SYSTEM, VARIANTS["cfn_sr"], config, train, data, runtime, PhaseRunner(str(tmp_path), 0))
    keras.utils.set_random_seed(0)
    classifier = pretrain_then_fuse(context)
    assert all((tmp_path / f"{phase}.done").exists() for phase in ("pretrain_audio", "pretrain_visible", "fusion"))
    fresh = CFNSRNet(config)
    for modality in config.modalities:
        pretrained = keras.models.load_model(tmp_path / f"pretrain_{modality}.keras")
        assert pretrained.backbone.config == config.unimodal(modality)
        copied = classifier.backbone.encoder(modality).trainable_weights
        for weight, source, initial in zip(copied, pretrained.backbone.encoder(modality).trainable_weights,
                                           fresh.encoder(modality).trainable_weights):
            np.testing.assert_array_equal(weight.numpy(), source.numpy())
        assert any(not np.array_equal(w.numpy(), i.numpy())
                   for w, i in zip(copied, fresh.encoder(modality).trainable_weights))
    # a second call finds the finished phases
    again = pretrain_then_fuse(context)
    np.testing.assert_allclose(numpy(again(inputs, training=False)), numpy(classifier(inputs, training=False)),
                               atol=1e-6)
