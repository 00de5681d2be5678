"""Short end-to-end runs of `python -m experiments.avtnet` on tiny synthetic data (the registry's AVTNet runs:
tests/registry.py)."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import accuracy_score

from avtfuse.evaluation.accuracy import per_condition_accuracy
from avtfuse.evaluation.stages import predict_batches
from avtfuse.export import load_serving
from avtfuse.models.base import ContractClassifier
from avtfuse.runs.plan import plan, stage_keys
from experiments import avtnet
from tests.registry import ESPEAK


@pytest.fixture(scope="module")
def finished_run(registry):
    return registry.run("avtnet")


def test_run_writes_every_output(finished_run):
    run_dir = finished_run.run_dir
    for name in ("config.json", "identity.json", "labels.json", "results.json", "results.md", "timing.json",
                 "confusion_matrix.png", "embeddings.keras", "recognizer.keras", "embeddings.done", "split.csv",
                 "evaluation/test_predictions.npz"):
        assert (run_dir / name).exists(), name
    # The run finished: every stage of its plan left its completion record, the report's with the plan's key.
    stages = plan(finished_run.config())
    assert sorted(path.stem for path in (run_dir / "stages").iterdir()) == sorted(stage.name for stage in stages)
    assert json.loads((run_dir / "stages" / "report.json").read_text())["key"] == stage_keys(stages)["report"]
    for phase in ("embeddings", "recognizer"):
        assert list((run_dir / "tensorboard" / phase).rglob("events.out.tfevents*")), phase
    assert json.loads((run_dir / "labels.json").read_text()) == ["1", "2", "3", "4"]
    assert json.loads((finished_run.saved_model / "labels.json").read_text()) == ["1", "2", "3", "4"]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["train"]["epochs_embed"] == 3 and config["data"]["features"]["n_mels"] == 16
    identity = json.loads((run_dir / "identity.json").read_text())
    assert len(identity["data_sha256"]) == 64 and "runtime" not in identity["config"]


def test_learns_well_above_chance(finished_run):
    results = finished_run.results()
    chance = 1 / 4
    assert results["metrics"]["WA"] > chance + 0.35, results
    assert results["conditions"]["complete"]["accuracy"] > chance + 0.45, results
    # The headline metrics pool the paper's conditions only, never the single-modality copies.
    counts = {name: entry["count"] for name, entry in results["conditions"].items()}
    headline = sum(counts[name] for name in ("complete", "missing_visible", "missing_thermal", "missing_audio"))
    assert results["conditions"]["average"]["count"] == headline < results["test_samples"]
    assert results["bn_neck_heads"] == ["joint"]


def test_validation_section_scores_the_served_model_on_the_validation_split(finished_run):
    """results.json's "validation" (what `--sweep` and the single-sensor choice read) against scikit-learn's
    accuracy of the run's classifier on the validation samples, per condition."""
    run_dir, results = finished_run.run_dir, finished_run.results()
    classifier = ContractClassifier(keras.models.load_model(run_dir / "embeddings.keras"),
                                    keras.models.load_model(run_dir / "recognizer.keras"))
    labels, predicted, present = [], [], []
    for inputs, label in finished_run.data().batches("valid", 64):
        predicted.append(keras.ops.convert_to_numpy(classifier(inputs, training=False)).argmax(-1))
        labels.append(label.numpy())
        present.append(inputs["present"].numpy())
    labels, predicted, present = map(np.concatenate, (labels, predicted, present))
    validation = results["validation"]["conditions"]
    assert len(labels) == results["validation_samples"] == sum(
        entry["count"] for name, entry in validation.items() if name != "average")
    complete = present.all(axis=1)
    assert validation["complete"]["count"] == complete.sum() > 0
    assert validation["complete"]["accuracy"] == pytest.approx(accuracy_score(labels[complete], predicted[complete]))


