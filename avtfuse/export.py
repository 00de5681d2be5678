"""End-to-end SavedModel export (phase-1 embeddings + phase-2 recogniser) with a presence-mask signature."""

import json
import pathlib

import keras
import tensorflow as tf

from avtfuse.modalities import canonical_modalities

SIGNATURE_NAME = "serving_default"
LABELS_FILE = "labels.json"


def serving_input_signature(config):
    """TensorSpecs of the serving inputs for an AVTNet config, keyed by input name.

    One entry per modality of the run (canonical order): "audio" float32
    [None, frames, n_mels], "visible" float32 [None, H, W, 3], "thermal"
    float32 [None, H, W, config.thermal_channels]; plus "present" float32 [None, M].
    """
    modalities = canonical_modalities(config.modalities)
    frames, n_mels = config.audio_shape
    height, width = config.image_size
    shapes = {
        "audio": [None, frames, n_mels],
        "visible": [None, height, width, 3],
        "thermal": [None, height, width, config.thermal_channels],
    }
    specs = {name: tf.TensorSpec(shapes[name], tf.float32, name=name) for name in modalities}
    specs["present"] = tf.TensorSpec([None, len(modalities)], tf.float32, name="present")
    return specs


def serving_outputs(embedding_model, recognizer, modalities, inputs):
    """Maps a batch of serving inputs to {"probabilities", "label", "embedding"} (see export_saved_model)."""
    present = inputs["present"]
    model_inputs = {"present": present}
    for index, name in enumerate(modalities):
        # Zero a missing sensor's tensor, as the pipelines do, whatever the client sent.
        bit = tf.reshape(present[:, index], [-1] + [1] * (inputs[name].shape.rank - 1))
        model_inputs[name] = inputs[name] * bit
    outputs = embedding_model(model_inputs, training=False)
    embedding = tf.cast(embedding_model.concatenate_embeddings(outputs), tf.float32)
    probabilities = tf.cast(recognizer(embedding, training=False), tf.float32)
    return {
        "probabilities": probabilities,
        "label": tf.argmax(probabilities, axis=-1, output_type=tf.int32),
        "embedding": embedding,
    }


def export_saved_model(embedding_model, recognizer, path, class_names=None):
    """Writes one SavedModel that runs AVTNet's embeddings and the recogniser end to end.

    embedding_model: a built `avtfuse.models.avtnet.AVTNet` (its `config` gives
    the run's modalities, `audio_shape` and `image_size`). recognizer: the built
    phase-2 keras.Model mapping the concatenated embeddings [B, 256 * k] to
    softmax probabilities [B, P]. path: the SavedModel folder (created or
    overwritten). class_names: optional P person ids, written beside the model
    as labels.json (a JSON list, index = label).

    The "serving_default" signature takes, by name, one float32 tensor per
    modality of the run ("audio" [None, frames, n_mels] log-mel dB,
    "visible" [None, H, W, 3] and "thermal" [None, H, W, C] in [0, 1], with
    C = config.thermal_channels, 1 by default) and
    "present" float32 [None, M] (1 real, 0 missing, canonical modality order).
    Every modality input must be fed; a missing sensor is served as zeros with
    its present bit 0, and the graph multiplies each modality by its present
    bit, so whatever is fed where present = 0 is treated as zeros. Outputs:
    "probabilities" float32 [None, P], "label" int32 [None] (argmax) and
    "embedding" float32 [None, 256 * k] (the concatenated embeddings the
    recogniser saw, in `embedding_model.embedding_names` order).

    The artifact needs no avtfuse code to load:
    `tf.saved_model.load(path).signatures["serving_default"]` (or `load_serving`).
    Returns the path as pathlib.Path.
    """
    for argument, model in (("embedding_model", embedding_model), ("recognizer", recognizer)):
        if not isinstance(model, keras.layers.Layer):
            raise ValueError(f"{argument}: expected a Keras model, got {type(model).__name__}")
        if not model.built:
            raise ValueError(f"{argument}: the model is not built; train or call it once before export")
    config = getattr(embedding_model, "config", None)
    if config is None or not hasattr(embedding_model, "concatenate_embeddings"):
        raise ValueError("embedding_model: expected an AVTNet (with .config and .concatenate_embeddings)")
    modalities = canonical_modalities(config.modalities)

    specs = serving_input_signature(config)

    def serve(inputs):
        return serving_outputs(embedding_model, recognizer, modalities, inputs)

    probe = {name: tf.zeros([1] + spec.shape[1:].as_list(), tf.float32) for name, spec in specs.items()}
    embedding = embedding_model.concatenate_embeddings(embedding_model(probe, training=False))
    embedding_dim = embedding.shape[-1]
    recognizer_dim = recognizer.inputs[0].shape[-1] if getattr(recognizer, "inputs", None) else embedding_dim
    if recognizer_dim != embedding_dim:
        raise ValueError(f"recognizer: takes {recognizer_dim} features but embedding_model gives {embedding_dim}")
    num_classes = recognizer(embedding, training=False).shape[-1]
    if class_names is not None:
        class_names = [str(name) for name in class_names]
        if len(class_names) != num_classes:
            raise ValueError(f"class_names: {len(class_names)} names for a recognizer with {num_classes} classes")

    archive = keras.export.ExportArchive()
    archive.track(embedding_model)
    archive.track(recognizer)
    archive.add_endpoint(SIGNATURE_NAME, serve, input_signature=[specs])
    path = pathlib.Path(path)
    archive.write_out(str(path), verbose=False)
    if class_names is not None:
        (path / LABELS_FILE).write_text(json.dumps(class_names, indent=2) + "\n")
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


def load_class_names(path):
    """Returns the person ids saved beside an exported model (labels.json), or None when absent."""
    labels_path = pathlib.Path(path) / LABELS_FILE
    if not labels_path.exists():
        return None
    return json.loads(labels_path.read_text())
