"""File size, batch-1 latency and share of the measured matmul peak of an exported model's two signatures
("serving_default", features in; "serving_raw", a raw recording in) as a SavedModel, LiteRT and ONNX on this
machine (experiments.benchmark_portable), on untrained AVTNet and SA-fusion classifiers (no data set needed)."""

import itertools
import os
import pathlib
import platform
import time

import numpy as np
import tensorflow as tf

from avtfuse.evaluation.complexity import count_macs
from avtfuse.export import SIGNATURE_NAME, export_saved_model
from avtfuse.models.avtnet import AVTNet, AVTNetConfig, build_recognizer
from avtfuse.models.base import ContractClassifier
from avtfuse.models.sa_fusion import SAFusionConfig, SAFusionNet, build_linear_head
from avtfuse.models.sa_fusion.presets import small as sa_fusion_small
from avtfuse.serving.portable import export_litert, export_onnx
from avtfuse.serving.portable_runtime import PortableModel
from avtfuse.serving.raw_signature import RAW_SIGNATURE_NAME, RawServing, raw_input_reason
from avtfuse.training.speed import SHAPES as AVTNET_SHAPES
from avtfuse.training.speed import matmul_peak_gflops
from pipelines import palettes
from pipelines.features import FeatureConfig

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
# The FeatureConfig each model's raw signature decodes with, over pipelines.features.FeatureConfig's defaults: its
# shapes are the model's inputs (AVTNet default: 1.5 s at 44.1 kHz as 130 x 64 log-mel, 48 x 48 frames; SA-fusion:
# its presets' 3.6 s at 22,050 Hz as 156 x 10 MFCCs and 15 centre-cropped frames, at its config's 48 x 48).
SA_FUSION_FEATURES = sa_fusion_small().features
MODEL_FEATURES = {
    "tiny": {"avtnet": {"audio_samples": 1920, "n_fft": 256, "hop_length": 128, "n_mels": 8, "image_size": (16, 16)},
             "sa_fusion": {**SA_FUSION_FEATURES, "audio_samples": 2432, "n_fft": 256, "hop_length": 128, "n_mels": 16,
                           "frames": 6, "image_size": (16, 16)}},
    "default": {"avtnet": {}, "sa_fusion": {**SA_FUSION_FEATURES, "image_size": (48, 48)}},
}
THERMAL_PALETTE = "iron"  # the raw thermal frame is colour-mapped with it, and the raw signature inverts it
# The raw recording fed to the raw signature: seconds of waveform at the model's rate, (height, width) of the
# visible RGB frame(s) and of the colour-mapped thermal frame; "default": a camera's and a thermal camera's sizes.
RECORDINGS = {
    "tiny": {"audio_seconds": 0.5, "visible_size": (40, 52), "thermal_size": (36, 44)},
    "default": {"audio_seconds": 3.0, "visible_size": (480, 640), "thermal_size": (512, 640)},
}
# Side of the float32 matmul that measures the machine's peak (avtfuse.training.speed.matmul_peak_gflops); "tiny"
# (tests) a quicker, somewhat lower estimate.
PEAK_MATMUL_SIZE = {"tiny": 512, "default": 2048}
FORMATS = ("saved_model", "litert", "onnx")
SIGNATURES = {"features": SIGNATURE_NAME, "raw": RAW_SIGNATURE_NAME}


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


def example_features(name, shapes, classifier):
    """The FeatureConfig of `MODEL_FEATURES[shapes][name]` (thermal palette THERMAL_PALETTE); a ValueError when
    `classifier` cannot serve raw media decoded with it."""
    features = FeatureConfig(**MODEL_FEATURES[shapes][name], thermal_palette=THERMAL_PALETTE)
    reason = raw_input_reason(classifier, features)
    if reason is not None:
        raise ValueError(f"MODEL_FEATURES[{shapes!r}][{name!r}]: {reason}")
    return features


