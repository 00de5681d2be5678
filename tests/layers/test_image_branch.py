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
    layer_checks.save_load(ImageBranch(filters=4, output_filters=3, recompute_slices=2), images)


@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu"])
def test_pooling_before_the_activation_keeps_values_and_gradients(activation, rng):
    """Against the textbook order (activation, then max-pool) with the same weights: equal outputs and weight
    gradients. gelu is not monotone, so that branch keeps the textbook order."""
    import keras
    import tensorflow as tf

    images = rng.uniform(size=(2, 16, 16, 3)).astype("float32")
    branch = ImageBranch(filters=4, kernel_size=3, num_blocks=2, output_filters=5, activation=activation)
    branch(images)
    assert branch.pool_first == (activation != "gelu")
    textbook = [keras.layers.Conv2D(4, 3, padding="same", activation=activation) for _ in range(2)]
    projection = keras.layers.Conv2D(5, 1, activation=activation)

    def reference(x):
        for convolution in textbook:
            x = keras.layers.MaxPooling2D(2)(convolution(x))
        return projection(x)

    reference(images)
    for mine, theirs in zip([*branch.convolutions, branch.projection], [*textbook, projection]):
        theirs.set_weights(mine.get_weights())
    weights = [w for layer in branch.convolutions for w in layer.trainable_variables]
    reference_weights = [w for layer in textbook for w in layer.trainable_variables]
    with tf.GradientTape(persistent=True) as tape:
        ours, expected = branch(images), reference(images)
        ours_loss, expected_loss = tf.reduce_sum(ours * ours), tf.reduce_sum(expected * expected)
    np.testing.assert_allclose(ours.numpy(), expected.numpy(), rtol=1e-6, atol=1e-7)
    for mine, theirs in zip(tape.gradient(ours_loss, weights), tape.gradient(expected_loss, reference_weights)):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("batch, slices", [(5, 2), (3, 4), (4, 1)])
def test_recomputed_slices_keep_outputs_and_gradients(batch, slices, rng):
    """Training with the first block recomputed in batch slices (ragged, some empty when the batch is smaller)
    against the same weights without: equal outputs and weight gradients; the slices are really recomputed for the
    gradient (the step's graph holds the first block's convolution twice per slice)."""
    import tensorflow as tf

    images = rng.uniform(size=(batch, 16, 16, 3)).astype("float32")
    plain = ImageBranch(filters=4, num_blocks=2, output_filters=5)
    sliced = ImageBranch(filters=4, num_blocks=2, output_filters=5, recompute_slices=slices)
    plain(images)
    sliced(images)
    sliced.set_weights(plain.get_weights())

    def outputs_and_gradients(branch):
        @tf.function
        def step(x):
            with tf.GradientTape() as tape:
                outputs = branch(x, training=True)
                loss = tf.reduce_sum(outputs * outputs)
            return outputs, tape.gradient(loss, branch.trainable_variables)

        return step(images), step.get_concrete_function(tf.TensorSpec([None, 16, 16, 3])).graph

    (expected, expected_gradients), plain_graph = outputs_and_gradients(plain)
    (ours, gradients), sliced_graph = outputs_and_gradients(sliced)
    np.testing.assert_allclose(ours.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
    for mine, theirs in zip(gradients, expected_gradients):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-5)

    def convolutions(graph):
        ops = [op for function in graph._functions.values() for op in function.graph.get_operations()]
        return sum(op.type == "Conv2D" for op in [*graph.get_operations(), *ops])

    # the first block's convolution: once per slice forward and once more per slice recomputed (plain: once)
    assert convolutions(sliced_graph) == convolutions(plain_graph) + 2 * slices - 1
    np.testing.assert_allclose(sliced(images).numpy(), plain(images).numpy(), rtol=1e-6)


def test_rejects_negative_recompute_slices():
    with pytest.raises(ValueError, match="recompute_slices"):
        ImageBranch(recompute_slices=-1)
