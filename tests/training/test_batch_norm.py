"""refresh_batch_norm: the moving statistics become the mean of the batch statistics (PreciseBN)."""

import keras
import numpy as np
import tensorflow as tf

from avtfuse.training.batch_norm import batch_norm_layers, refresh_batch_norm


def two_norm_model():
    """Dense -> BN -> ReLU -> nested (Dense -> BN): batch norms at two depths, one inside a nested model."""
    keras.utils.set_random_seed(0)
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.BatchNormalization()])
    return keras.Sequential([keras.Input((5,)), keras.layers.Dense(4), keras.layers.BatchNormalization(),
                             keras.layers.ReLU(), inner])


def batches(count=6, size=8):
    x = np.random.default_rng(1).normal(2.0, 3.0, size=(count * size, 5)).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices((x, np.zeros(len(x)))).batch(size), x.reshape(count, size, 5)


def test_refresh_sets_the_mean_of_the_batch_statistics_at_every_depth():
    model = two_norm_model()
    data, x = batches()
    assert len(batch_norm_layers(model)) == 2
    assert refresh_batch_norm(model, data) == 6
    first, second = batch_norm_layers(model)
    # NumPy reference: each batch normalised with its own statistics, as in training.
    dense_1, dense_2 = model.layers[0], model.layers[3].layers[0]
    means_1, vars_1, means_2, vars_2 = [], [], [], []
    for batch in x:
        h = batch @ dense_1.kernel.numpy() + dense_1.bias.numpy()
        means_1.append(h.mean(0)), vars_1.append(h.var(0))
        h = (h - h.mean(0)) / np.sqrt(h.var(0) + first.epsilon) * first.gamma.numpy() + first.beta.numpy()
        h = np.maximum(h, 0) @ dense_2.kernel.numpy() + dense_2.bias.numpy()
        means_2.append(h.mean(0)), vars_2.append(h.var(0))
    np.testing.assert_allclose(first.moving_mean.numpy(), np.mean(means_1, 0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(first.moving_variance.numpy(), np.mean(vars_1, 0), rtol=1e-3)
    np.testing.assert_allclose(second.moving_mean.numpy(), np.mean(means_2, 0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(second.moving_variance.numpy(), np.mean(vars_2, 0), rtol=1e-3)
    assert [layer.momentum for layer in batch_norm_layers(model)] == [0.99, 0.99]


def test_refresh_changes_no_weight_but_the_statistics():
    model = two_norm_model()
    trained = [w.numpy().copy() for w in model.trainable_weights]
    refresh_batch_norm(model, batches()[0])
    for before, after in zip(trained, model.trainable_weights):
        np.testing.assert_array_equal(before, after.numpy())


def test_a_model_without_batch_norm_is_left_alone():
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(2)])
    assert refresh_batch_norm(model, batches()[0]) == 0