def raw_recording(modalities, features, recording, seed):
    """One complete raw recording for the raw signature (batch 1), NumPy arrays by input name: "audio" float32
    [1, N], N = recording["audio_seconds"] at features.sample_rate, a 120 Hz voice with 8 harmonics, its loudness
    rising and falling 4 times a second over the middle two thirds, faint noise before and after; "audio_length"
    int32 [1] = N; "visible" uint8 [1, H, W, 3] uniform noise ([1, T, H, W, 3], T = features.frames, for a
    model of frame sequences), (H, W) = recording["visible_size"]; "thermal" uint8 [1, H, W, 3] (or
    [1, T, H, W, 3]), a smooth heat field (a warm face-sized blob over a cooler gradient) colour-mapped through
    THERMAL_PALETTE, (H, W) = recording["thermal_size"]; "present" float32 [1, M] ones."""
    rng = np.random.default_rng(seed)
    count = round(recording["audio_seconds"] * features.sample_rate)
    seconds = np.arange(count) / features.sample_rate
    voice = sum(np.sin(2 * np.pi * 120 * harmonic * seconds) / harmonic for harmonic in range(1, 9))
    envelope = np.sin(np.pi * 4 * seconds) ** 2 * (np.abs(np.arange(count) - count / 2) < count / 3)
    audio = 0.3 * envelope * voice / 2.7 + 1e-3 * rng.standard_normal(count)
    time = (features.frames,) if features.frames else ()
    inputs = {}
    if "audio" in modalities:
        inputs["audio"] = audio[np.newaxis].astype(np.float32)
        inputs["audio_length"] = np.array([count], np.int32)
    if "visible" in modalities:
        inputs["visible"] = rng.integers(0, 256, (1, *time, *recording["visible_size"], 3), dtype=np.uint8)
    if "thermal" in modalities:
        height, width = recording["thermal_size"]
        rows, columns = np.meshgrid(np.linspace(-1, 1, height), np.linspace(-1, 1, width), indexing="ij")
        heat = 0.3 + 0.2 * rows + 0.5 * np.exp(-((rows + 0.1) ** 2 + columns ** 2) / 0.15)
        levels = np.round(255 * np.clip(heat, 0, 1)).astype(np.uint8)
        inputs["thermal"] = np.broadcast_to(palettes.colour_map(levels, THERMAL_PALETTE),
                                            (1, *time, height, width, 3)).copy()
    inputs["present"] = np.ones((1, len(modalities)), np.float32)
    return inputs


def signature_gflop(function, feed):
    """GFLOP of one call of `function` (a signature's callable of an inputs dict) on the batch of `feed` (NumPy
    arrays by name): 2 FLOPs per multiply-accumulate counted by avtfuse.evaluation.complexity.count_macs on its
    traced graph (matrix products, convolutions, Einsums; element-wise work, the FFT and gathers not counted)."""
    return 2 * count_macs(function, {name: tf.TensorSpec(value.shape, value.dtype)
                                     for name, value in feed.items()}) / 1e9


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


