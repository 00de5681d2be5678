"""Training speed of every system's main training phase on random data-contract batches (no data set needed; the
manifest row, through the real pipeline, is avtfuse.training.manifest_speed).

Backend-agnostic, except `analytic_gflop_per_sample`, which counts on the
TensorFlow graph, and `profile_training_step`, which reads TensorFlow's
profiler. Figures: samples per second, GFLOP per training sample (analytic:
the forward pass's, times 3), the float32 matmul peak measured around each
timing (so that a shared or throttled machine is compared with itself) and
the share of it reached, and the peak resident memory.
"""

import collections
import concurrent.futures
import glob
import multiprocessing
import os
import re
import resource
import sys
import tempfile
import time

import keras
import numpy as np

# AVTNet's two input scales (its small and paper presets' shapes), which the portable benchmark serves.
SHAPES = {
    "default": {"audio_shape": (130, 64), "image_size": (48, 48)},
    "paper": {"audio_shape": (589, 128), "image_size": (224, 224)},
}
# The training rows of the benchmark: (system, preset), each system at its small preset and AVTNet at its
# paper preset too.
TRAINING_ROWS = (("avtnet", "small"), ("sa_fusion", "small"), ("mct_hfr", "small"), ("cfn_sr", "small"),
                 ("avtnet", "paper"))
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


def machine_description():
    """What a benchmark's figures depend on, recorded beside them: {"backend", "device" (`device_description`),
    "cpu_count", "load_average_1min", "tensorflow_cpu_settings" (oneDNN's and the allocator's variables,
    avtfuse.cpu_allocator.cpu_speed_settings)}."""
    from avtfuse.cpu_allocator import cpu_speed_settings

    return {"backend": keras.backend.backend(), "device": device_description(), "cpu_count": os.cpu_count(),
            "load_average_1min": round(os.getloadavg()[0], 2), "tensorflow_cpu_settings": cpu_speed_settings()}


