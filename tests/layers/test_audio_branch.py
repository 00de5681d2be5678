import numpy as np
import pytest

from avtfuse.layers.audio_branch import AudioBranch


def conv1d_same_relu(features, kernel, bias):
    """NumPy reference: stride-1 "same" 1-D convolution over axis 1, then ReLU."""
    width = kernel.shape[0]
    left = (width - 1) // 2
    padded = np.pad(features, ((0, 0), (left, width - 1 - left), (0, 0)))
    frames = features.shape[1]
    result = np.zeros((features.shape[0], frames, kernel.shape[2]))
    for t in range(frames):
        window = padded[:, t : t + width, :]
        result[:, t, :] = np.einsum("bkc,kcf->bf", window, kernel) + bias
    return np.maximum(result, 0.0)


def test_output_shape_and_numpy_reference(rng):
    inputs = rng.normal(size=(3, 16, 8)).astype("float32")
    branch = AudioBranch(filters=6, kernel_size=5, num_layers=2)
    result = branch(inputs).numpy()
    assert result.shape == (3, 16, 6)
    expected = inputs.astype("float64")
    for convolution in branch.convolutions:
        kernel, bias = convolution.get_weights()
        expected = conv1d_same_relu(expected, kernel, bias)
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-5)


def test_paper_defaults(rng):
    branch = AudioBranch()
    result = branch(rng.normal(size=(2, 16, 8)).astype("float32"))
    assert result.shape == (2, 16, 64)
    assert [c.kernel.shape for c in branch.convolutions] == [(11, 8, 64), (11, 64, 64), (11, 64, 64)]
    assert branch.compute_output_shape((None, 16, 8)) == (None, 16, 64)


@pytest.mark.parametrize("argument", ["filters", "kernel_size", "num_layers"])
def test_rejects_bad_sizes(argument):
    with pytest.raises(ValueError, match=argument):
        AudioBranch(**{argument: 0})


def test_rejects_wrong_rank(rng):
    with pytest.raises(ValueError, match="AudioBranch input"):
        AudioBranch()(rng.normal(size=(2, 16, 8, 1)).astype("float32"))


def test_serialisation(layer_checks, rng):
    inputs = rng.normal(size=(2, 16, 8)).astype("float32")
    layer_checks.config_round_trip(AudioBranch(filters=4, kernel_size=3, num_layers=2), inputs)
    layer_checks.save_load(AudioBranch(filters=4, kernel_size=3), inputs)
