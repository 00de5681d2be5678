"""Training speed of AVTNet's phase 1 on random data-contract batches (no data set needed).

Backend-agnostic, except `training_gflop_per_sample`, which counts on the
TensorFlow graph, and `profile_training_step`, which reads TensorFlow's
profiler. Figures: samples per second, GFLOP per training sample, the
float32 matmul peak measured around each timing (so that a shared or
throttled machine is compared with itself) and the share of it reached, and
the peak resident memory.
"""

import collections
import glob
import os
import re
import resource
import sys
import tempfile
import time

import keras
import numpy as np

from avtfuse.models.avtnet import AVTNet, AVTNetConfig

SHAPES = {
    "default": {"audio_shape": (130, 64), "image_size": (48, 48)},
    "paper": {"audio_shape": (589, 128), "image_size": (224, 224)},
}
# Linux: writing "5" to this file resets the process's peak resident memory (proc(5), clear_refs).
CLEAR_REFS = "/proc/self/clear_refs"


def device_description():
    """'gpu' or 'cpu', as the active backend sees it."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    if backend == "jax":
        import jax

        return jax.default_backend()
    return "cpu"


def random_batch(config, batch_size, rng):
    """A data-contract batch with P x K labels (2 samples per person) and one missing modality per sample."""
    present = np.ones((batch_size, 3), "float32")
    present[np.arange(batch_size), np.arange(batch_size) % 4 % 3] = np.arange(batch_size) % 4 != 3
    inputs = {
        "audio": rng.normal(-30, 10, (batch_size, *config.audio_shape)).astype("float32"),
        "visible": rng.uniform(0, 1, (batch_size, *config.image_size, 3)).astype("float32"),
        "thermal": rng.uniform(0, 1, (batch_size, *config.image_size, 1)).astype("float32"),
        "present": present,
    }
    for index, modality in enumerate(("audio", "visible", "thermal")):
        shape = (-1,) + (1,) * (inputs[modality].ndim - 1)
        inputs[modality] *= present[:, index].reshape(shape)
    return inputs, np.arange(batch_size) // 2


def matmul_peak_gflops(size=2048, repeats=5):
    """The active backend's float32 matmul rate, GFLOP/s: 2 * size**3 FLOPs per [size, size] product, the best
    of `repeats` timed products after one untimed one (each fetches one element, so a GPU finishes it)."""
    rng = np.random.default_rng(0)
    a, b = (keras.ops.convert_to_tensor(rng.standard_normal((size, size), dtype=np.float32)) for _ in range(2))
    seconds = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(keras.ops.matmul(a, b)[0, 0])
        seconds.append(time.perf_counter() - start)
    return 2 * size**3 / min(seconds[1:]) / 1e9


def training_gflop_per_sample(shape, batch_size):
    """GFLOP per sample of one phase-1 training step at SHAPES[shape] and `batch_size` (TensorFlow backend).

    2 FLOPs per multiply-accumulate of the forward pass, the loss and every
    gradient, counted on the traced graph (avtfuse.evaluation.complexity.
    count_macs: matrix products, convolutions and their gradients);
    element-wise work (activations, pooling, softmax, the optimizer) is not
    counted. Divided by batch_size (the loss's pairwise distances grow with it).
    """
    import tensorflow as tf

    from avtfuse.evaluation.complexity import count_macs

    config = AVTNetConfig(**SHAPES[shape])
    model = AVTNet(config)
    inputs, labels = random_batch(config, batch_size, np.random.default_rng(0))
    specs = ({key: tf.TensorSpec(value.shape, value.dtype) for key, value in inputs.items()},
             tf.TensorSpec(labels.shape, labels.dtype))

    def gradients(inputs, labels):
        with tf.GradientTape() as tape:
            loss = model.compute_loss(x=inputs, y=labels, y_pred=model(inputs, training=True))
        return loss, tape.gradient(loss, model.trainable_weights)  # as a train step: the loss is logged

    return 2 * count_macs(gradients, specs) / batch_size / 1e9


# Parts of a training step: (part, regular expression searched in "op name:op type", the op name's scopes
# without Keras' "_1" suffixes); the first that matches names the part of an op. A layer's part holds all its
# ops (a convolution's bias and ReLU too).
PROFILE_PARTS = (
    ("max-pooling", r":\w*MaxPool"),
    ("optimizer (Adam)", r"^adam/"),
    ("image convolutions", r"(visible|thermal)_branch/"),
    ("audio convolutions", r"audio_branch/"),
    ("joint attention: products and projections", r"joint_transformer/attention/(einsum|query|key|value|attention_output)/"),
    ("joint attention: softmax and scaling", r"joint_transformer/attention/"),
    ("joint transformer: feed-forward, norms, residuals", r"joint_transformer/"),
    ("joint head (pooled)", r"joint_embedding/"),
    ("flatten heads (audio, visible, thermal)", r"_embedding/"),
    ("input standardisation", r"_standardize/"),
)
OTHER_PART = "losses, metrics and the rest"
# A profiler event of an executed TensorFlow op: "op name:op type".
OP_EVENT = re.compile(r"^([^\s:]+):([A-Za-z_]\w*)$")


def profile_part(op_name, op_type):
    """(part, direction) of an executed op of a training step: the first PROFILE_PARTS part whose pattern
    matches (else OTHER_PART) and "backward" (gradient ops), "update" (the optimizer) or
    "forward"."""
    event = re.sub(r"_\d+(?=/|$)", "", op_name) + ":" + op_type
    part = next((name for name, pattern in PROFILE_PARTS if re.search(pattern, event)), OTHER_PART)
    if part.startswith("optimizer"):
        return part, "update"
    backward = event.startswith("gradient_tape/") or "Grad" in op_type or "Backprop" in op_type
    return part, "backward" if backward else "forward"


def profile_training_step(shape, batch_size, steps=2):
    """Where the time of phase-1 training steps goes, from TensorFlow's profiler (TensorFlow backend, CPU).

    Traces `steps` float32 training steps at SHAPES[shape] after one
    untraced step and sums the time of every executed op by `profile_part`
    (part and direction). Returns {"wall_seconds_per_step",
    "op_seconds_per_step", "parts": [{"part", "direction",
    "seconds_per_step", "share"}] largest first}. Op time counts each op on
    its own thread: with ops in parallel it can exceed the wall time.
    """
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    config = AVTNetConfig(**SHAPES[shape])
    model = AVTNet(config)
    model.compile(optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5, beta_2=0.99))
    inputs, labels = random_batch(config, batch_size, np.random.default_rng(0))
    model.train_on_batch(inputs, labels)  # trace
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        start = time.perf_counter()
        for _ in range(steps):
            model.train_on_batch(inputs, labels)
        wall = (time.perf_counter() - start) / steps
        tf.profiler.experimental.stop()
        [path] = glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb"))
        with open(path, "rb") as file:
            space = xplane_pb2.XSpace.FromString(file.read())
    seconds = collections.Counter()
    for plane in space.planes:
        names = {key: metadata.name for key, metadata in plane.event_metadata.items()}
        for line in plane.lines:
            for event in line.events:
                op = OP_EVENT.match(names[event.metadata_id])
                if op:
                    seconds[profile_part(*op.groups())] += event.duration_ps * 1e-12 / steps
    total = sum(seconds.values())
    parts = [{"part": part, "direction": direction, "seconds_per_step": round(value, 4),
              "share": round(value / total, 3)} for (part, direction), value in seconds.most_common()]
    return {"wall_seconds_per_step": round(wall, 3), "op_seconds_per_step": round(total, 3), "parts": parts}


def reset_peak_rss():
    """Starts a new peak-resident-memory window where the system allows it (Linux); else the peak stays the
    process's since it started."""
    try:
        with open(CLEAR_REFS, "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass


def peak_rss_gb():
    """Peak resident memory of this process since `reset_peak_rss`, GB (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e9 if sys.platform == "darwin" else peak * 1024 / 1e9


def samples_per_second(shape, batch_size, steps, jit_compile, precision, gflop_per_sample=None):
    """Phase-1 training steps of AVTNet at SHAPES[shape], timed after one tracing step; a dict of figures.

    The float32 matmul peak is measured just before and just after the
    timed steps (the higher counts: a machine shared with other jobs is
    compared with itself); with `gflop_per_sample`
    (training_gflop_per_sample) the result holds the share of that peak the
    steps reached. "peak_rss_gb": the process's peak
    resident memory over building, tracing and timing (since the setting
    began where the system lets the peak be reset).
    """
    reset_peak_rss()
    keras.mixed_precision.set_global_policy(precision)
    try:
        config = AVTNetConfig(**SHAPES[shape])
        model = AVTNet(config)
        model.compile(optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5, beta_2=0.99), jit_compile=jit_compile)
        inputs, labels = random_batch(config, batch_size, np.random.default_rng(0))
        logs = model.train_on_batch(inputs, labels, return_dict=True)  # trace / compile
        peak_before = matmul_peak_gflops()
        start = time.perf_counter()
        for _ in range(steps):
            logs = model.train_on_batch(inputs, labels, return_dict=True)
        seconds = time.perf_counter() - start
        peak = max(peak_before, matmul_peak_gflops())
    finally:
        keras.mixed_precision.set_global_policy("float32")
    rate = steps * batch_size / seconds
    return {
        "shape": shape, **{k: list(v) for k, v in SHAPES[shape].items()}, "batch_size": batch_size,
        "jit_compile": jit_compile, "precision": precision, "steps": steps,
        "samples_per_second": round(rate, 2), "seconds_per_step": round(seconds / steps, 3),
        "gflop_per_sample": None if gflop_per_sample is None else round(gflop_per_sample, 3),
        "matmul_peak_gflops": round(peak, 1),
        "share_of_peak": None if gflop_per_sample is None else round(rate * gflop_per_sample / peak, 3),
        "peak_rss_gb": round(peak_rss_gb(), 2), "final_loss": float(logs["loss"]),
    }
