"""SavedModel export of any system's `ContractClassifier`, with the serving spec the model declares."""

import json
import pathlib

import keras
import tensorflow as tf

from avtfuse.contract import LABELS_FILE, load_class_names, save_class_names
from avtfuse.files import atomic_folder, atomic_text
from avtfuse.models.base import ContractClassifier
from avtfuse.serving.raw_signature import RAW_SIGNATURE_NAME, RawServing, raw_input_reason, raw_input_signature

SIGNATURE_NAME = "serving_default"
RUN_FILE = "run.json"  # beside an exported model: the run it came from
FEATURES_FILE = "features.json"  # beside a model with a raw-input signature: the FeatureConfig it decodes with
CALIBRATION_FILE = "calibration.json"  # beside an exported model: the thresholds a gallery accepts by


def serving_input_signature(classifier):
    """tf.TensorSpecs of the serving inputs, keyed by name, from `classifier.serving_spec()`."""
    return {name: tf.TensorSpec(list(shape), dtype, name=name)
            for name, (shape, dtype) in classifier.serving_spec().items()}


def export_saved_model(classifier, path, class_names=None, run=None, features=None, calibration=None):
    """Writes one SavedModel that runs the classifier end to end; returns the path as pathlib.Path.

    classifier: a built `ContractClassifier` (any system). path: the SavedModel
    folder (created or overwritten). class_names: optional P person ids,
    written beside the model as labels.json (`avtfuse.contract.save_class_names`).
    run: optional JSON-ready dict naming the run the model came from (its
    folder, split and identity), written beside the model as run.json.
    features: optional FeatureConfig the run's cache was decoded with: where
    the model can serve raw media (`avtfuse.serving.raw_signature`), the
    "serving_raw" signature is added and the config written as features.json.
    calibration: optional JSON-ready dict (the run's calibration stage: per
    probe subset the threshold and logistic calibration a gallery accepts by),
    written as calibration.json.

    The "serving_default" signature takes, by name, the inputs of the
    classifier's serving spec: for AVTNet one float32 tensor per modality of
    the run ("audio" [None, frames, n_mels] log-mel dB, "visible" [None, H, W, 3]
    and "thermal" [None, H, W, C] in [0, 1]) and "present" float32 [None, M]
    (1 real, 0 missing, canonical modality order). Every input must be fed; a
    missing sensor is served as zeros with its present bit 0, and the graph
    replaces each modality whose present bit is 0 by zeros (whatever was sent,
    NaN included). Outputs: "probabilities"
    float32 [None, P], "label" int32 [None] (argmax), "embedding" float32
    [None, D] (the features the head saw) and "person_embedding" float32 [None, E]
    (the vector verification and the gallery compare people by). Loading needs no avtfuse code:
    `tf.saved_model.load(path).signatures["serving_default"]` (or `load_serving`).
    """
    if not isinstance(classifier, ContractClassifier):
        raise ValueError(f"classifier: expected a ContractClassifier, got {type(classifier).__name__}")
    specs = serving_input_signature(classifier)
    num_classes = classifier.call_on_zeros().shape[-1]
    if class_names is not None and len(class_names) != num_classes:
        raise ValueError(f"class_names: {len(class_names)} names for a classifier with {num_classes} classes")

    archive = keras.export.ExportArchive()
    archive.track(classifier)
    archive.add_endpoint(SIGNATURE_NAME, classifier.serve, input_signature=[specs])
    raw = features is not None and raw_input_reason(classifier, features) is None
    if raw:
        archive.add_endpoint(RAW_SIGNATURE_NAME, RawServing(classifier, features),
                             input_signature=[raw_input_signature(classifier.modalities, features.frames)])
    path = pathlib.Path(path)
    atomic_folder(path, lambda temporary: archive.write_out(temporary, verbose=False))
    if class_names is not None:
        save_class_names(class_names, path / LABELS_FILE)
    for name, content in ((RUN_FILE, run), (FEATURES_FILE, features.to_dict() if raw else None),
                          (CALIBRATION_FILE, calibration)):
        if content is not None:
            atomic_text(path / name, json.dumps(content, indent=2) + "\n")
    return path


def load_serving(path):
    """Loads an exported SavedModel and returns its "serving_default" signature function.

    Call it with keyword tensors (e.g. `fn(audio=..., thermal=..., present=...)`);
    it returns a dict with "probabilities", "label" and "embedding".
    """
    path = pathlib.Path(path)
    if not (path / "saved_model.pb").exists():
        raise ValueError(f"{path}: not a SavedModel folder (no saved_model.pb)")
    return tf.saved_model.load(str(path)).signatures[SIGNATURE_NAME]


def exported_class_names(path):
    """The person ids saved beside an exported model (labels.json), or None when absent."""
    return load_class_names(str(pathlib.Path(path) / LABELS_FILE))
