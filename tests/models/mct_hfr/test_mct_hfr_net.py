"""Tests for avtfuse.models.mct_hfr: the MCT-HFR backbone, its training loss (GFA + LFI), save/load and export."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from avtfuse.export import export_saved_model, load_serving
from avtfuse.models.mct_hfr import SYSTEM, VARIANTS, HybridReconstructionClassifier, MCTHFRConfig, build_head
from avtfuse.models.mct_hfr.mct_hfr_net import MCTHFRNet
from avtfuse.training.callbacks import AuxiliaryLossStart

# Audio 12 steps of 6 bands; 4 frames of 8 x 8 per camera; d = 16, 2 heads, 1 layer; no dropout (deterministic).
TINY = {"audio_shape": (12, 6), "visible_shape": (4, 8, 8, 3), "thermal_shape": (4, 8, 8, 1), "units": 16,
        "heads": 2, "layers": 1, "frame_filters": 4, "frame_units": 8, "cgate_units": 8, "decoder_layers": 1,
        "embedding_dropout": 0.0, "attention_dropout": (0.0, 0.0, 0.0), "dropout": 0.0}


def numpy(value):
    return keras.ops.convert_to_numpy(value)


def tiny_config(**changes):
    return MCTHFRConfig(**{**TINY, **changes})


def make_batch(config, batch=4, seed=0, rate=0.3, absent=()):
    """A training batch of the sequence contract: complete sequences, about `rate` of the steps missing, the
    modalities in `absent` missing whole (zeros, every step missing)."""
    rng = np.random.default_rng(seed)
    inputs = {}
    for modality in config.modalities:
        shape = (batch, *config.input_shape(modality))
        full = (rng.normal(size=shape) * 5.0 if modality == "audio" else rng.uniform(size=shape)).astype("float32")
        mask = np.ones(shape[:2], "float32")
        missing = (rng.uniform(size=shape[:2]) < rate).astype("float32")
        if modality in absent:
            missing = mask.copy()
        keep = (1.0 - missing).reshape(shape[:2] + (1,) * (len(shape) - 2))
        inputs.update({modality: full * keep, f"{modality}_full": full, f"{modality}_mask": mask,
                       f"{modality}_missing": missing})
    return inputs, np.arange(batch) % 3


def make_classifier(config, classes=3, seed=0):
    keras.utils.set_random_seed(seed)
    backbone = MCTHFRNet(config)
    classifier = HybridReconstructionClassifier(backbone, build_head(backbone.feature_dim, classes, dropout=0.0))
    classifier.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return classifier


def numpy_cmd(x1, x2, moments=5):
    """CMD (SYSTEMS.md 3.3) with NumPy loops over the moments."""
    mean1, mean2 = x1.mean(0), x2.mean(0)
    total = np.sqrt(((mean1 - mean2) ** 2).sum())
    for k in range(2, moments + 1):
        total += np.sqrt(((((x1 - mean1) ** k).mean(0) - ((x2 - mean2) ** k).mean(0)) ** 2).sum())
    return total


def numpy_cross_entropy(labels, probabilities):
    return float(np.mean(-np.log(probabilities[np.arange(len(labels)), labels])))


@pytest.mark.parametrize("pooling, width", [("attention", 16), ("cgate", 8)])
def test_features_are_one_pooled_vector_per_modality(pooling, width):
    config = tiny_config(pooling=pooling)
    model = MCTHFRNet(config)
    inputs, _ = make_batch(config)
    outputs = model(inputs, training=False)
    assert set(outputs) == {"features"} and outputs["features"].shape == (4, 3 * width)
    assert model.feature_dim == 3 * width
    assert model.input_shapes() == {"audio": (12, 6), "visible": (4, 8, 8, 3), "thermal": (4, 8, 8, 1),
                                    "audio_mask": (12,), "visible_mask": (4,), "thermal_mask": (4,)}


def test_training_with_the_complete_view_returns_both_views_and_the_reconstruction_loss():
    config = tiny_config()
    model = MCTHFRNet(config)
    inputs, _ = make_batch(config)
    outputs = model(inputs, training=True)
    assert set(outputs) == {"features", "complete_features", "projection", "complete_projection",
                            "reconstruction_loss"}
    assert outputs["complete_projection"].shape == (4, 48) and np.isfinite(numpy(outputs["reconstruction_loss"]))
    # without "<m>_full" (validation, serving) only the incomplete view runs
    plain = {k: v for k, v in inputs.items() if not k.endswith("_full")}
    assert set(model(plain, training=True)) == {"features"}
    # MCT (no LFI, no GFA) never computes the complete view
    assert set(MCTHFRNet(tiny_config(**VARIANTS["mct"].overrides))(inputs, training=True)) == {"features"}


def test_training_loss_is_cross_entropy_plus_weighted_gfa_and_lfi():
    config = tiny_config()
    classifier = make_classifier(config)
    inputs, labels = make_batch(config)
    probabilities = classifier(inputs, training=True)
    loss = float(numpy(classifier.compute_loss(x=inputs, y=labels, y_pred=probabilities, training=True)))
    outputs = {k: numpy(v) for k, v in classifier.backbone(inputs, training=True).items()}
    head = classifier.head
    complete = numpy(head(outputs["complete_features"], training=True))
    gfa = numpy_cross_entropy(labels, complete) + 0.5 * (
        numpy_cmd(outputs["complete_projection"], outputs["features"])
        + numpy_cmd(outputs["projection"], outputs["complete_features"]))
    expected = numpy_cross_entropy(labels, numpy(probabilities)) + 0.4 * gfa + 0.6 * outputs["reconstruction_loss"]
    assert loss == pytest.approx(expected, rel=1e-4)
    # before aux_start_epoch the auxiliary terms are switched off
    callback = AuxiliaryLossStart(2)
    callback.set_model(classifier)
    callback.on_epoch_begin(0)
    probabilities = classifier(inputs, training=True)
    loss = float(numpy(classifier.compute_loss(x=inputs, y=labels, y_pred=probabilities, training=True)))
    assert loss == pytest.approx(numpy_cross_entropy(labels, numpy(probabilities)), rel=1e-5)
    callback.on_epoch_begin(1)
    assert float(numpy(classifier.auxiliary_scale)) == 1.0


def test_training_state_is_built_before_the_first_traced_step():
    """The decoders and the GFA predictor, which only training runs, build with the model, so
    build_training_state creates every variable eagerly, optimizer included, and fit traces its step once."""
    from avtfuse.training.phase import build_training_state

    classifier = make_classifier(tiny_config())
    build_training_state(classifier, make_batch(tiny_config()))
    assert classifier.optimizer.built
    assert all(layer.built for layer in classifier._flatten_layers())


def test_every_sample_of_a_modality_missing_gives_a_finite_loss_and_gradient():
    config = tiny_config()
    classifier = make_classifier(config)
    inputs, labels = make_batch(config, absent=("visible", "thermal"))
    with tf.GradientTape() as tape:
        probabilities = classifier(inputs, training=True)
        loss = classifier.compute_loss(x=inputs, y=labels, y_pred=probabilities, training=True)
    gradients = tape.gradient(loss, classifier.trainable_weights)
    assert np.isfinite(numpy(loss))
    assert all(g is None or np.isfinite(numpy(g)).all() for g in gradients)


def test_classifier_saves_loads_and_exports_with_step_masks(tmp_path):
    config = tiny_config()
    classifier = make_classifier(config)
    inputs, _ = make_batch(config)
    serving = {k: v for k, v in inputs.items() if not k.endswith(("_full", "_missing"))}
    serving["present"] = np.ones((4, 3), "float32")
    serving["audio_mask"][:2, 9:] = 0.0
    serving["audio"][:2, 9:] = 0.0
    expected = numpy(classifier(serving, training=False))
    classifier.save(tmp_path / "classifier.keras")
    loaded = keras.models.load_model(tmp_path / "classifier.keras")
    assert isinstance(loaded, HybridReconstructionClassifier) and loaded.backbone.config == config
    np.testing.assert_allclose(numpy(loaded(serving, training=False)), expected, atol=1e-6)
    assert set(classifier.serving_spec()) == {"audio", "visible", "thermal", "audio_mask", "visible_mask",
                                              "thermal_mask", "present"}
    export_saved_model(classifier, tmp_path / "saved")
    served = load_serving(tmp_path / "saved")(**serving)
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, atol=1e-5)


def test_mixed_float16_loss_is_finite():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        config = tiny_config()
        classifier = make_classifier(config)
        inputs, labels = make_batch(config, absent=("thermal",))
        probabilities = classifier(inputs, training=True)
        loss = classifier.compute_loss(x=inputs, y=labels, y_pred=probabilities, training=True)
        assert keras.backend.standardize_dtype(probabilities.dtype) == "float32" and np.isfinite(numpy(loss))
        assert classifier.backbone.encoder.compute_dtype == "float16"
    finally:
        keras.mixed_precision.set_dtype_policy("float32")


def test_paper_shapes():
    """The paper preset's shapes (400 log-mel frames of 80 bands; 40 frames of 96 x 96 per camera into
    MobileNetV3Small; d = 128, 4 layers): one forward pass at batch 1 (a training step takes minutes on a CPU)."""
    preset = SYSTEM.preset("paper")
    config = MCTHFRConfig(**preset.model, audio_shape=(400, 80), visible_shape=(40, 96, 96, 3),
                          thermal_shape=(40, 96, 96, 1))
    model = MCTHFRNet(config)
    inputs, _ = make_batch(config, batch=1)
    outputs = model({k: v for k, v in inputs.items() if not k.endswith(("_full", "_missing"))})
    assert outputs["features"].shape == (1, 3 * 128)
    assert model.input_dim("visible") == 576 and model.input_dim("audio") == 80


def test_config_refuses_bad_settings():
    with pytest.raises(ValueError, match="heads"):
        MCTHFRConfig(units=30, heads=4)
    with pytest.raises(ValueError, match="conv_kernels"):
        MCTHFRConfig(conv_kernels=(3, 3))
    with pytest.raises(ValueError, match="visible_shape"):
        MCTHFRConfig(visible_shape=(40, 48, 48))
    with pytest.raises(ValueError, match="alignment"):
        MCTHFRConfig(alignment="kl")
    with pytest.raises(ValueError, match="visible_shape"):
        MCTHFRConfig(frame_encoder="mobilenet", visible_shape=(4, 16, 16, 3))
