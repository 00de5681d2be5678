"""The benchmark scripts run on tiny settings and print the promised JSON."""

import csv
import json
import os
import re

import keras
import numpy as np
import pytest

from avtfuse.training import manifest_speed, speed
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


def test_training_benchmark_gives_every_system_a_row(capsys, monkeypatch):
    monkeypatch.setattr(speed, "training_setup", tiny_setup)
    monkeypatch.setattr(speed, "matmul_peak_gflops", lambda: 50.0)
    benchmark.main(["--in-process", "--skip-paper", "--steps", "1", "--batch-size", "4", "--skip-manifest",
                    "--no-jit"])
    report = json.loads(capsys.readouterr().out)
    assert report["backend"] == "tensorflow" and report["device"] == "cpu" and report["manifest"] is None
    settings = [(r["system"], r["preset"], r["jit_compile"], r["precision"]) for r in report["results"]]
    assert settings == [(system, "small", False, "float32") for system in ("avtnet", "sa_fusion", "mct_hfr", "cfn_sr")]
    assert report["load_average_1min"] >= 0
    # the suite's settings (tests/conftest.py): oneDNN off, the pooled allocator
    assert report["tensorflow_cpu_settings"] == {"TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPU_ALLOCATOR_USE_BFC": "true"}
    for result in report["results"]:
        assert result["samples_per_second"] > 0 and result["matmul_peak_gflops"] == 50 and result["peak_rss_gb"] > 0
        share = result["samples_per_second"] * result["gflop_per_sample"] / result["matmul_peak_gflops"]
        assert result["share_of_peak"] == pytest.approx(share, rel=0.01)
    # the stand-in's count by hand: 3 x 2 x (8 x 16 + 16 x 3) FLOPs per sample
    assert report["results"][0]["gflop_per_sample"] == pytest.approx(6 * (8 * 16 + 16 * 3) / 1e9, abs=1e-4)
    with pytest.raises(SystemExit):
        benchmark.main(["--systems", "avtnet,resnet"])


def test_compare_measures_each_value_of_a_model_setting_where_the_system_has_it(capsys, monkeypatch):
    monkeypatch.setattr(speed, "training_setup", tiny_setup)
    monkeypatch.setattr(speed, "matmul_peak_gflops", lambda: 50.0)
    benchmark.main(["--in-process", "--skip-paper", "--steps", "1", "--batch-size", "4", "--skip-manifest", "--no-jit",
                    "--systems", "avtnet,sa_fusion", "--compare", "attention=full,blocked"])
    rows = [(r["system"], r["model_settings"]) for r in json.loads(capsys.readouterr().out)["results"]]
    assert rows == [("avtnet", {"attention": "full"}), ("avtnet", {"attention": "blocked"}), ("sa_fusion", {})]
    benchmark.main(["--in-process", "--skip-paper", "--steps", "1", "--batch-size", "4", "--skip-manifest", "--no-jit",
                    "--systems", "avtnet", "--compare", "image_recompute_slices=0,2"])
    rows = [r["model_settings"] for r in json.loads(capsys.readouterr().out)["results"]]
    assert rows == [{"image_recompute_slices": 0}, {"image_recompute_slices": 2}]  # typed as the setting
    for bad in ("attention=", "attention=sparse", "image_recompute_slices=two,4", "image_recompute_slices=-1,4"):
        with pytest.raises(SystemExit):
            benchmark.main(["--systems", "avtnet", "--compare", bad])


def test_each_row_runs_in_a_fresh_process_unless_in_process():
    """Every call of the wrapped function is a new process (so a row's peak memory is its own), with its arguments
    and result passed through; stdlib functions keep the children cheap."""
    fresh = speed.in_fresh_process(os.getpid)
    pids = {fresh(), fresh()}
    assert len(pids) == 2 and os.getpid() not in pids
    assert speed.in_fresh_process(divmod)(7, 2) == (3, 1)


def tiny_setup(system_name, preset, batch_size, jit_compile=False, num_classes=8, model_settings=None):
    """A stand-in for speed.training_setup: a Dense classifier on [8] inputs (the benchmark's loop is under test
    here, each system's setup in test_each_system_builds_its_main_phase_with_a_contract_batch)."""
    inputs = keras.Input((8,), name="audio")
    model = keras.Model({"audio": inputs}, keras.layers.Dense(3, activation="softmax")(keras.layers.Dense(16)(inputs)))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", jit_compile=jit_compile)
    return model, {"audio": np.ones((batch_size, 8), "float32")}, np.arange(batch_size) % 3