def portable_speed(folder, shapes, models=MODEL_NAMES, calls=50, warmup=5, threads=None, formats=FORMATS):
    """Exports each example classifier named in `models` to `folder` as a SavedModel with both signatures (raw
    media decoded with `example_features`), converts each signature to the portable `formats` (LiteRT, ONNX),
    then times batch-1 calls of every signature and format: the features signature on one complete example of
    random features, the raw one on `raw_recording` of RECORDINGS[shapes]. The float32 matmul peak
    (avtfuse.training.speed.matmul_peak_gflops of PEAK_MATMUL_SIZE[shapes]) is measured just before the first
    timed call and just after the last; the higher counts.

    Returns {"peak_gflops": {"before", "after"}, "rows": [{"model", "signature" ("features" or "raw"),
    "format", "file_mb", "median_ms", "p90_ms", "gflop" (per call, `signature_gflop`), "gflops" (gflop over the
    median latency), "share_of_peak"}]}, rows by model, then signature, then format in `FORMATS` order. The
    SavedModel rows of a model share one folder (both signatures). threads: CPU threads of LiteRT and ONNX
    Runtime (None: the runtime's default; TensorFlow keeps its own)."""
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise ValueError(f"formats: choose some of {FORMATS}, got {list(formats)}")
    formats = [kind for kind in FORMATS if kind in formats]
    folder = pathlib.Path(folder)
    exporters = {"litert": (export_litert, ".tflite"), "onnx": (export_onnx, ".onnx")}
    cases = []
    for name in models:
        classifier = example_classifier(name, shapes)
        features = example_features(name, shapes, classifier)
        saved_model = export_saved_model(classifier, folder / name, features=features)
        feature_feed = every_subset_inputs(classifier.serving_spec(), 1, seed=0)
        feature_feed["present"][:] = 1.0
        feeds = {"features": (feature_feed, classifier.serve),
                 "raw": (raw_recording(classifier.modalities, features, RECORDINGS[shapes], seed=0),
                         RawServing(classifier, features))}
        for signature, key in SIGNATURES.items():
            feed, function = feeds[signature]
            paths = {kind: saved_model if kind == "saved_model" else
                     exporters[kind][0](saved_model, key, folder / f"{name}_{signature}{exporters[kind][1]}")
                     for kind in formats}
            cases.append((name, signature, key, paths, feed, signature_gflop(function, feed)))
    rows = []
    peak_before = matmul_peak_gflops(PEAK_MATMUL_SIZE[shapes])
    for name, signature, key, paths, feed, gflop in cases:
        for kind in formats:
            call = (saved_model_call(paths[kind], key) if kind == "saved_model"
                    else PortableModel(paths[kind], num_threads=threads))
            rows.append({"model": name, "signature": signature, "format": kind,
                         "file_mb": folder_bytes(paths[kind]) / 1e6, **call_latency(call, feed, calls, warmup),
                         "gflop": gflop})
    peak_after = matmul_peak_gflops(PEAK_MATMUL_SIZE[shapes])
    peak = max(peak_before, peak_after)
    for row in rows:
        row["gflops"] = row["gflop"] / (row["median_ms"] / 1000.0)
        row["share_of_peak"] = row["gflops"] / peak
    return {"peak_gflops": {"before": peak_before, "after": peak_after}, "rows": rows}


def speed_table(rows):
    """The rows as a Markdown table (model, signature, format, file MB, median and p90 ms, GFLOP per call,
    GFLOP/s at the median, its share of the peak in %)."""
    lines = ["| model | signature | format | file MB | median ms | p90 ms | GFLOP / call | GFLOP/s | share of peak |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {row['model']} | {row['signature']} | {row['format']} | {row['file_mb']:.2f} | "
              f"{row['median_ms']:.2f} | {row['p90_ms']:.2f} | {row['gflop']:.4g} | {row['gflops']:.3g} | "
              f"{100 * row['share_of_peak']:.3g} % |" for row in rows]
    return "\n".join(lines)


def cpu_name():
    """The CPU's model name (Linux: /proc/cpuinfo's "model name"; elsewhere platform.processor(), or "unknown")."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_line(threads):
    """One line naming the CPU, its count, its load and the threads of the portable runtimes."""
    return (f"{os.cpu_count()} CPUs ({cpu_name()}), load average {os.getloadavg()[0]:.2f}, TensorFlow "
            f"{tf.__version__}, LiteRT and ONNX Runtime threads: {'default' if threads is None else threads}")


def peak_line(peak_gflops):
    """One line with the float32 matmul peak measured before and after the timings."""
    return (f"float32 matmul peak: {peak_gflops['before']:.1f} GFLOP/s before the timings, "
            f"{peak_gflops['after']:.1f} after (the higher is the share's peak)")
