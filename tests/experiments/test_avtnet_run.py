"""A short end-to-end run of `python -m experiments.avtnet` on tiny synthetic data."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from avtfuse.export import load_serving
from avtfuse.models.base import ContractClassifier
from experiments import avtnet
from pipelines.dataset import prepare

TINY_FLAGS = [
    "--synthetic-subjects", "4", "--image-size", "16", "--n-mels", "16", "--audio-seconds", "0.5",
    "--epochs-embed", "3", "--epochs-recognizer", "3", "--batch-size", "16", "--gpus", "1", "--verbose", "0",
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
    for name in ("config.json", "identity.json", "labels.json", "results.json", "results.md", "timing.json",
                 "confusion_matrix.png", "embeddings.keras", "recognizer.keras", "embeddings.done", "run.done"):
        assert (run_dir / name).exists(), name
    for phase in ("embeddings", "recognizer"):
        assert list((run_dir / "tensorboard" / phase).rglob("events.out.tfevents*")), phase
    assert json.loads((run_dir / "labels.json").read_text()) == ["1", "2", "3", "4"]
    assert json.loads((root / "saved" / "tiny" / "labels.json").read_text()) == ["1", "2", "3", "4"]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["train"]["epochs_embed"] == 3 and config["data"]["features"]["n_mels"] == 16
    identity = json.loads((run_dir / "identity.json").read_text())
    assert len(identity["data_sha256"]) == 64 and "runtime" not in identity["config"]


def test_learns_well_above_chance(finished_run):
    root, _ = finished_run
    results = json.loads((root / "runs" / "tiny" / "results.json").read_text())
    chance = 1 / 4
    assert results["metrics"]["WA"] > chance + 0.35, results
    assert results["conditions"]["complete"]["accuracy"] > chance + 0.45, results
    # The headline metrics pool the paper's conditions only, never the single-modality copies.
    counts = {name: entry["count"] for name, entry in results["conditions"].items()}
    headline = sum(counts[name] for name in ("complete", "missing_visible", "missing_thermal", "missing_audio"))
    assert results["conditions"]["average"]["count"] == headline < results["test_samples"]
    assert results["bn_neck_heads"] == ["joint"]


def test_export_matches_the_trained_model_with_a_modality_missing(finished_run):
    root, _ = finished_run
    run_dir = root / "runs" / "tiny"
    classifier = ContractClassifier(keras.models.load_model(run_dir / "embeddings.keras"),
                                    keras.models.load_model(run_dir / "recognizer.keras"))
    config = json.loads((run_dir / "config.json").read_text())
    from avtfuse.training.experiment import ExperimentConfig

    data = prepare(ExperimentConfig.from_dict(config).data)
    inputs, _ = next(iter(data.batches("test", 64)))
    present = inputs["present"].numpy()
    assert (present == 0).any(axis=0).all()  # every modality is missing somewhere in the batch
    expected = keras.ops.convert_to_numpy(classifier(inputs, training=False))
    served = load_serving(root / "saved" / "tiny")(**{k: inputs[k] for k in ("audio", "visible", "thermal", "present")})
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, atol=1e-5)
    np.testing.assert_array_equal(served["label"].numpy(), expected.argmax(-1))
    # Stale data where present = 0 is blanked by the signature.
    noisy = {k: inputs[k] + tf.random.uniform(tf.shape(inputs[k])) * tf.cast(inputs[k] == 0, tf.float32)
             for k in ("audio", "visible", "thermal")}
    again = load_serving(root / "saved" / "tiny")(**noisy, present=inputs["present"])
    np.testing.assert_allclose(again["probabilities"].numpy(), expected, atol=1e-5)


def test_rerun_returns_the_finished_results(finished_run, caplog):
    root, flags = finished_run
    before = (root / "runs" / "tiny" / "results.json").read_text()
    with caplog.at_level("INFO"):
        avtnet.main(flags + ["--precision", "float32", "--gpus", "0", "--verbose", "1"])  # runtime settings: no block
    assert "already finished" in caplog.text
    assert (root / "runs" / "tiny" / "results.json").read_text() == before


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
                 "--seed", "--output-dir", "--config", "--bn-neck", "--no-bn-neck", "--verbose", "dense-triplet"):
        assert flag in text


@pytest.mark.parametrize("flags, word", [
    (["--modalities", "audio,smell"], "smell"),
    (["--subjects", "1-x"], "--subjects"),
    (["--batch-size", "1"], "batch_size"),
    (["--config", "huge"], "preset"),
])
def test_bad_flags_are_named(flags, word):
    with pytest.raises(SystemExit, match=word):
        avtnet.main(flags)