def test_export_matches_the_trained_model_with_a_modality_missing(finished_run):
    run_dir = finished_run.run_dir
    classifier = ContractClassifier(keras.models.load_model(run_dir / "embeddings.keras"),
                                    keras.models.load_model(run_dir / "recognizer.keras"))
    inputs, _ = next(iter(finished_run.data().batches("test", 64)))
    present = inputs["present"].numpy()
    assert (present == 0).any(axis=0).all()  # every modality is missing somewhere in the batch
    expected = keras.ops.convert_to_numpy(classifier(inputs, training=False))
    served = load_serving(finished_run.saved_model)(**{k: inputs[k] for k in ("audio", "visible", "thermal", "present")})
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, atol=1e-5)
    np.testing.assert_array_equal(served["label"].numpy(), expected.argmax(-1))
    # Stale data where present = 0 is blanked by the signature.
    noisy = {k: inputs[k] + tf.random.uniform(tf.shape(inputs[k])) * tf.cast(inputs[k] == 0, tf.float32)
             for k in ("audio", "visible", "thermal")}
    again = load_serving(finished_run.saved_model)(**noisy, present=inputs["present"])
    np.testing.assert_allclose(again["probabilities"].numpy(), expected, atol=1e-5)


def test_rerun_returns_the_finished_results(finished_run, caplog):
    before = (finished_run.run_dir / "results.json").read_text()
    with caplog.at_level("INFO"):
        finished_run.main(["--precision", "float32", "--gpus", "0", "--verbose", "1"])  # runtime settings: no block
    assert "already finished" in caplog.text
    assert (finished_run.run_dir / "results.json").read_text() == before


def test_rerun_with_other_settings_is_refused(finished_run):
    with pytest.raises(SystemExit, match="other settings"):
        finished_run.main(["--learning-rate", "0.01"])


def test_help_explains_every_flag(capsys):
    with pytest.raises(SystemExit):
        avtnet.main(["--help"])
    text = capsys.readouterr().out
    for flag in ("--data", "--modalities", "--gpus", "--precision", "--epochs-embed", "--epochs-recognizer",
                 "--batch-size", "--image-size", "--n-mels", "--audio-seconds", "--pooling", "--protocol",
                 "--seed", "--output-dir", "--config", "--bn-neck", "--no-bn-neck", "--verbose", "dense-triplet",
                 "--single-sensor"):
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


def test_report_puts_the_reference_beside_each_single_sensor_condition(finished_run):
    results = finished_run.results()
    assert set(results["reference"]) == {"only_audio", "only_visible", "only_thermal"}
    for name, entry in results["reference"].items():
        assert entry["model_accuracy"] == results["conditions"][name]["accuracy"]
        assert entry["test"] == results["conditions"][name]["count"] and entry["train"] > entry["test"]
        # The paper protocol splits copies: most test recordings have other copies (the same file) in training.
        assert 0 < entry["test_seen_in_training"] <= entry["test"]
    report = (finished_run.run_dir / "results.md").read_text()
    assert "reference (%)" in report and "MFCC mean+std" in report and "16x16 pixels" in report
    assert results["validation_samples"] > 0


