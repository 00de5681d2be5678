"""A short end-to-end run of `python -m experiments.avtnet` on tiny synthetic data."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from experiments import avtnet

TINY_FLAGS = [
    "--synthetic-subjects", "3", "--image-size", "16", "--n-mels", "16", "--audio-seconds", "0.25",
    "--epochs-embed", "1", "--epochs-recognizer", "2", "--batch-size", "8", "--gpus", "1", "--verbose", "0",
]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    flags = TINY_FLAGS + ["--cache-dir", str(root / "cache"), "--output-dir", str(root / "runs"),
                          "--saved-models-dir", str(root / "saved"), "--run-name", "tiny"]
    avtnet.main(flags)
    return root, flags


def test_run_writes_every_output(finished_run):
    root, _ = finished_run
    run_dir = root / "runs" / "tiny"
    for name in ("config.json", "labels.json", "results.json", "results.md", "confusion_matrix.png"):
        assert (run_dir / name).stat().st_size > 0, name
    for phase in ("phase1", "phase2"):
        assert list((run_dir / "tensorboard" / phase).rglob("events.out.tfevents*")), phase
    results = json.loads((run_dir / "results.json").read_text())
    for condition in ("complete", "missing_audio", "missing_visible", "missing_thermal"):
        assert 0.0 <= results["conditions"][condition]["accuracy"] <= 1.0
    assert json.loads((run_dir / "labels.json").read_text()) == {"1": 0, "2": 1, "3": 2}
    config = json.loads((run_dir / "config.json").read_text())
    assert config["train"]["epochs_embed"] == 1 and config["data"]["features"]["n_mels"] == 16


def test_exported_model_serves_with_a_missing_modality(finished_run):
    root, _ = finished_run
    serve = tf.saved_model.load(str(root / "saved" / "tiny")).signatures["serving_default"]
    config = json.loads((root / "runs" / "tiny" / "config.json").read_text())
    frames, mels = config["model"]["audio_shape"]
    inputs = {
        "audio": tf.zeros([2, frames, mels]),
        "visible": tf.random.uniform([2, 16, 16, 3]),
        "thermal": tf.random.uniform([2, 16, 16, 1]),
        "present": tf.constant([[0.0, 1.0, 1.0]] * 2),
    }
    out = serve(**inputs)
    np.testing.assert_allclose(out["probabilities"].numpy().sum(-1), 1.0, rtol=1e-5)
    assert out["probabilities"].shape == (2, 3)


def test_rerun_resumes_without_training(finished_run, caplog):
    _, flags = finished_run
    with caplog.at_level("INFO"):
        avtnet.main(flags)
    assert "phase 1 already finished" in caplog.text
    assert "phase 2 already finished" in caplog.text


def test_rerun_with_other_settings_is_refused(finished_run):
    _, flags = finished_run
    with pytest.raises(SystemExit, match="other settings"):
        avtnet.main(flags + ["--learning-rate", "0.01"])


def test_help_explains_every_flag(capsys):
    with pytest.raises(SystemExit):
        avtnet.main(["--help"])
    text = capsys.readouterr().out
    for flag in ("--data", "--modalities", "--gpus", "--precision", "--epochs-embed", "--epochs-recognizer",
                 "--batch-size", "--image-size", "--n-mels", "--audio-seconds", "--pooling", "--protocol",
                 "--seed", "--output-dir", "--config"):
        assert flag in text


@pytest.mark.parametrize("flags, word", [
    (["--modalities", "audio,smell"], "smell"),
    (["--subjects", "1-x"], "--subjects"),
    (["--batch-size", "1"], "--batch-size"),
])
def test_bad_flags_are_named(flags, word):
    with pytest.raises(SystemExit, match=word):
        avtnet.main(flags)
