"""Two replicas train as one device: a MirroredStrategy step over two logical CPUs
gives the one-device loss and weights on the same global batch."""

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

# Logical devices must exist before TensorFlow initialises its devices, hence a
# fresh process. One strategy of each kind serves both models, as one run's
# runtime strategy serves all its phases: a second MirroredStrategy in the same
# process reuses collective keys and aborts with a shape mismatch.
SCRIPT = textwrap.dedent("""
    import pickle, sys
    import tensorflow as tf
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})  # grappler: most of the trace time
    import keras
    import numpy as np
    from avtfuse.models.avtnet import AVTNet, AVTNetConfig, build_recognizer

    CONFIG = AVTNetConfig(audio_shape=(16, 8), image_size=(16, 16), image_filters=4, image_blocks=2, token_dim=8,
                          embedding_dim=8, hidden_dim=8, num_heads=2, ff_dim=8, bn_neck="all")
    rng = np.random.default_rng(0)
    present = np.ones((8, 3), "float32")
    present[[1, 6], 0] = present[2, 1] = present[5, 2] = 0
    inputs = {"audio": rng.normal(size=(8, 16, 8)), "visible": rng.uniform(size=(8, 16, 16, 3)),
              "thermal": rng.uniform(size=(8, 16, 16, 1))}
    inputs = {name: (value * present[:, i].reshape((8,) + (1,) * (value.ndim - 1))).astype("float32")
              for i, (name, value) in enumerate(inputs.items())}
    inputs["present"] = present
    # Each replica's half holds every person once: its positives are all on the other replica.
    labels = np.array([0, 1, 2, 3, 0, 1, 2, 3])
    features = rng.normal(size=(8, 6)).astype("float32")

    def avtnet():
        model = AVTNet(CONFIG)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        return model, inputs

    def recognizer():
        model = build_recognizer(6, 4, hidden_units=(8, 8))
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
        return model, features

    def weights(model):
        return [(weight.path, keras.ops.convert_to_numpy(weight)) for weight in model.weights]

    results = {}
    strategies = {"one": tf.distribute.OneDeviceStrategy("/cpu:0"),
                  "two": tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])}
    for build in (avtnet, recognizer):
        for kind, strategy in strategies.items():
            keras.utils.set_random_seed(0)
            with strategy.scope():
                model, x = build()
            before = weights(model)
            history = model.fit(tf.data.Dataset.from_tensors((x, labels)), epochs=1, verbose=0)
            logs = {name: values[0] for name, values in history.history.items()}
            results[build.__name__, kind] = logs, before, weights(model)
    with open(sys.argv[1], "wb") as file:
        pickle.dump(results, file)
""")


@pytest.fixture(scope="module")
def steps(tmp_path_factory):
    """{(model, "one" | "two"): (logs, weights before, weights after)}, weights as [(path, numpy value)]."""
    path = tmp_path_factory.mktemp("distribution") / "steps.pkl"
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(path, "rb") as file:
        return pickle.load(file)


@pytest.mark.parametrize("model, logs", [
    ("avtnet", {"loss", "loss_audio", "loss_visible", "loss_thermal", "loss_joint"}),
    ("recognizer", {"loss"}),
])
def test_two_replicas_step_like_one_device(steps, model, logs):
    (one_logs, initial, one_weights), (two_logs, _, two_weights) = steps[model, "one"], steps[model, "two"]
    assert set(one_logs) == set(two_logs) == logs
    for name in logs:
        np.testing.assert_allclose(two_logs[name], one_logs[name], rtol=1e-5, err_msg=name)
    assert [path for path, _ in two_weights] == [path for path, _ in one_weights]
    for (path, two), (_, one) in zip(two_weights, one_weights):
        np.testing.assert_allclose(two, one, rtol=0, atol=1e-5, err_msg=path)
    # The step is large beside the tolerance: a doubled or halved gradient would show.
    assert max(np.max(np.abs(one - start)) for (_, one), (_, start) in zip(one_weights, initial)) > 1e-2
