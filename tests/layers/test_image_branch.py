import numpy as np
import pytest

from avtfuse.layers.image_branch import ImageBranch


def conv2d_same_relu(images, kernel, bias):
    """NumPy reference: stride-1 "same" 2-D convolution, then ReLU."""
    size = kernel.shape[0]
    top = (size - 1) // 2
    padded = np.pad(images, ((0, 0), (top, size - 1 - top), (top, size - 1 - top), (0, 0)))
    height, width = images.shape[1:3]
    result = np.zeros((images.shape[0], height, width, kernel.shape[3]))
    for i in range(height):
        for j in range(width):
            window = padded[:, i : i + size, j : j + size, :]
            result[:, i, j, :] = np.einsum("bhwc,hwcf->bf", window, kernel) + bias
    return np.maximum(result, 0.0)


def max_pool(images, pool):
    """NumPy reference: non-overlapping max pooling (floor)."""
    batch, height, width, channels = images.shape
    height, width = height // pool, width // pool
    cropped = images[:, : height * pool, : width * pool, :]
    return cropped.reshape(batch, height, pool, width, pool, channels).max(axis=(2, 4))


def test_output_shape_and_numpy_reference(rng):
    images = rng.uniform(size=(2, 16, 12, 3)).astype("float32")
    branch = ImageBranch(filters=4, kernel_size=3, num_blocks=2, output_filters=5)
    result = branch(images).numpy()
    assert result.shape == (2, 4, 3, 5)
    expected = images.astype("float64")
    for convolution in branch.convolutions:
        expected = max_pool(conv2d_same_relu(expected, *convolution.get_weights()), 2)
    expected = conv2d_same_relu(expected, *branch.projection.get_weights())
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-5)


def test_paper_defaults(rng):
    branch = ImageBranch()
    result = branch(rng.uniform(size=(2, 16, 16, 1)).astype("float32"))
    assert result.shape == (2, 2, 2, 64)
    assert [c.kernel.shape for c in branch.convolutions] == [
        (3, 3, 1, 128),
        (3, 3, 128, 128),
        (3, 3, 128, 128),
    ]
    assert branch.projection.kernel.shape == (1, 1, 128, 64)
    assert branch.compute_output_shape((None, 224, 224, 3)) == (None, 28, 28, 64)


def test_rejects_too_small_images(rng):
    with pytest.raises(ValueError, match=">= 8"):
        ImageBranch()(rng.uniform(size=(1, 4, 16, 3)).astype("float32"))


@pytest.mark.parametrize("argument", ["filters", "kernel_size", "num_blocks", "pool_size", "output_filters"])
def test_rejects_bad_sizes(argument):
    with pytest.raises(ValueError, match=argument):
        ImageBranch(**{argument: -1})


def test_serialisation(layer_checks, rng):
    images = rng.uniform(size=(2, 8, 8, 3)).astype("float32")
    layer_checks.config_round_trip(ImageBranch(filters=4, num_blocks=2, output_filters=3), images)
    layer_checks.save_load(ImageBranch(filters=4, output_filters=3), images)
