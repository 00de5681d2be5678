"""An exported model's raw-input signature over media files: decode, embed under every sensor subset, score.

`Recognizer(model_dir)` loads a SavedModel written by `avtfuse.export.export_saved_model` with its "serving_raw"
signature (avtfuse.serving.raw_signature), the FeatureConfig it decodes with (features.json), its people
(labels.json), its origin (run.json) and the thresholds a gallery accepts by (calibration.json). Files are read as
the pipeline reads them (pipelines.audio, pipelines.image: every format they take, limits included) and resampled
with soxr to the model's rate before the graph; a bad file is a DataError naming it.
"""

import hashlib
import json
import pathlib

import numpy as np
import tensorflow as tf

from avtfuse.contract import LABELS_FILE, MODALITIES, condition_name, load_class_names, subsets
from avtfuse.export import CALIBRATION_FILE, FEATURES_FILE, RUN_FILE
from avtfuse.serving.raw_frames import palette_fit_limit
from avtfuse.serving.raw_signature import PALETTE_FIT, RAW_SIGNATURE_NAME
from pipelines import audio, image
from pipelines.errors import DataError
from pipelines.features import FeatureConfig

BLANK_SIDE = 2  # pixels of the blank frame sent for a missing camera (its present bit 0)


class Recognizer:
    """The raw-input serving of one exported model. `modalities`: its sensors (canonical order); `features`: its
    FeatureConfig; `class_names`: its trained people (None when absent); `calibration`: {probe subset: {"threshold",
    "target_far", "slope", "offset"}} ({} when the run had none); `identity`: what a gallery must match."""

    def __init__(self, model_dir):
        folder = pathlib.Path(model_dir)
        if not (folder / "saved_model.pb").exists():
            raise DataError(folder, "not an exported model (no saved_model.pb)")
        loaded = tf.saved_model.load(str(folder))
        if RAW_SIGNATURE_NAME not in loaded.signatures or not (folder / FEATURES_FILE).exists():
            raise DataError(folder, f"the model has no raw-input signature ({RAW_SIGNATURE_NAME}): systems reading "
                                    "frame sequences or pre-extracted features serve features only")
        self.folder, self._loaded = folder, loaded
        self._serve = loaded.signatures[RAW_SIGNATURE_NAME]
        inputs = self._serve.structured_input_signature[1]
        self.modalities = tuple(m for m in MODALITIES if m in inputs)
        self.features = FeatureConfig.from_dict(_json(folder / FEATURES_FILE))
        self.class_names = load_class_names(str(folder / LABELS_FILE)) if (folder / LABELS_FILE).exists() else None
        calibration = _json(folder / CALIBRATION_FILE) if (folder / CALIBRATION_FILE).exists() else {}
        self.calibration = calibration.get("calibration") or {}
        self.calibration_source = calibration.get("source")
        origin = _json(folder / RUN_FILE) if (folder / RUN_FILE).exists() else {}
        self.identity = {"system": origin.get("system"), "variant": origin.get("variant"),
                         "identity_sha256": origin.get("identity_sha256"), "data_sha256": origin.get("data_sha256"),
                         "weights_sha256": _weights_digest(folder)}
        self.subsets = subsets(self.modalities)

    def decode(self, files):
        """{modality: path} (any subset of the model's sensors; None or "" = absent) -> the raw inputs of one
        recording: {"audio": float32 [N] at the model's rate, "visible": uint8 [H, W, 3], "thermal": uint8
        [H, W, C]} ([T, H, W, C] for a model of T-frame sequences) for the sensors given. DataError naming the
        file when one is bad, or when `files` names a sensor the model does not read or none at all."""
        given = {m: str(path) for m, path in files.items() if path}
        unknown = sorted(set(given) - set(self.modalities))
        if unknown:
            raise DataError(given[unknown[0]], f"the model reads {', '.join(self.modalities)}, not {unknown[0]}")
        if not given:
            raise DataError("the recording", f"no file given; the model reads {', '.join(self.modalities)}")
        features, decoded = self.features, {}
        if "audio" in given:
            minimum = features.audio_offset + features.n_fft / features.sample_rate
            decoded["audio"] = audio.load_recording(given["audio"], features.sample_rate, minimum,
                                                    features.max_audio_seconds)
        for camera in ("visible", "thermal"):
            if camera in given:
                frames = image.read_frames(given[camera], features.frames, features.frame_seconds,
                                           features.max_image_pixels, features.max_video_frames)
                levels = image.to_uint8(frames if features.frames else frames[0], given[camera])
                decoded[camera] = np.repeat(levels, 3, axis=-1) if camera == "visible" and levels.shape[-1] == 1 \
                    else levels
        return decoded

    def held(self, decoded):
        """The subset name (`avtfuse.evaluation.verification.subsets`) of the sensors a decoded recording holds."""
        return condition_name([int(m in decoded) for m in self.modalities], self.modalities)

    def embed(self, decoded, files=None):
        """One decoded recording served under every non-empty subset of the sensors it holds: {"held": its subset,
        "embeddings": {subset: float32 [E] person embedding}, "probabilities": float32 [P] and "label": int of
        the whole recording}. DataError naming the thermal file (`files`) when its colours do not fit the model's
        palette (avtfuse.serving.raw_frames.palette_fit_limit: what pipelines.image.load_thermal refuses)."""
        held = self.held(decoded)
        names = [name for name, sensors in self.subsets.items() if set(sensors) <= set(decoded)]
        present = np.array([[float(m in self.subsets[name]) for m in self.modalities] for name in names], np.float32)
        outputs = self._serve(**self._batch(decoded, len(names)), present=tf.constant(present))
        outputs = {key: value.numpy() for key, value in outputs.items()}
        if PALETTE_FIT in outputs and "thermal" in decoded and decoded["thermal"].shape[-1] == 3:
            fit, limit = float(outputs[PALETTE_FIT][0]), palette_fit_limit(self.features.thermal_palette)
            if fit > limit:
                raise DataError((files or {}).get("thermal", "the thermal frame"),
                                f"colours do not match the model's {self.features.thermal_palette!r} palette: fit "
                                f"{fit:.3f} exceeds {limit:.3f}; was the frame written with another palette?")
        whole = names.index(held)
        return {"held": held, "embeddings": {name: outputs["person_embedding"][i] for i, name in enumerate(names)},
                "probabilities": outputs["probabilities"][whole], "label": int(outputs["label"][whole])}

    def _batch(self, decoded, count):
        """The raw signature's inputs (less "present"): the recording repeated `count` times, a blank stand-in for
        each sensor it lacks (its present bit 0 blanks it in the graph)."""
        inputs = {}
        if "audio" in self.modalities:
            waveform = decoded.get("audio", np.zeros(self.features.n_fft, np.float32))
            inputs["audio"] = tf.constant(np.repeat(waveform[None].astype(np.float32), count, axis=0))
            inputs["audio_length"] = tf.constant(np.full(count, len(waveform), np.int32))
        time = (self.features.frames,) if self.features.frames else ()
        for camera, channels in (("visible", 3), ("thermal", 1)):
            if camera in self.modalities:
                frame = decoded.get(camera, np.zeros((*time, BLANK_SIDE, BLANK_SIDE, channels), np.uint8))
                inputs[camera] = tf.constant(np.repeat(frame[None], count, axis=0))
        return inputs


def _json(path):
    """A JSON file beside the model; DataError naming it when unreadable."""
    try:
        return json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError) as error:
        raise DataError(path, f"cannot read: {error}") from None


def _weights_digest(folder):
    """SHA-256 (hex) of the SavedModel's variables: the exact weights a gallery's embeddings came from."""
    digest = hashlib.sha256()
    for path in sorted((folder / "variables").glob("variables.*")):
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
