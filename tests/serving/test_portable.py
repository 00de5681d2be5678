"""Tests for avtfuse.serving.portable and portable_runtime: LiteRT and ONNX forms of an exported SavedModel,
run without TensorFlow, against the SavedModel on every sensor subset."""

import itertools
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import avtfuse
from avtfuse.export import SIGNATURE_NAME, export_saved_model
from avtfuse.models.base import ContractClassifier
from avtfuse.serving.portable import export_litert, export_onnx
from avtfuse.serving.portable_runtime import PortableModel
from avtfuse.serving.portable_speed import every_subset_inputs, example_classifier

BATCH = 32
MODALITIES = {"avtnet": ("audio", "visible", "thermal"), "sa_fusion": ("audio", "visible")}
FORMATS = {"litert": ".tflite", "onnx": ".onnx"}
# Run in a fresh interpreter: every portable model on the saved inputs, then which heavy modules got imported.
RUNNER = """
import json, sys
import numpy as np
from avtfuse.serving.portable_runtime import PortableModel
folder, report = sys.argv[1], {}
for name in sys.argv[2:]:
    model = PortableModel(f"{folder}/{name}")
    inputs = dict(np.load(f"{folder}/{name.split('.')[0]}_inputs.npz"))
    np.savez(f"{folder}/{name}_outputs.npz", **model(**inputs))
    np.savez(f"{folder}/{name}_first.npz", **model(**{key: value[:1] for key, value in inputs.items()}))
    report[name] = {"inputs": {key: [list(shape), np.dtype(dtype).name]
                               for key, (shape, dtype) in model.inputs.items()},
                    "outputs": list(model.output_names)}
report["modules"] = sorted(name for name in ("tensorflow", "keras", "tf2onnx", "avtfuse.models") if name in sys.modules)
print(json.dumps(report))
"""


def unit_rows(embedding):
    return embedding / np.maximum(np.linalg.norm(embedding, axis=-1, keepdims=True), 1e-12)


def served_inputs(classifier, seed):
    """32 rows over every sensor subset; an absent sensor holds NaN in every other such row (served as zeros)."""
    inputs = every_subset_inputs(classifier.serving_spec(), BATCH, seed)
    for index, modality in enumerate(classifier.modalities):
        absent = np.flatnonzero(inputs["present"][:, index] == 0)
        inputs[modality][absent[::2]] = np.nan
    return inputs


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """Per tiny model: the SavedModel's outputs on its inputs, and what the portable runner in a fresh
    interpreter returned for each format."""
    folder = tmp_path_factory.mktemp("portable")
    references, classifiers, files = {}, {}, []
    for name in sorted(MODALITIES):
        classifier = example_classifier(name, "tiny")
        classifier.call_on_zeros()
        rng = np.random.default_rng(1)
        for layer in classifier.head.layers:  # batch-norm statistics off their initial values: inference matters
            if layer.__class__.__name__ == "BatchNormalization":
                layer.moving_mean.assign(rng.normal(size=layer.moving_mean.shape) * 0.1)
        saved_model = export_saved_model(classifier, folder / name)
        inputs = served_inputs(classifier, seed=len(files))
        np.savez(folder / f"{name}_inputs.npz", **inputs)
        signature = tf.saved_model.load(str(saved_model)).signatures[SIGNATURE_NAME]
        outputs = signature(**{key: tf.constant(value) for key, value in inputs.items()})
        references[name] = (inputs, {key: value.numpy() for key, value in outputs.items()})
        classifiers[name] = classifier
        files += [export_litert(saved_model, SIGNATURE_NAME, folder / f"{name}.tflite").name,
                  export_onnx(saved_model, SIGNATURE_NAME, folder / f"{name}.onnx").name]
    root = str(pathlib.Path(avtfuse.__file__).parents[1])
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    result = subprocess.run([sys.executable, "-c", RUNNER, str(folder), *files], capture_output=True, text=True,
                            env=environment)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    portable = {file: (dict(np.load(folder / f"{file}_outputs.npz")), dict(np.load(folder / f"{file}_first.npz")))
                for file in files}
    return {"folder": folder, "references": references, "classifiers": classifiers, "report": report,
            "portable": portable}


