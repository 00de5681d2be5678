"""Cross-replica helpers: identities on one replica; over two, the global batch and each replica's gradient;
over two workers (MultiWorkerMirroredStrategy) through PhaseRunner.fit, each worker's share of the global batch,
the whole of it mined, and a resumed run after one worker was killed."""

import io
import json
import pickle
import re
import signal
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from avtfuse.distribute import batch_normalization, global_batch, num_replicas
from experiments.launch_local import LocalWorkers

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

# Run by each of two local workers (TF_CONFIG set by LocalWorkers): 2 epochs of 3 global batches of 4 ids through
# PhaseRunner.fit. The model predicts w * id; its loss is the mean prediction over the global batch (gathered as
# batch-hard mining gathers) divided by the replicas, and every step prints the worker's own ids and the gathered
# ids. With SGD(1) each step lowers w by the mean id of its global batch only when the workers' gradients are
# summed and the gather routes each slice back to its worker. With a third argument, worker 1 kills itself once
# the chief has checkpointed epoch 1.
MULTI_WORKER_SCRIPT = textwrap.dedent("""
    import json, logging, os, signal, sys, time
    from avtfuse.training.runtime import RuntimeConfig, setup_runtime
    runtime = setup_runtime(RuntimeConfig(gpus=0))  # the MultiWorkerMirroredStrategy: before any other TF op
    import keras
    import tensorflow as tf
    from avtfuse.distribute import global_batch, num_replicas
    from avtfuse.training.phase import PhaseRunner

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    OUT, INDEX, KILL = sys.argv[1], runtime.worker.index, len(sys.argv) > 2
    RUN = os.path.join(OUT, "run")

    class Probe(keras.Model):
        def __init__(self):
            super().__init__()
            self.w = self.add_weight(shape=(), initializer="zeros", name="w")

        def call(self, inputs):
            return inputs["id"] * self.w

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            predictions, ids = global_batch(y_pred, x["id"])
            if training:  # the training steps' batches (not the eager call that builds the loss before fit)
                tf.print(x["id"], ids, output_stream=f"file://{OUT}/ids-{INDEX}.txt", summarize=-1)
            return tf.reduce_mean(predictions) / num_replicas()

    class KilledAfterTheFirstCheckpoint(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            while not os.path.exists(os.path.join(RUN, "checkpoints", "probe", "epoch-0001.weights.h5")):
                time.sleep(0.05)
            os.kill(os.getpid(), signal.SIGKILL)

    def epoch_batches(epoch):
        ids = tf.data.Dataset.range(12 * epoch, 12 * epoch + 12)
        return ids.map(lambda i: ({"id": tf.cast(i, tf.float32)}, 0.0)).batch(4), 3

    with runtime.strategy.scope():
        model = Probe()
        model.compile(optimizer=keras.optimizers.SGD(1.0))
    killer = [KilledAfterTheFirstCheckpoint()] if KILL and INDEX == 1 else []
    PhaseRunner(RUN, verbose=0).fit("probe", model, epoch_batches, 2, callbacks=killer)
    with open(os.path.join(OUT, f"w-{INDEX}.json"), "w") as handle:
        json.dump([float(model.w.numpy()), runtime.strategy.num_replicas_in_sync], handle)
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


def test_two_workers_split_each_global_batch_mine_all_of_it_and_resume_after_one_is_killed(tmp_path):
    command = [sys.executable, "-c", MULTI_WORKER_SCRIPT, str(tmp_path)]
    first = LocalWorkers(command + ["kill"], 2, output=io.StringIO())
    assert first.wait(timeout=240) != 0 and first.processes[1].returncode == -signal.SIGKILL, first.output.getvalue()
    checkpoints = tmp_path / "run" / "checkpoints" / "probe"
    assert [path.name for path in checkpoints.iterdir()] == ["epoch-0001.weights.h5"]

    second = LocalWorkers(command, 2, output=io.StringIO())
    assert second.wait(timeout=240) == 0, second.output.getvalue()[-3000:]
    lines = second.output.getvalue().splitlines()
    assert {"worker 0: probe: resuming after epoch 1", "worker 1: probe: resuming after epoch 1"} <= set(lines)
    steps = {}
    for index in range(2):
        text = (tmp_path / f"ids-{index}.txt").read_text()
        steps[index] = [[[float(v) for v in part.split()] for part in re.findall(r"\[([^\]]*)\]", line)]
                        for line in text.splitlines()]
    assert len(steps[0]) == len(steps[1]) == 6  # epoch 1 in the killed run, epoch 2 in the resumed one
    for step, ((own_0, gathered_0), (own_1, gathered_1)) in enumerate(zip(steps[0], steps[1])):
        batch = list(range(4 * step, 4 * step + 4))
        assert len(own_0) == len(own_1) == 2 and sorted(own_0 + own_1) == batch  # each its half, none twice
        assert gathered_0 == gathered_1 == own_0 + own_1  # the whole global batch, in worker order
    # SGD(1) from 0, as one uninterrupted run: w = -(sum of the 6 global batches' mean ids) = -(1.5 + ... + 21.5).
    for index in range(2):
        w, replicas = json.loads((tmp_path / f"w-{index}.json").read_text())
        assert replicas == 2 and w == pytest.approx(-69.0)
    # The chief alone checkpointed and logged to TensorBoard (its log files name its process id).
    assert [path.name for path in checkpoints.iterdir()] == ["epoch-0002.weights.h5"]
    logs = list((tmp_path / "run" / "tensorboard").rglob("events.out.tfevents*"))
    assert logs and {int(path.name.split(".")[-3]) for path in logs} <= {first.pids[0], second.pids[0]}
