"""The benchmark scripts run on tiny settings and print the promised JSON."""

import json

from experiments import benchmark, benchmark_pipeline


def test_pipeline_benchmark_prints_speeds(capsys):
    benchmark_pipeline.main(["--recordings", "6", "--subjects", "2", "--image-size", "16", "--n-mels", "8",
                             "--audio-samples", "4096", "--clips", "4", "--batch-size", "8"])
    report = json.loads(capsys.readouterr().out)
    assert report["wav_recordings"] == 6
    assert report["cold_wav_recordings_per_second"] > 0 and report["cold_synthetic_recordings_per_second"] > 0
    assert report["cached_samples_per_second"] > 0
    assert set(report["log_mel_clips_per_second"]) == {"tf_signal", "librosa"}


def test_training_benchmark_prints_each_setting(capsys):
    benchmark.main(["--skip-paper", "--steps", "1", "--batch-size", "4"])
    report = json.loads(capsys.readouterr().out)
    assert report["backend"] == "tensorflow" and report["device"] == "cpu"
    settings = {(r["shape"], r["jit_compile"], r["precision"]) for r in report["results"]}
    assert settings == {("default", False, "float32"), ("default", True, "float32")}
    assert all(r["samples_per_second"] > 0 for r in report["results"])