def test_specialists_start_the_fused_model_answer_a_lone_sensor_and_are_reported_beside_it(registry):
    """--specialist-branches --single-sensor specialist: the specialists train first, the fused model keeps each
    sensor's layers as its specialist left them (copied, frozen), a sample with one sensor left gets its
    specialist's answer (in the evaluation and the SavedModel), and the report puts the specialists and the fused
    model's own answer beside it."""
    run = registry.run("avtnet-specialists")
    results = run.results()
    assert set(results["specialists"]) == {"only_audio", "only_thermal"}
    # The specialists trained first: their stages come before the fused model's in the plan, all of them done.
    names = [stage.name for stage in plan(run.config())]
    assert max(names.index("specialist-audio"), names.index("specialist-thermal")) < names.index("fused")
    assert all((run.run_dir / "stages" / f"{name}.json").exists() for name in names)
    data = run.data()
    for name, entry in results["specialists"].items():
        # A specialist's folder holds its model, trained on the run's split reduced to its sensor (its split.csv);
        # scored on that split's test samples it gives the reported accuracy.
        modality = entry["modality"]
        folder = run.specialist_dir(modality)
        assert json.loads((folder / "config.json").read_text())["data"]["modalities"] == [modality]
        assert (folder / "split.csv").exists()
        specialist_data = data.for_modality(modality)
        alone = per_condition_accuracy(*predict_batches(keras.models.load_model(folder / "classifier.keras"),
                                                        specialist_data.batches("test", 16)), (modality,))
        assert set(alone) == {"complete", "average"}
        assert entry["specialist"] == alone["complete"]["accuracy"]
        assert entry["fused"] == results["conditions"][name]["accuracy"] == entry["specialist"]
        assert 0 < entry["fused_alone"] * entry["fused_count"] == round(entry["fused_alone"] * entry["fused_count"])
        assert entry["reference"] == results["reference"][name]["accuracy"]
        # Strict protocol: the specialist is tested on the very recordings of the fused single-sensor condition.
        assert entry["specialist_count"] == entry["fused_count"] == results["conditions"][name]["count"]
        assert (run.saved / f"fused-specialist-{modality}" / "saved_model.pb").exists()
    report = (run.run_dir / "results.md").read_text()
    assert "## Single-sensor specialists" in report and "| only_thermal |" in report
    assert "served, specialist fallback (%)" in report and "fused model alone (%)" in report
    serve = load_serving(run.saved_model)
    thermal_alone = load_serving(run.saved / "fused-specialist-thermal")
    _, specs = serve.structured_input_signature
    rng = np.random.default_rng(0)
    inputs = {name: tf.constant(rng.random([2] + spec.shape[1:].as_list(), dtype=np.float32))
              for name, spec in specs.items() if name != "present"}
    served = serve(**inputs, present=tf.constant([[0.0, 1.0], [1.0, 1.0]]))["probabilities"].numpy()
    alone = thermal_alone(thermal=inputs["thermal"], present=tf.ones((2, 1)))["probabilities"].numpy()
    np.testing.assert_allclose(served[0], alone[0], rtol=1e-4, atol=1e-6)
    assert np.abs(served[1] - alone[1]).max() > 1e-4  # both sensors: the fused model answers
    fused = keras.models.load_model(str(run.run_dir / "embeddings.keras"))
    for modality in ("audio", "thermal"):
        specialist = keras.models.load_model(str(run.specialist_dir(modality) / "embeddings.keras"))
        for name in (f"{modality}_standardize", f"{modality}_branch", f"{modality}_embedding"):  # epochs of Adam
            for ours, theirs in zip(fused.get_layer(name).get_weights(), specialist.get_layer(name).get_weights()):
                np.testing.assert_array_equal(ours, theirs)


def write_bad_manifest(folder):
    """A manifest of four good recordings of two people and two bad ones (a 0-byte and a NaN wav)."""
    import soundfile

    rows = ["person,recording,audio,visible,thermal"]
    rng = np.random.default_rng(0)
    for index in range(4):
        soundfile.write(folder / f"good{index}.wav", 0.1 * rng.standard_normal(800), 8000)
        rows.append(f"p{index % 2},good{index},good{index}.wav,,")
    (folder / "empty.wav").write_bytes(b"")
    soundfile.write(folder / "nan.wav", np.full(800, np.nan), 8000, subtype="FLOAT")
    rows += ["p0,empty,empty.wav,,", "p1,nan,nan.wav,,"]
    (folder / "m.csv").write_text("\n".join(rows) + "\n")
    return folder / "m.csv"


def refusal_lines(flags, tmp_path):
    """The lines under "error: 2 recordings with bad input" that `avtnet.main(flags)` exits with (no traceback)."""
    with pytest.raises(SystemExit) as info:
        avtnet.main([*flags, "--cache-dir", str(tmp_path / "cache"), "--output-dir", str(tmp_path / "runs"),
                     "--verbose", "0", "--gpus", "0"])
    message = str(info.value.code)
    assert message.startswith("error: 2 recordings with bad input") and "Traceback" not in message
    return message.splitlines()[1:]


