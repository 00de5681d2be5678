"""Image decoding (OpenCV) and the visible / thermal frame features.

`read_image` validates and decodes png, jpg and tiff files of 8 or 16 bits;
`to_visible` and `to_thermal` turn a decoded image into the data contract's
float32 [h, w, 3] and [h, w, 1] frames in [0, 1]; the `tf_load_*` wrappers
run them inside `tf.data.Dataset.map`.
"""

import functools
import os

import cv2
import numpy as np
import tensorflow as tf
from scipy.spatial import cKDTree

from pipelines.errors import DataError, check_input_file

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")

_PNG_END = b"IEND\xaeB`\x82"  # IEND chunk type and its CRC: the last 8 bytes of every complete png
_JPEG_END = b"\xff\xd9"
_INTEGER_RANGES = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}
_LUMINANCE_WEIGHTS = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601, R G B


def read_image(path):
    """Decodes an image file to float32 [H, W, C] in [0, 1], RGB order, C in {1, 3}.

    8-bit images are divided by 255, 16-bit ones by 65535; float tiffs must
    already lie in [0, 1]. Alpha is dropped. Raises DataError naming the file
    when it is missing, has an unsupported suffix, cannot be decoded, is
    truncated (png without its IEND chunk, jpeg without its end marker), holds
    NaN or out-of-range floats, or has an unsupported dtype or channel count.
    """
    path = check_input_file(path, IMAGE_SUFFIXES, "image")
    suffix = os.path.splitext(path)[1].lower()
    encoded = np.fromfile(path, np.uint8)
    tail = encoded[-16:].tobytes()
    if suffix == ".png" and not tail.endswith(_PNG_END):
        raise DataError(path, "truncated png: the IEND chunk is missing")
    if suffix in (".jpg", ".jpeg") and not tail.rstrip(b"\x00").endswith(_JPEG_END):
        raise DataError(path, "truncated jpeg: the end-of-image marker is missing")
    image = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED) if encoded.size else None
    if image is None:
        raise DataError(path, "cannot decode image (corrupt or not an image)")
    if image.ndim == 2:
        image = image[:, :, np.newaxis]
    channels = image.shape[2]
    if channels == 2:  # gray + alpha
        image = image[:, :, :1]
    elif channels == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    elif channels == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    elif channels != 1:
        raise DataError(path, f"unsupported number of channels {channels}")
    return _to_unit_range(path, image)


def _to_unit_range(path, image):
    """Integer or float image -> float32 in [0, 1]; DataError for other dtypes or bad floats."""
    if image.dtype in _INTEGER_RANGES:
        return image.astype(np.float32) / _INTEGER_RANGES[image.dtype]
    if image.dtype.kind != "f":
        raise DataError(path, f"unsupported image dtype {image.dtype}; expected uint8, uint16 or float")
    image = image.astype(np.float32)
    if not np.isfinite(image).all():
        raise DataError(path, "image holds NaN or infinite values")
    if image.min() < 0.0 or image.max() > 1.0:
        raise DataError(path, "float image values must lie in [0, 1]")
    return image


def _resize(image, size):
    """float32 [H, W, C] -> [h, w, C]; INTER_AREA when shrinking both sides, else INTER_LINEAR."""
    height, width = _check_size(size)
    if image.shape[:2] == (height, width):
        return image
    shrinking = height <= image.shape[0] and width <= image.shape[1]
    resized = cv2.resize(
        image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    )
    return resized.reshape(height, width, image.shape[2])


def _check_size(size):
    """(h, w) as two positive ints; ValueError naming `size` otherwise."""
    if len(size) != 2 or any(int(side) != side or side <= 0 for side in size):
        raise ValueError(f"size must be (height, width) with two positive integers, got {size!r}")
    return int(size[0]), int(size[1])


def to_visible(image, size):
    """float32 [H, W, C in {1, 3}] in [0, 1] -> float32 [h, w, 3]; gray is replicated to 3 channels."""
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return _resize(image, size)


@functools.lru_cache(maxsize=None)
def _palette_index(palette):
    """Nearest-colour search tree over the 256 RGB colours (in [0, 1]) of cv2.COLORMAP_<PALETTE>."""
    colormap = getattr(cv2, f"COLORMAP_{palette.upper()}", None)
    if colormap is None:
        raise ValueError(
            f"palette must be 'gray' or an OpenCV colormap name such as 'inferno', got {palette!r}"
        )
    ramp = np.arange(256, dtype=np.uint8).reshape(256, 1)
    lut_bgr = cv2.applyColorMap(ramp, colormap).reshape(256, 3)
    return cKDTree(lut_bgr[:, ::-1].astype(np.float32) / 255.0)


def to_thermal(image, size, palette="gray"):
    """float32 [H, W, C in {1, 3}] in [0, 1] -> thermal intensity float32 [h, w, 1] in [0, 1].

    A 1-channel image is the intensity. A 3-channel (colour-mapped) image is
    turned back into intensity: palette="gray" takes its BT.601 luminance;
    an OpenCV colormap name ("inferno", "jet", "hot", ...) inverts that
    palette, mapping each pixel to the nearest of the map's 256 colours
    (intensity = index / 255). Resizing happens after the inversion.
    """
    if image.shape[2] == 1:
        intensity = image
    elif palette == "gray":
        intensity = (image @ _LUMINANCE_WEIGHTS)[:, :, np.newaxis]
    else:
        _, index = _palette_index(palette).query(image.reshape(-1, 3))
        intensity = (index.astype(np.float32) / 255.0).reshape(*image.shape[:2], 1)
    return _resize(intensity.astype(np.float32), size)


def load_visible(path, size):
    """Visible frame from an image file: float32 [h, w, 3] in [0, 1]."""
    return to_visible(read_image(path), size)


def load_thermal(path, size, palette="gray"):
    """Thermal frame from an image file: float32 [h, w, 1] in [0, 1] (see to_thermal)."""
    return to_thermal(read_image(path), size, palette)


def _load_from_bytes(load, path, **kwargs):
    """Calls load on a path that tf.numpy_function hands over as bytes."""
    return load(os.fsdecode(path), **kwargs)


def _tf_load(load, path, size, channels, **kwargs):
    """Runs a NumPy loader inside the graph; float32 [h, w, channels] with the static shape set."""
    height, width = _check_size(size)
    frame = tf.numpy_function(
        functools.partial(_load_from_bytes, load, size=(height, width), **kwargs),
        [path],
        tf.float32,
        stateful=False,
    )
    return tf.ensure_shape(frame, [height, width, channels])


def tf_load_visible(path, size):
    """load_visible for tf.data: scalar tf.string path -> float32 [h, w, 3]."""
    return _tf_load(load_visible, path, size, 3)


def tf_load_thermal(path, size, palette="gray"):
    """load_thermal for tf.data: scalar tf.string path -> float32 [h, w, 1]."""
    if palette != "gray":
        _palette_index(palette)  # a bad palette fails here, not inside the graph
    return _tf_load(load_thermal, path, size, 1, palette=palette)
