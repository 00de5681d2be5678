"""The benchmark scripts run on tiny settings and print the promised JSON."""

import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from avtfuse.evaluation.complexity import count_macs
from avtfuse.models.avtnet import AVTNet, AVTNetConfig
from avtfuse.training.speed import SHAPES, random_batch
from experiments import benchmark, benchmark_memory, benchmark_pipeline, benchmark_portable


def test_pipeline_benchmark_prints_speeds(capsys):
    benchmark_pipeline.main(["--recordings", "6", "--subjects", "2", "--image-size", "16", "--n-mels", "8",
                             "--audio-samples", "4096", "--clips", "4", "--batch-size", "8"])
    report = json.loads(capsys.readouterr().out)
    assert report["wav_recordings"] == 6
    assert report["cold_wav_recordings_per_second"] > 0 and report["cold_synthetic_recordings_per_second"] > 0
    assert report["cached_samples_per_second"] > 0 and report["cached_pk_samples_per_second"] > 0
    assert report["cache_dtypes"] == {"audio": "float32", "visible": "uint8", "thermal": "uint8"}
    # 16 x 16 frames as bytes (768 + 256) beside the float32 log-mel (8 mels x 9 frames x 4 bytes), plus framing
    assert 768 + 256 + 8 * 9 * 4 < report["cache_bytes_per_recording"] < 768 + 256 + 8 * 9 * 4 + 200
    assert set(report["log_mel_clips_per_second"]) == {"tf_signal", "librosa"}


def test_memory_benchmark_prints_the_peak_of_one_epoch(capsys, tmp_path):
    benchmark_memory.main(["--recordings", "12", "--people", "3", "--shapes", "default", "--batch-size", "4",
                           "--cache-dir", str(tmp_path)])
    report = json.loads(capsys.readouterr().out)
    assert (report["recordings"], report["shapes"], report["sampler"]) == (12, "default", "random")
    assert report["samples"] == 4 * report["steps"] > 0
    assert 0 < report["rss_before_epoch_gb"] <= report["peak_rss_gb"]
    assert list(tmp_path.iterdir()) == []  # the temporary cache is gone


def test_training_benchmark_prints_each_setting(capsys):
    benchmark.main(["--skip-paper", "--steps", "1", "--batch-size", "4"])
    report = json.loads(capsys.readouterr().out)
    assert report["backend"] == "tensorflow" and report["device"] == "cpu"
    settings = {(r["shape"], r["jit_compile"], r["precision"]) for r in report["results"]}
    assert settings == {("default", False, "float32"), ("default", True, "float32")}
    assert report["load_average_1min"] >= 0
    for result in report["results"]:
        assert result["samples_per_second"] > 0 and result["matmul_peak_gflops"] > 0 and result["peak_rss_gb"] > 0
        assert result["gflop_per_sample"] == report["results"][0]["gflop_per_sample"]
        share = result["samples_per_second"] * result["gflop_per_sample"] / result["matmul_peak_gflops"]
        assert result["share_of_peak"] == pytest.approx(share, rel=0.01)
    # A training step counts about 3 forward passes: each weight's gradient and each input gradient (but the
    # first layers') cost one.
    config = AVTNetConfig(**SHAPES["default"])
    model, (inputs, _) = AVTNet(config), random_batch(config, 1, np.random.default_rng(0))
    forward = 2 * count_macs(lambda x: model(x, training=True),
                             {key: tf.TensorSpec(value.shape, value.dtype) for key, value in inputs.items()}) / 1e9
    assert 2.7 * forward < report["results"][0]["gflop_per_sample"] < 3 * forward


def test_profile_splits_a_training_step_into_parts(capsys):
    benchmark.main(["--profile", "default", "--steps", "1", "--batch-size", "2"])
    report = json.loads(capsys.readouterr().out)
    assert report["shape"] == "default" and report["batch_size"] == 2
    parts = {(row["part"], row["direction"]): row["share"] for row in report["parts"]}
    for part in ("image convolutions", "max-pooling", "joint attention: products and projections"):
        assert parts[(part, "forward")] > 0 and parts[(part, "backward")] > 0
    assert sum(parts.values()) == pytest.approx(1, abs=0.01)
    assert report["op_seconds_per_step"] > 0


def test_portable_benchmark_prints_a_row_per_signature_and_format(capsys):
    benchmark_portable.main(["--shapes", "tiny", "--models", "sa_fusion", "--formats", "saved_model", "litert",
                             "--calls", "2", "--warmup", "1", "--threads", "1"])
    machine, peak, header, rule, *rows = capsys.readouterr().out.strip().splitlines()
    assert machine.startswith(f"{os.cpu_count()} CPUs (") and machine.endswith("threads: 1")
    peaks = [float(value) for value in re.findall(r"([\d.]+)(?: GFLOP/s)? (?:before|after)", peak)]
    assert len(peaks) == 2 and min(peaks) > 0
    assert header == ("| model | signature | format | file MB | median ms | p90 ms | GFLOP / call | GFLOP/s | "
                      "share of peak |") and rule == "|---|---|---|---:|---:|---:|---:|---:|---:|"
    cells = [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]
    assert [tuple(row[:3]) for row in cells] == [("sa_fusion", signature, kind) for signature in ("features", "raw")
                                                 for kind in ("saved_model", "litert")]
    gflop = {}
    for _, signature, _, size, median, p90, per_call, rate, share in cells:
        assert float(size) > 0 and 0 < float(median) <= float(p90) and float(per_call) > 0
        assert float(rate) == pytest.approx(float(per_call) / float(median) * 1000, rel=0.15)
        assert float(share.rstrip(" %")) == pytest.approx(100 * float(rate) / max(peaks), rel=0.15)
        gflop.setdefault(signature, set()).add(per_call)
    # one count per signature; the raw one adds the front end (resizing matmuls, mel filters) to the model
    assert len(gflop["features"]) == len(gflop["raw"]) == 1 and float(*gflop["raw"]) > float(*gflop["features"])
    for arguments in (["--calls", "0"], ["--formats", "pt"]):
        with pytest.raises(SystemExit):
            benchmark_portable.main(arguments)
