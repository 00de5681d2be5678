"""Precision sweep of the AVTNet models, after keras-hub's `run_precision_test`, and a
mixed-precision training step with a missing modality."""

import keras
import numpy as np
import pytest

from avtfuse.layers import Standardization
from avtfuse.models import ContractClassifier
from avtfuse.models.avtnet import AVTNet, AVTNetConfig, BranchFeatures, branches, build_recognizer

POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")
CONFIG = AVTNetConfig(
    audio_shape=(16, 8),
    image_size=(16, 16),
    audio_kernel_size=3,
    image_filters=4,
    token_dim=8,
    embedding_dim=8,
    hidden_dim=8,
    num_heads=2,
    ff_dim=8,
)
LABELS = np.array([0, 0, 1, 1, 2, 2], "int32")


@pytest.fixture
def set_policy():
    """keras.mixed_precision.set_global_policy, with float32 restored after the test."""
    yield keras.mixed_precision.set_global_policy
    keras.mixed_precision.set_global_policy("float32")


def make_inputs(batch, present=None):
    """A data-contract batch for CONFIG: random tensors, missing modalities zeroed."""
    rng = np.random.default_rng(0)
    if present is None:
        present = np.ones((batch, len(CONFIG.modalities)), "float32")
    inputs = {"present": present}
    for index, (modality, shape) in enumerate(branches.input_shapes(CONFIG).items()):
        mask = present[:, index].reshape((batch,) + (1,) * len(shape))
        inputs[modality] = rng.normal(size=(batch, *shape)).astype("float32") * mask
    return inputs


def check_precision(model, policy, outputs, float32_layers=()):
    """keras-hub's precision checks: float variables are float32, sublayers compute in the
    policy's dtype (Standardization and `float32_layers`, by name, in their documented
    float32), outputs (a dict) are finite float32."""
    compute_dtype = keras.DTypePolicy(policy).compute_dtype
    for variable in model.weights:
        if "float" in variable.dtype:
            assert variable.dtype == "float32", variable.path
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.InputLayer):
            continue
        documented = isinstance(layer, Standardization) or layer.name in float32_layers
        assert layer.compute_dtype == ("float32" if documented else compute_dtype), layer.name
        assert layer.variable_dtype == "float32", layer.name
    for name, value in outputs.items():
        assert keras.backend.standardize_dtype(value.dtype) == "float32", name
        assert np.all(np.isfinite(keras.ops.convert_to_numpy(value))), name


@pytest.mark.parametrize("policy", POLICIES)
def test_avtnet(policy):
    model = AVTNet(CONFIG, dtype=policy)
    outputs = model(make_inputs(2))
    assert sorted(outputs) == sorted(model.embedding_names)
    check_precision(model, policy, outputs)
    assert {tensor.dtype for tensor in model.outputs} == {"float32"}


@pytest.mark.parametrize("policy", POLICIES)
def test_branch_features(policy):
    model = BranchFeatures(CONFIG, dtype=policy)
    pooling = [f"{modality}_pool" for modality in CONFIG.modalities]
    check_precision(model, policy, model(make_inputs(2)), float32_layers=(*pooling, "features"))


@pytest.mark.parametrize("policy", POLICIES)
def test_recognizer(policy, set_policy):
    set_policy(policy)
    model = build_recognizer(8, 3, hidden_units=(8,))
    features = np.random.default_rng(0).normal(size=(4, 8)).astype("float32")
    probabilities = model(features, training=True)
    check_precision(model, policy, {"probabilities": probabilities}, float32_layers=("probabilities",))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(probabilities).sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("policy", POLICIES)
def test_classifier(policy, set_policy):
    set_policy(policy)
    backbone = AVTNet(CONFIG)
    model = ContractClassifier(backbone, build_recognizer(backbone.feature_dim, 3, hidden_units=(8,)))
    probabilities = model(make_inputs(2))
    check_precision(model, policy, {"probabilities": probabilities}, float32_layers=("probabilities",))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(probabilities).sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("model_class", [AVTNet, BranchFeatures])
def test_model_keeps_its_dtype_policy(model_class):
    model = model_class(CONFIG, dtype="mixed_float16")
    assert model.dtype_policy.name == "mixed_float16"
    assert model.get_config()["dtype"] == "mixed_float16"
    assert type(model).from_config(model.get_config()).dtype_policy.name == "mixed_float16"
    model.compile(optimizer="adam")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)


def test_mixed_float16_training_step_with_a_missing_modality(set_policy):
    set_policy("mixed_float16")
    missing = "audio"  # every sample: all-zero audio tokens reach the joint transformer
    model = AVTNet(CONFIG)
    # Eager: tracing the train step would take most of this file's time budget.
    model.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=True)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    present = np.ones((len(LABELS), len(CONFIG.modalities)), "float32")
    present[:, CONFIG.modalities.index(missing)] = 0.0
    inputs = make_inputs(len(LABELS), present)
    initial = [variable.numpy() for variable in model.trainable_variables]
    # The loss-scale optimizer skips the steps whose scaled gradients overflow
    # (halving the scale each time), so apply steps until one is taken.
    for _ in range(6):
        logs = model.train_on_batch(inputs, LABELS, return_dict=True)
        assert all(np.isfinite(value) for value in logs.values()), logs
        assert logs[f"loss_{missing}"] == 0.0
        if int(model.optimizer.iterations) > 0:
            break
    assert int(model.optimizer.iterations) == 1
    assert all(np.all(np.isfinite(variable.numpy())) for variable in model.variables)
    changed = [not np.array_equal(variable.numpy(), value)
               for variable, value in zip(model.trainable_variables, initial)]
    assert any(changed)
