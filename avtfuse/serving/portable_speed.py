"""File size and batch-1 latency of an exported model as a SavedModel, LiteRT and ONNX on this machine
(experiments.benchmark_portable), on untrained AVTNet and SA-fusion classifiers (no data set needed)."""

import itertools
import os
import pathlib
import time

import numpy as np
import tensorflow as tf

from avtfuse.export import SIGNATURE_NAME, export_saved_model
from avtfuse.models.avtnet import AVTNet, AVTNetConfig, build_recognizer
from avtfuse.models.base import ContractClassifier
from avtfuse.models.sa_fusion import SAFusionConfig, SAFusionNet, build_linear_head
from avtfuse.serving.portable import export_litert, export_onnx
from avtfuse.serving.portable_runtime import PortableModel
from avtfuse.training.speed import SHAPES as AVTNET_SHAPES

# "tiny": test sizes; "default": the configs' defaults (AVTNet at the training benchmark's default shapes, 48 x 48
# frames and 130 x 64 log-mel; SA-fusion 156 x 10 MFCCs and 15 frames of 48 x 48).
MODEL_NAMES = ("avtnet", "sa_fusion")
MODEL_SHAPES = {
    "tiny": {"avtnet": {"audio_shape": (16, 8), "image_size": (16, 16), "image_filters": 8, "token_dim": 16,
                        "hidden_dim": 32, "ff_dim": 32},
             "sa_fusion": {"audio_shape": (20, 10), "visible_shape": (6, 16, 16, 3), "frame_filters": 4,
                           "frame_units": 8, "standardize_audio": True}},
    "default": {"avtnet": AVTNET_SHAPES["default"], "sa_fusion": {}},
}
FORMATS = ("saved_model", "litert", "onnx")


def example_classifier(name, shapes, num_people=3):
    """An untrained ContractClassifier of `MODEL_SHAPES[shapes][name]`: "avtnet", trimodal AVTNet with its
    recogniser, or "sa_fusion", SA-fusion (ia, 1 head) with its linear head."""
    if shapes not in MODEL_SHAPES:
        raise ValueError(f"shapes: choose from {sorted(MODEL_SHAPES)}, got {shapes!r}")
    if name not in MODEL_NAMES:
        raise ValueError(f"model: choose from {MODEL_NAMES}, got {name!r}")
    if name == "avtnet":
        config = AVTNetConfig(modalities=("audio", "visible", "thermal"), **MODEL_SHAPES[shapes]["avtnet"])
        backbone = AVTNet(config)
        return ContractClassifier(backbone, build_recognizer(config.embedding_dim * len(backbone.embedding_names),
                                                             num_people))
    backbone = SAFusionNet(SAFusionConfig(**MODEL_SHAPES[shapes]["sa_fusion"]))
    return ContractClassifier(backbone, build_linear_head(backbone.feature_dim, num_people))


def every_subset_inputs(serving_spec, batch, seed):
    """Random serving inputs for `serving_spec` ({name: (shape with None batch, "float32")}): the modalities
    uniform in [0, 1), per-step masks ones, "present" cycling over every non-empty sensor subset (row i holds
    subset i mod (2^M - 1)). {name: float32 NumPy array [batch, ...]}."""
    rng = np.random.default_rng(seed)
    inputs = {}
    for name, (shape, dtype) in serving_spec.items():
        if dtype != "float32":
            raise ValueError(f"serving_spec {name!r}: only float32 inputs are generated, got {dtype}")
        inputs[name] = (np.ones if name.endswith("_mask") else rng.random)((batch, *shape[1:])).astype(np.float32)
    modalities = serving_spec["present"][0][1]
    subsets = [bits for bits in itertools.product((0.0, 1.0), repeat=modalities) if any(bits)]
    inputs["present"] = np.array([subsets[row % len(subsets)] for row in range(batch)], np.float32)
    return inputs


def call_latency(call, feed, calls, warmup):
    """{"median_ms", "p90_ms"} of `calls` timed calls `call(**feed)` after `warmup` untimed ones; each timed call
    runs to its NumPy outputs."""
    if calls < 1 or warmup < 0:
        raise ValueError(f"calls, warmup: expected >= 1 and >= 0, got {calls} and {warmup}")
    for _ in range(warmup):
        call(**feed)
    timings = []
    for _ in range(calls):
        start = time.perf_counter()
        call(**feed)
        timings.append(time.perf_counter() - start)
    milliseconds = 1000.0 * np.asarray(timings)
    return {"median_ms": float(np.median(milliseconds)), "p90_ms": float(np.percentile(milliseconds, 90))}


def folder_bytes(path):
    """Bytes of a file, or of every file under a folder."""
    path = pathlib.Path(path)
    return path.stat().st_size if path.is_file() else sum(item.stat().st_size for item in path.rglob("*")
                                                          if item.is_file())


def saved_model_call(path, signature_key):
    """The SavedModel signature as a callable of NumPy arrays returning NumPy outputs."""
    signature = tf.saved_model.load(str(path)).signatures[signature_key]
    return lambda **arrays: {name: value.numpy()
                             for name, value in signature(**{k: tf.constant(v) for k, v in arrays.items()}).items()}


def portable_speed(folder, shapes, models=MODEL_NAMES, calls=50, warmup=5, threads=None):
    """Exports each example classifier named in `models` to `folder` as a SavedModel, LiteRT and ONNX and times
    batch-1 calls of each on one complete example. Returns rows {"model", "format", "file_mb", "median_ms",
    "p90_ms"} in `FORMATS` order per model. threads: CPU threads of LiteRT and ONNX Runtime (None: the runtime's
    default; TensorFlow keeps its own)."""
    rows = []
    for name in models:
        classifier = example_classifier(name, shapes)
        saved_model = export_saved_model(classifier, pathlib.Path(folder) / name)
        paths = {"saved_model": saved_model,
                 "litert": export_litert(saved_model, SIGNATURE_NAME, pathlib.Path(folder) / f"{name}.tflite"),
                 "onnx": export_onnx(saved_model, SIGNATURE_NAME, pathlib.Path(folder) / f"{name}.onnx")}
        feed = every_subset_inputs(classifier.serving_spec(), 1, seed=0)
        feed["present"][:] = 1.0
        for kind in FORMATS:
            call = (saved_model_call(paths[kind], SIGNATURE_NAME) if kind == "saved_model"
                    else PortableModel(paths[kind], num_threads=threads))
            rows.append({"model": name, "format": kind, "file_mb": folder_bytes(paths[kind]) / 1e6,
                         **call_latency(call, feed, calls, warmup)})
    return rows


def speed_table(rows):
    """The rows as a Markdown table (model, format, file MB, median and p90 ms)."""
    lines = ["| model | format | file MB | median ms | p90 ms |", "|---|---|---:|---:|---:|"]
    lines += [f"| {row['model']} | {row['format']} | {row['file_mb']:.2f} | {row['median_ms']:.2f} | "
              f"{row['p90_ms']:.2f} |" for row in rows]
    return "\n".join(lines)


def machine_line(threads):
    """One line naming the CPU count, its load and the threads of the portable runtimes."""
    return (f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, TensorFlow {tf.__version__}, "
            f"LiteRT and ONNX Runtime threads: {'default' if threads is None else threads}")
