"""Precision sweep of every avtfuse layer, after keras-hub's `run_precision_test`."""

import keras
import numpy as np
import pytest

from avtfuse.layers import (
    AudioBranch,
    DenseJointEncoder,
    EmbeddingHead,
    ImageBranch,
    L2Normalize,
    MFCCEncoder,
    Standardization,
    TransformerBlock,
    Video3DEncoder,
)

POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")


def standardization(dtype):
    """A Standardization adapted on data with channel means and scales far from 0 and 1."""
    layer = Standardization(dtype=dtype)
    layer.adapt(np.random.default_rng(1).normal(2.0, 3.0, size=(32, 5)).astype("float32"))
    return layer


# name: (layer from a dtype policy, input shape(s), output dtype; None: the policy's compute dtype)
CASES = {
    "audio_branch": (lambda dtype: AudioBranch(4, 3, 2, dtype=dtype), (2, 6, 5), None),
    "image_branch": (
        lambda dtype: ImageBranch(4, num_blocks=2, output_filters=3, dtype=dtype), (2, 8, 8, 3), None),
    "transformer_block": (lambda dtype: TransformerBlock(2, ff_dim=8, dtype=dtype), (2, 5, 4), None),
    "embedding_head": (
        lambda dtype: EmbeddingHead(4, hidden_units=(3,), batch_norm_neck=True, dtype=dtype),
        (2, 3, 4),
        "float32",
    ),
    "dense_joint_encoder": (
        lambda dtype: DenseJointEncoder(4, hidden_units=(8, 8), dtype=dtype),
        [(2, 3, 4), (2, 2, 2, 4)],
        "float32",
    ),
    "l2_normalize": (lambda dtype: L2Normalize(dtype=dtype), (2, 5), "float32"),
    "standardization": (standardization, (2, 5), "float32"),
    "mfcc_encoder": (lambda dtype: MFCCEncoder(filters=(3, 4, 5), dtype=dtype), (2, 30, 13), None),
    "video3d_encoder": (
        lambda dtype: Video3DEncoder(widths=(3, 4), strides=((1, 2, 2), (2, 2, 2)), dtype=dtype),
        (2, 4, 8, 8, 3),
        None,
    ),
}


def random_inputs(shapes):
    """Normal float32 arrays of `shapes` (one shape tuple, or a list of them)."""
    rng = np.random.default_rng(0)
    if isinstance(shapes, list):
        return [rng.normal(size=shape).astype("float32") for shape in shapes]
    return rng.normal(size=shapes).astype("float32")


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_precision(name, policy):
    make, shapes, output_dtype = CASES[name]
    policy = keras.DTypePolicy(policy)
    output_dtype = output_dtype or policy.compute_dtype
    inputs = random_inputs(shapes)
    reference = make("float32")
    expected = keras.ops.convert_to_numpy(reference(inputs))
    layer = make(policy.name)
    symbolic = layer(keras.tree.map_structure(lambda array: keras.KerasTensor(array.shape), inputs))
    layer.set_weights(reference.get_weights())
    outputs = layer(inputs)

    assert symbolic.dtype == output_dtype
    assert keras.backend.standardize_dtype(outputs.dtype) == output_dtype
    for variable in layer.weights:
        if "float" in variable.dtype:
            assert variable.dtype == "float32", variable.path
    for sublayer in layer._flatten_layers():
        # Standardization computes in float32 whatever the policy (see its docstring).
        compute_dtype = "float32" if isinstance(sublayer, Standardization) else policy.compute_dtype
        assert sublayer.compute_dtype == compute_dtype, sublayer.name
        assert sublayer.variable_dtype == "float32", sublayer.name
    outputs = keras.ops.convert_to_numpy(keras.ops.cast(outputs, "float32"))
    assert np.all(np.isfinite(outputs))
    np.testing.assert_allclose(outputs, expected, rtol=0.05, atol=0.05)
