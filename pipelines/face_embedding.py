"""dlib's 128-d face embedding of a visible frame: an optional extractor for the cache-building step.

`FaceEmbedder()(frame)` maps one full-resolution RGB frame [H, W, 3] (uint8, or float in [0, 1] as
pipelines.image loads it) to float32 [128], dlib's descriptor as it comes (not unit length: norms near 1.6;
the same person lies within about 0.6 Euclidean distance), or None when the detector finds no face: the
caller then treats the visible sensor as absent for that recording and counts it. Steps: dlib's HOG frontal
face detector (the largest face wins), the 5-point landmark predictor, and the ResNet descriptor of the
aligned 150 x 150 chip (`compute_face_descriptor`). The models run in dlib, outside any Keras model or SavedModel.

Needs the optional `faces` extra (`pip install -e '.[faces]'`: dlib-bin and face_recognition_models, whose
wheel ships the model files, so nothing downloads at run time). The files are found through the package's
import spec (`importlib.util.find_spec`), without importing it: its `__init__` imports pkg_resources.
The 68-point predictor in the same package is licensed for non-commercial use only and is never loaded.
"""

import importlib
import importlib.util
import threading
from pathlib import Path

import numpy as np

from pipelines.image import to_uint8

EMBEDDING_SIZE = 128
INSTALL_HINT = "pip install -e '.[faces]'"
MODEL_PACKAGE = "face_recognition_models"
PREDICTOR_FILE = "shape_predictor_5_face_landmarks.dat"
DESCRIPTOR_FILE = "dlib_face_recognition_resnet_model_v1.dat"


def model_files():
    """(5-point landmark predictor path, ResNet descriptor path) inside the installed face_recognition_models."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"face embedding needs the {MODEL_PACKAGE} package: {INSTALL_HINT}")
    folder = Path(list(spec.submodule_search_locations)[0]) / "models"
    paths = (folder / PREDICTOR_FILE, folder / DESCRIPTOR_FILE)
    for path in paths:
        if not path.is_file():
            raise ImportError(f"face embedding: {path} is missing from {MODEL_PACKAGE}; reinstall: {INSTALL_HINT}")
    return paths


def _import_dlib():
    try:
        return importlib.import_module("dlib")
    except ImportError as error:
        raise ImportError(f"face embedding needs dlib: {INSTALL_HINT}") from error


def _to_uint8_rgb(frame):
    """uint8 [H, W, 3] C-contiguous from an RGB frame, uint8 or float in [0, 1] (pipelines.image.to_uint8's
    rule); ValueError naming `frame`."""
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[-1] != 3 or min(frame.shape[:2]) == 0:
        raise ValueError(f"frame: expected an RGB frame [H, W, 3], got shape {frame.shape}")
    if frame.dtype == np.uint8:
        return np.ascontiguousarray(frame)
    if not np.issubdtype(frame.dtype, np.floating):
        raise ValueError(f"frame: expected uint8 or float in [0, 1], got dtype {frame.dtype}")
    return np.ascontiguousarray(to_uint8(frame, "frame"))


class FaceEmbedder:
    """Callable: RGB frame [H, W, 3] -> float32 [128] face embedding, or None where no face is found.

    upsample: times the detector doubles the frame before searching (HOG finds faces of about 80 x 80 pixels
    and up; each doubling halves that and costs about 4 x the time). padding: context around the aligned chip,
    as a fraction of the face (dlib's default 0.25). Loads dlib and the model files on construction.
    """

    def __init__(self, upsample=1, padding=0.25):
        if isinstance(upsample, bool) or not isinstance(upsample, int) or upsample < 0:
            raise ValueError(f"upsample: expected an integer >= 0, got {upsample!r}")
        if not 0 <= padding <= 1:
            raise ValueError(f"padding: expected a fraction in [0, 1], got {padding!r}")
        dlib = _import_dlib()
        predictor, descriptor = model_files()
        self.upsample = upsample
        self.padding = float(padding)
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(predictor))
        self._descriptor = dlib.face_recognition_model_v1(str(descriptor))

    def face_box(self, frame):
        """(left, top, right, bottom) pixels of the largest detected face in `frame`, or None."""
        face = self._largest_face(_to_uint8_rgb(frame))
        return None if face is None else (face.left(), face.top(), face.right(), face.bottom())

    def __call__(self, frame):
        image = _to_uint8_rgb(frame)
        face = self._largest_face(image)
        if face is None:
            return None
        shape = self._predictor(image, face)
        vector = self._descriptor.compute_face_descriptor(image, shape, 0, self.padding)
        return np.asarray(vector, dtype=np.float32)

    def _largest_face(self, image):
        faces = self._detector(image, self.upsample)
        return max(faces, key=lambda box: box.area()) if faces else None


_SHARED = []  # the process's one FaceEmbedder, made on first use (loading the models takes about a second)
_LOCK = threading.Lock()  # dlib's models are called from one thread at a time (the cache decodes in threads)


def embed_face(frame):
    """`FaceEmbedder()(frame)` with the process's shared embedder (default settings), one call at a time."""
    with _LOCK:
        if not _SHARED:
            _SHARED.append(FaceEmbedder())
        return _SHARED[0](frame)


def dlib_version():
    """The installed dlib's version (part of a face-embedding cache's key)."""
    return _import_dlib().__version__
