"""The optimizer a recipe trains with (`RecipeContext.optimizer`): its decoupled weight decay (`--weight-decay`)
against a NumPy reference, under Adam, AdamW and the dampened SGD."""

import keras
import numpy as np
import pytest

from avtfuse.training.config import TrainConfig
from avtfuse.training.recipes import RecipeContext

WEIGHTS = np.array([[1.5, -2.0], [0.75, 3.0]], "float32")
GRADIENTS = [np.array([[0.2, -0.1], [0.3, 0.05]], "float32"), np.array([[-0.4, 0.2], [0.1, 0.6]], "float32")]


def trained(train, steps=2):
    """The weights after `steps` updates of RecipeContext(train).optimizer with the fixed GRADIENTS."""
    variable = keras.Variable(WEIGHTS.copy())
    optimizer = RecipeContext(None, None, None, train, None, None, None).optimizer(steps_per_epoch=10)
    for gradient in GRADIENTS[:steps]:
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(gradient), variable)])
    return keras.ops.convert_to_numpy(variable)


def numpy_adam(lr, beta_1, beta_2, weight_decay, epsilon=1e-7):
    """Keras' Adam, each step first w <- w - lr * weight_decay * w (decoupled decay), in float64."""
    w, m, v = WEIGHTS.astype("float64"), 0.0, 0.0
    for t, g in enumerate(GRADIENTS, start=1):
        w = w - lr * weight_decay * w
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        w = w - lr * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t) * m / (np.sqrt(v) + epsilon)
    return w


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_weight_decay_shrinks_the_weights_as_decoupled_decay_on_top_of_adam(optimizer):
    train = TrainConfig(optimizer=optimizer, learning_rate=0.1, beta_1=0.9, beta_2=0.99)
    plain, decayed = trained(train), trained(train.replace(weight_decay=0.5))
    np.testing.assert_allclose(plain, numpy_adam(0.1, 0.9, 0.99, 0.0), rtol=1e-5)
    np.testing.assert_allclose(decayed, numpy_adam(0.1, 0.9, 0.99, 0.5), rtol=1e-5)
    assert (np.abs(decayed) < np.abs(plain)).all()


def test_weight_decay_is_decoupled_under_the_dampened_sgd_without_its_l2():
    train = TrainConfig(optimizer="sgd", learning_rate=0.1, momentum=0.9, dampening=0.9)
    plain, decayed = trained(train, steps=1), trained(train.replace(weight_decay=0.5), steps=1)
    np.testing.assert_allclose(decayed, plain - 0.1 * 0.5 * WEIGHTS, rtol=1e-6)  # the first SGD step: w - lr g
    with pytest.raises(ValueError, match=r"weight_decay: expected 0 \(--weight-decay\) with the sgd optimizer's "
                                         r"coupled l2 0.001"):
        train.replace(l2=1e-3, weight_decay=0.5)
