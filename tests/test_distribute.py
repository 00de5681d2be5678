"""Cross-replica helpers: identities on one replica; over two, the global batch and each replica's gradient."""

import pickle
import subprocess
import sys
import textwrap

import keras
import numpy as np
import tensorflow as tf

from avtfuse.distribute import batch_normalization, global_batch, num_replicas

# Two logical CPUs must be configured before TensorFlow initialises its devices: a fresh process.
# Replica r scales the upstream gradient by r + 1, so each replica's input gradient is
# (1 + 2) x WEIGHTS on its own rows only when the gather sums over replicas and slices.
SCRIPT = textwrap.dedent("""
    import pickle, sys
    import numpy as np
    import tensorflow as tf
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)
    from avtfuse.distribute import global_batch, num_replicas

    FEATURES = np.arange(12, dtype="float32").reshape(4, 3)
    LABELS = np.array([5, 6, 7, 8])
    WEIGHTS = np.linspace(1, 2, 12, dtype="float32").reshape(4, 3)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])

    def local(values):
        return strategy.experimental_distribute_values_from_function(
            lambda context: tf.constant(np.split(values, 2)[context.replica_id_in_sync_group]))

    def replica(features, labels):
        scale = tf.cast(tf.distribute.get_replica_context().replica_id_in_sync_group + 1, tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(features)
            gathered_features, gathered_labels = global_batch(features, labels)
            loss = tf.reduce_sum(gathered_features * WEIGHTS) * scale
        return gathered_features, gathered_labels, tape.gradient(loss, features), num_replicas()

    outputs = tf.function(lambda *args: strategy.run(replica, args=args))(local(FEATURES), local(LABELS))
    results = [[value.numpy() for value in strategy.experimental_local_results(output)] for output in outputs[:3]]
    with open(sys.argv[1], "wb") as file:
        pickle.dump((results, outputs[3]), file)
""")


def test_identities_outside_a_strategy_and_on_one_replica():
    features, labels = tf.ones((4, 3)), tf.range(4)
    assert num_replicas() == 1
    gathered = global_batch(features, labels)
    assert isinstance(gathered, tuple) and gathered[0] is features and gathered[1] is labels

    def replica():
        gathered_features, gathered_labels = global_batch(features, labels)
        return gathered_features is features and gathered_labels is labels, num_replicas()

    assert tf.distribute.OneDeviceStrategy("/cpu:0").run(replica) == (True, 1)


def test_batch_normalization_is_synchronized_under_tensorflow():
    layer = batch_normalization(momentum=0.9, name="neck")
    assert isinstance(layer, keras.layers.BatchNormalization)
    assert layer.synchronized and layer.momentum == 0.9 and layer.name == "neck"


def test_global_batch_over_two_replicas_gathers_in_order_and_routes_each_slice_gradient(tmp_path):
    path = tmp_path / "gather.pkl"
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(path, "rb") as file:
        (features, labels, gradients), replicas = pickle.load(file)
    assert replicas == 2
    weights = np.linspace(1, 2, 12, dtype="float32").reshape(4, 3)
    for replica in range(2):
        np.testing.assert_array_equal(features[replica], np.arange(12, dtype="float32").reshape(4, 3))
        np.testing.assert_array_equal(labels[replica], [5, 6, 7, 8])
        np.testing.assert_allclose(gradients[replica], 3 * weights[2 * replica:2 * replica + 2], rtol=1e-6)