def test_analytic_flops_are_three_forward_passes_of_the_products_and_convolutions():
    inputs = keras.Input((6, 5, 2))
    hidden = keras.layers.Conv2D(4, 3, padding="same")(inputs)  # 6 x 5 outputs x 4 filters x 3 x 3 x 2 taps
    outputs = keras.layers.Dense(7)(keras.layers.Flatten()(hidden))  # 120 -> 7
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss=keras.losses.MeanSquaredError())
    gflop = speed.analytic_gflop_per_sample(model, np.zeros((2, 6, 5, 2), "float32"), np.zeros((2, 7), "float32"))
    assert gflop == pytest.approx(3 * 2 * (6 * 5 * 4 * 3 * 3 * 2 + 120 * 7) / 1e9)


@pytest.mark.parametrize("system_name", ["avtnet", "sa_fusion", "mct_hfr", "cfn_sr"])
def test_each_system_builds_its_main_phase_with_a_contract_batch(system_name):
    from avtfuse.models import SYSTEMS
    from avtfuse.runs.config import build_experiment

    config = build_experiment(system_name, preset="small")
    model, inputs, labels = speed.training_setup(system_name, "small", 2)
    backbone = getattr(model, "backbone", model)
    assert type(backbone) is SYSTEMS[system_name].variants[config.variant].backbone
    assert {key: tuple(inputs[key].shape[1:]) for key in backbone.input_shapes()} == \
        {key: tuple(shape) for key, shape in backbone.input_shapes().items()}
    assert inputs["present"].shape == (2, len(config.model.modalities)) and labels.shape == (2,)
    # MCT-HFR's default variant trains with step dropout: its batches carry the complete view
    assert ("audio_full" in inputs) == (config.train.step_dropout > 0)
    if "audio_full" in inputs:
        kept = 1 - inputs["audio_missing"][..., None]
        np.testing.assert_array_equal(inputs["audio"], inputs["audio_full"] * kept * inputs["present"][:, :1, None])


def test_features_manifest_holds_the_stated_shapes(tmp_path):
    path = manifest_speed.write_features_manifest(str(tmp_path), 10, np.random.default_rng(0))
    with open(path) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 10 and {row["person"] for row in rows} == {f"class{c}" for c in range(8)}
    assert [row["subject"] for row in rows] == [str(clip + 1) for clip in range(10)]
    for row in rows:
        assert row["thermal"] == ""
        audio, visible = np.load(tmp_path / row["audio"]), np.load(tmp_path / row["visible"])
        assert audio.shape == (259, 1) and visible.shape == (1, 35) and audio.dtype == np.float32


def test_profile_splits_a_training_step_into_parts(capsys):
    benchmark.main(["--profile", "avtnet:small", "--steps", "1", "--batch-size", "2"])
    report = json.loads(capsys.readouterr().out)
    assert (report["system"], report["preset"], report["batch_size"]) == ("avtnet", "small", 2)
    parts = {(row["part"], row["direction"]): row["share"] for row in report["parts"]}
    for part in ("image convolutions", "max-pooling", "joint attention: products and projections"):
        assert parts[(part, "forward")] > 0 and parts[(part, "backward")] > 0
    assert sum(parts.values()) == pytest.approx(1, abs=0.01)
    assert report["op_seconds_per_step"] > 0


@pytest.mark.parametrize("op, part", [
    (("visible_branch/conv_1/convolution", "Conv2D"), ("image convolutions", "forward")),
    (("gradient_tape/conv_0/convolution/Conv2DBackpropFilter", "Conv2DBackpropFilter"),
     ("image convolutions", "backward")),  # inside the recomputed first block: no branch scope
    (("audio_branch/conv_0/convolution", "Conv2D"), ("audio convolutions", "forward")),
    (("einsum/Einsum", "_MklEinsum"), ("joint attention: products and projections", "forward")),  # a blocked block
    (("Softmax", "_MklSoftmax"), ("joint attention: softmax and scaling", "forward")),
    (("gradient_tape/Mul", "Mul"), (speed.OTHER_PART, "backward")),
])
def test_profile_parts_name_ops_inside_recomputed_functions(op, part):
    assert speed.profile_part(*op) == part


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