def random_batch(input_shapes, modalities, batch_size, rng, num_classes=8, complete_view=False):
    """A random batch of the data contract: (inputs, labels int [B], two samples per class in turn).

    input_shapes: the backbone's `input_shapes()` ({key: example shape}); modalities: the run's, in canonical
    order. "present" [B, M] has one modality missing in three of every four samples (its input zeroed; with
    three or more modalities); "<m>_mask" keys are all ones (no padding); with `complete_view` (step dropout)
    each sequence modality also gets "<m>_full" (its input before the zeroing) and "<m>_missing" [B, T] (a
    fifth of the steps, zeroed in "<m>"). Inputs are standard normal, float32.
    """
    present = np.ones((batch_size, len(modalities)), "float32")
    if len(modalities) > 2:
        present[np.arange(batch_size), np.arange(batch_size) % 4 % len(modalities)] = np.arange(batch_size) % 4 != 3
    inputs = {key: (np.ones if key.endswith("_mask") else rng.standard_normal)((batch_size, *shape)).astype("float32")
              for key, shape in input_shapes.items()}
    inputs["present"] = present
    for index, modality in enumerate(modalities):
        data = inputs[modality]
        if complete_view and f"{modality}_mask" in inputs:
            missing = (rng.uniform(size=data.shape[:2]) < 0.2).astype("float32")
            inputs[f"{modality}_full"] = data.copy()
            inputs[f"{modality}_missing"] = missing
            data *= (1 - missing).reshape(*missing.shape, *(1,) * (data.ndim - 2))
        data *= present[:, index].reshape((-1,) + (1,) * (data.ndim - 1))
    return inputs, (np.arange(batch_size) // 2 % num_classes).astype("int32")


def training_setup(system_name, preset, batch_size, jit_compile=False, num_classes=8, model_settings=None):
    """The model the main phase of `system_name`'s default variant trains at `preset` (with `model_settings`,
    {field: value} changes to its model config), built and compiled as its recipe does (avtfuse.training.
    recipes.PHASE_MODELS, the preset's TrainConfig optimizer), and a random contract batch for it: (model,
    inputs, labels). Nothing here depends on which system it is."""
    from avtfuse.models import SYSTEMS
    from avtfuse.runs.config import build_experiment
    from avtfuse.training.recipes import PHASE_MODELS, RecipeContext

    config = build_experiment(system_name, preset=preset, model=model_settings)
    system = SYSTEMS[system_name]
    variant = system.variants[config.variant]
    context = RecipeContext(system, variant, config.model, config.train, data=None, runtime=None, runner=None)
    model, compiled = PHASE_MODELS[variant.recipe](context, num_classes, config.data.missing_fill)
    model.compile(optimizer=context.optimizer(steps_per_epoch=100), jit_compile=jit_compile, **compiled)
    backbone = getattr(model, "backbone", model)
    inputs, labels = random_batch(backbone.input_shapes(), config.model.modalities, batch_size,
                                  np.random.default_rng(0), num_classes, complete_view=config.train.step_dropout > 0)
    return model, inputs, labels


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


def analytic_gflop_per_sample(model, inputs, labels):
    """GFLOP per sample of one training step of `model` on this batch, by convention (TensorFlow backend).

    The forward pass of training (`model(inputs, training=True)` and its
    loss, so training-only parts such as MCT-HFR's complete view and decoders
    count) is counted on its traced graph (avtfuse.evaluation.complexity.
    count_macs: matrix products, convolutions, Einsums; element-wise work,
    pooling, softmax and the optimizer are not counted), at 2 FLOPs per
    multiply-accumulate, times 3 for forward and backward: the backward pass
    costs twice the forward (the usual convention; an input layer's unneeded
    input gradient is counted too). So the figure is the model's: it stays
    the same whatever an implementation recomputes in its backward pass.
    Divided by the batch size (a loss's pairwise distances grow with it).
    """
    import tensorflow as tf

    from avtfuse.evaluation.complexity import count_macs

    specs = tf.nest.map_structure(lambda value: tf.TensorSpec(value.shape, value.dtype), (inputs, labels))

    def forward(inputs, labels):
        return model.compute_loss(x=inputs, y=labels, y_pred=model(inputs, training=True))

    return 3 * 2 * count_macs(forward, specs) / len(labels) / 1e9


# Parts of a training step: (part, regular expression searched in "op name:op type", the op name's scopes
# without Keras' "_1" suffixes); the first that matches names the part of an op. A layer's part holds all its
# ops (a convolution's bias and ReLU too).
# Ops inside `keras.remat` functions (the image branches' recomputed first block, blocked attention's blocks) run
# without their layers' scope: "conv_0/...", "activation/Relu", "einsum/Einsum", "Softmax".
PROFILE_PARTS = (
    ("max-pooling", r":\w*MaxPool"),
    ("optimizer (Adam)", r"^adam/"),
    ("image convolutions", r"(visible|thermal)_branch/|^(gradient_tape/)?(conv|activation)/"),
    ("audio convolutions", r"audio_branch/"),
    ("joint attention: products and projections",
     r"joint_transformer/attention/(einsum|query|key|value|attention_output)/|^(gradient_tape/)?einsum/"),
    ("joint attention: softmax and scaling", r"joint_transformer/attention/|^(gradient_tape/)?Softmax:"),
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


def profile_training_step(system_name, preset, batch_size, steps=2):
    """Where the time of training steps of a system at a preset goes, from TensorFlow's profiler (TensorFlow
    backend, CPU).

    Traces `steps` float32 training steps (`training_setup`) after one
    untraced step and sums the time of every executed op by `profile_part`
    (part and direction; the parts are AVTNet's layers, another system's ops
    fall in OTHER_PART). Returns {"wall_seconds_per_step",
    "op_seconds_per_step", "parts": [{"part", "direction",
    "seconds_per_step", "share"}] largest first}. Op time counts each op on
    its own thread: with ops in parallel it can exceed the wall time.
    """
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    model, inputs, labels = training_setup(system_name, preset, batch_size)
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


def in_fresh_process(function):
    """`function` (module-level, its arguments and result picklable) wrapped to run each call in a new Python
    process (spawned: nothing of this one's memory or TensorFlow state), so that a row's peak resident memory is
    its own: memory a process has freed often stays resident and would count towards every later row."""
    def run_apart(*args, **kwargs):
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            return pool.submit(function, *args, **kwargs).result()

    return run_apart


def samples_per_second(system_name, preset, batch_size, steps, jit_compile, precision, gflop=True,
                       model_settings=None):
    """Training steps of a system's main phase at a preset (`training_setup`, with `model_settings`), timed after
    one tracing step; a dict of figures.

    The float32 matmul peak is measured just before and just after the
    timed steps (the higher counts: a machine shared with other jobs is
    compared with itself); with `gflop` (TensorFlow) the result holds
    `analytic_gflop_per_sample` and the share of that peak the steps
    reached (None where the count cannot see into the graph: loops such as
    a GRU). "peak_rss_gb": the process's peak resident memory over building,
    tracing and timing (since the setting began where the system lets the
    peak be reset).
    """
    reset_peak_rss()
    keras.mixed_precision.set_global_policy(precision)
    try:
        model, inputs, labels = training_setup(system_name, preset, batch_size, jit_compile,
                                               model_settings=model_settings)
        logs = model.train_on_batch(inputs, labels, return_dict=True)  # trace / compile
        peak_before = matmul_peak_gflops()
        start = time.perf_counter()
        for _ in range(steps):
            logs = model.train_on_batch(inputs, labels, return_dict=True)
        seconds = time.perf_counter() - start
        peak = max(peak_before, matmul_peak_gflops())
        gflop_per_sample = None
        if gflop:
            try:
                gflop_per_sample = analytic_gflop_per_sample(model, inputs, labels)
            except ValueError:  # a loop or branch the count cannot see into
                gflop_per_sample = None
    finally:
        keras.mixed_precision.set_global_policy("float32")
    rate = steps * batch_size / seconds
    return {
        "system": system_name, "preset": preset, "model_settings": model_settings or {},
        "shapes": {key: list(value.shape[1:]) for key, value in inputs.items()}, "batch_size": batch_size,
        "jit_compile": jit_compile, "precision": precision, "steps": steps,
        "samples_per_second": round(rate, 2), "seconds_per_step": round(seconds / steps, 3),
        "gflop_per_sample": None if gflop_per_sample is None else round(gflop_per_sample, 4),
        "matmul_peak_gflops": round(peak, 1),
        "share_of_peak": None if gflop_per_sample is None else round(rate * gflop_per_sample / peak, 3),
        "peak_rss_gb": round(peak_rss_gb(), 2), "final_loss": float(logs["loss"]),
    }


def compared_model_settings(system_name, preset, compare):
    """The model-setting changes a benchmark row is measured with: one {setting: value} per value of `compare`
    ("SETTING=A,B", typed as the setting: text, int or float) where the row's model config has SETTING, else
    [None] (its own); no `compare`: [None].
    A malformed `compare` or a value the config refuses raises ValueError."""
    if not compare:
        return [None]
    from avtfuse.runs.config import build_experiment

    name, _, values = compare.partition("=")
    values = [value.strip() for value in values.split(",") if value.strip()]
    if not name or not values:
        raise ValueError(f"expected SETTING=A,B (a model setting and its values), got {compare!r}")
    model = build_experiment(system_name, preset=preset).model
    if not hasattr(model, name):
        return [None]
    kind = type(getattr(model, name))
    if kind in (int, float):  # typed as the setting is (a number setting's text would fail its check)
        try:
            values = [kind(value) for value in values]
        except ValueError:
            raise ValueError(f"{name}: expected {kind.__name__} values, got {compare!r}") from None
    for value in values:
        build_experiment(system_name, preset=preset, model={name: value})
    return [{name: value} for value in values]


def benchmark_rows(systems, skip_paper=False, compare=None):
    """[(system, preset, model settings)] of the training rows measured for `systems` (TRAINING_ROWS' order; no
    paper preset with skip_paper), one per value of `compare` where it applies (`compared_model_settings`, whose
    ValueError it passes on)."""
    return [(system, preset, settings) for system, preset in TRAINING_ROWS
            if system in systems and not (skip_paper and preset == "paper")
            for settings in compared_model_settings(system, preset, compare)]