def test_every_bad_file_is_listed_at_once_without_a_traceback(tmp_path, capsys):
    flags = ["--data", str(write_bad_manifest(tmp_path)), "--modalities", "audio"]
    lines = refusal_lines(flags, tmp_path)
    assert len(lines) == 2
    assert "empty.wav: empty audio file (0 bytes)" in lines[0] and "nan.wav: audio holds NaN" in lines[1]
    from pipelines.errors import InputErrors

    with pytest.raises(InputErrors):  # --debug: the exception itself, with its traceback
        avtnet.main(flags + ["--cache-dir", str(tmp_path / "cache"), "--debug"])


def write_three_bad_files_manifest(folder):
    """A manifest of four good recordings (wav, colour png, grey png) of two people, one recording with three bad
    files (a truncated wav, an empty png, a thermal file that is not there) and one with a NaN wav."""
    import cv2
    import soundfile

    rows = ["person,recording,audio,visible,thermal"]
    rng = np.random.default_rng(0)
    for index in range(4):
        soundfile.write(folder / f"good{index}.wav", 0.1 * rng.standard_normal(800), 8000)
        cv2.imwrite(str(folder / f"good{index}_v.png"), rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
        cv2.imwrite(str(folder / f"good{index}_t.png"), rng.integers(0, 256, (8, 8), dtype=np.uint8))
        rows.append(f"p{index % 2},good{index},good{index}.wav,good{index}_v.png,good{index}_t.png")
    soundfile.write(folder / "cut.wav", 0.1 * rng.standard_normal(800), 8000)
    os.truncate(folder / "cut.wav", 300)
    (folder / "empty.png").write_bytes(b"")
    soundfile.write(folder / "nan.wav", np.full(800, np.nan), 8000, subtype="FLOAT")
    rows += ["p0,three,cut.wav,empty.png,gone.png", "p1,nan,nan.wav,,"]
    (folder / "m.csv").write_text("\n".join(rows) + "\n")
    return folder / "m.csv"


def test_every_bad_file_of_every_recording_is_listed_one_line_each(tmp_path, capsys):
    flags = ["--data", str(write_three_bad_files_manifest(tmp_path)), "--thermal-palette", "grey"]
    lines = refusal_lines(flags, tmp_path)
    assert len(lines) == 4
    assert "gone.png does not exist" in lines[0] and "cut.wav: truncated audio" in lines[1]
    assert "empty.png: empty image file" in lines[2] and "nan.wav: audio holds NaN" in lines[3]


@pytest.mark.skipif(not os.path.exists(os.path.join(ESPEAK, "manifest.csv")), reason="the espeak test set is absent")
def test_real_format_speech_files_train_with_the_reference_beside(registry):
    results = registry.run("avtnet-espeak").results()
    assert results["skipped_recordings"] == 0
    assert results["train_samples"] + results["validation_samples"] + results["test_samples"] == 200
    reference = results["reference"]["complete"]
    assert reference["test"] == results["test_samples"] and reference["accuracy"] > 0.1  # 10 voices
    assert reference["test_seen_in_training"] == 0  # one copy per recording: nothing to leak


def test_a_ravdess_folder_of_speech_wavs_alone_trains_on_audio(registry):
    """The first run of the registry's sweep on the tones (AVTNet, --augment none)."""
    run = registry.run("avtnet-sweep")
    run_dir = run.runs / "tones-augment-none"
    results = json.loads((run_dir / "results.json").read_text())
    assert results["modalities"] == ["audio"] and set(results["conditions"]) == {"complete", "average"}
    assert "no recording has visible or thermal" in run.log()
    assert json.loads((run_dir / "labels.json").read_text()) == ["1", "2", "3"]