def test_the_runtime_imports_no_tensorflow(converted):
    assert converted["report"]["modules"] == []


@pytest.mark.parametrize("name", sorted(MODALITIES))
def test_portable_models_take_and_give_the_signature_names(converted, name):
    inputs, outputs = converted["references"][name]
    for suffix in FORMATS.values():
        report = converted["report"][f"{name}{suffix}"]
        assert report["outputs"] == ["embedding", "label", "person_embedding", "probabilities"]
        assert report["inputs"] == {key: [[None, *value.shape[1:]], "float32"] for key, value in inputs.items()}
        assert set(report["inputs"]) == {*MODALITIES[name], "present"}


@pytest.mark.parametrize("name, format_name", itertools.product(sorted(MODALITIES), sorted(FORMATS)))
def test_portable_outputs_match_the_saved_model_on_every_sensor_subset(converted, name, format_name):
    inputs, expected = converted["references"][name]
    subsets = {tuple(row) for row in inputs["present"]}
    assert len(subsets) == 2 ** len(MODALITIES[name]) - 1
    assert np.isnan(inputs["audio"]).any() and np.isfinite(expected["embedding"]).all()
    got, first = converted["portable"][f"{name}{FORMATS[format_name]}"]
    assert np.abs(unit_rows(got["embedding"]) - unit_rows(expected["embedding"])).max() <= 1e-4
    np.testing.assert_array_equal(got["label"], expected["label"])
    assert got["label"].dtype == np.int32
    np.testing.assert_allclose(got["probabilities"], expected["probabilities"], atol=1e-5)
    # A batch of one row serves as that row of the batch.
    np.testing.assert_allclose(first["probabilities"], got["probabilities"][:1], atol=1e-6)
    np.testing.assert_array_equal(first["label"], got["label"][:1])


def test_bad_arguments(converted, tmp_path):
    folder = converted["folder"]
    with pytest.raises(ValueError, match="'serving_raw' is not a signature"):
        export_litert(folder / "sa_fusion", "serving_raw", tmp_path / "m.tflite")
    with pytest.raises(ValueError, match="expected a .onnx file"):
        export_onnx(folder / "sa_fusion", SIGNATURE_NAME, tmp_path / "m.tflite")
    with pytest.raises(ValueError, match="no saved_model.pb"):
        export_onnx(tmp_path, SIGNATURE_NAME, tmp_path / "m.onnx")
    (tmp_path / "m.pb").write_bytes(b"")
    with pytest.raises(ValueError, match="expected a .tflite or .onnx file"):
        PortableModel(tmp_path / "m.pb")
    with pytest.raises(ValueError, match="no such model file"):
        PortableModel(tmp_path / "absent.onnx")
    inputs, _ = converted["references"]["sa_fusion"]
    for suffix in FORMATS.values():
        model = PortableModel(folder / f"sa_fusion{suffix}")
        with pytest.raises(ValueError, match=r"missing \['present'\], unknown \['thermal'\]"):
            model(audio=inputs["audio"], visible=inputs["visible"], thermal=inputs["visible"])
        with pytest.raises(ValueError, match="input 'audio': expected shape"):
            model(**dict(inputs, audio=inputs["audio"][:, :4]))


def test_an_op_without_a_builtin_or_onnx_form_is_named(converted, tmp_path):
    fused = converted["classifiers"]["sa_fusion"]
    noisy = export_saved_model(ContractClassifier(fused.backbone, fused.head, missing_fill="noise"), tmp_path / "noise")
    with pytest.raises(ValueError, match=r"LiteRT's builtin ops do not convert TensorFlow ops \[.*'StatelessRandomN"):
        export_litert(noisy, SIGNATURE_NAME, tmp_path / "noise.tflite")
    with pytest.raises(ValueError, match=r"tf2onnx does not convert TensorFlow ops \['StatelessRandomNormalV2'\]"):
        export_onnx(noisy, SIGNATURE_NAME, tmp_path / "noise.onnx")
    assert not (tmp_path / "noise.tflite").exists() and not (tmp_path / "noise.onnx").exists()
