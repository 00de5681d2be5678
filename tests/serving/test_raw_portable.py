"""The portable forms of the raw-input signature (`--export litert,onnx` on the registry's "avtnet" run) against the
SavedModel on 32 of its recordings over every sensor subset, run in a fresh interpreter that never imports
TensorFlow: L2-normalised person embeddings within 1e-4, labels 100 % equal, the same palette fit."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import tensorflow as tf

import avtfuse
from avtfuse.recognition.recognizer import Recognizer
from tests.serving.test_portable import RUNNER, unit_rows

RECORDINGS = 32


def raw_batch(recognizer, data):
    """The raw inputs of RECORDINGS recordings of the run (waveforms zero-padded to the longest), each served
    under one sensor subset in turn, so that every subset is served."""
    names = list(recognizer.subsets)
    complete = [files for files, recorded in zip(data.files, data.recorded) if recorded.all()]
    decoded = [recognizer.decode(files) for files in complete[:RECORDINGS]]
    assert len(decoded) == RECORDINGS
    longest = max(len(item["audio"]) for item in decoded)
    present = np.array([[float(m in recognizer.subsets[names[i % len(names)]]) for m in recognizer.modalities]
                        for i in range(len(decoded))], np.float32)
    return {"audio": np.stack([np.pad(item["audio"], (0, longest - len(item["audio"]))) for item in decoded]),
            "audio_length": np.array([len(item["audio"]) for item in decoded], np.int32),
            "visible": np.stack([item["visible"] for item in decoded]),
            "thermal": np.stack([item["thermal"] for item in decoded]), "present": present}


def test_litert_and_onnx_serve_raw_media_as_the_saved_model(registry, tmp_path):
    run = registry.run("avtnet")
    files = {"litert": run.saved_model / "model_raw.tflite", "onnx": run.saved_model / "model_raw.onnx"}
    assert all(path.exists() for path in files.values())
    recognizer = Recognizer(run.saved_model)
    inputs = raw_batch(recognizer, run.data())
    assert len({tuple(row) for row in inputs["present"]}) == 7
    expected = {key: value.numpy() for key, value in
                recognizer._serve(**{key: tf.constant(value) for key, value in inputs.items()}).items()}
    for path in files.values():
        shutil.copy(path, tmp_path / path.name)
    np.savez(tmp_path / "model_raw_inputs.npz", **inputs)
    root = str(pathlib.Path(avtfuse.__file__).parents[1])
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    result = subprocess.run([sys.executable, "-c", RUNNER, str(tmp_path), *(path.name for path in files.values())],
                            capture_output=True, text=True, env=environment)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["modules"] == []  # no TensorFlow, Keras or tf2onnx in the runtime's process
    for path in files.values():
        got = dict(np.load(tmp_path / f"{path.name}_outputs.npz"))
        assert report[path.name]["inputs"]["visible"] == [[None, None, None, 3], "uint8"]
        assert np.abs(unit_rows(got["person_embedding"]) - unit_rows(expected["person_embedding"])).max() <= 1e-4
        np.testing.assert_array_equal(got["label"], expected["label"])
        np.testing.assert_allclose(got["thermal_palette_fit"], expected["thermal_palette_fit"], atol=1e-5)
