"""Image and video-frame decoding (OpenCV) into the data contract's visible and thermal frames.

The feature cache calls these NumPy loaders once per file, in Python:
`load_visible` gives float32 [h, w, 3] and `load_thermal` float32 [h, w, 1],
both in [0, 1]. Either takes an image file (`IMAGE_SUFFIXES`) or a video file
(`pipelines.video.VIDEO_SUFFIXES`, one frame chosen by `frame`; see that
module); `frame` must be valid but is unused for an image. `check_palette`
(from pipelines.palettes) normalises a palette name when a config is built.

Images: png, jpg/jpeg, bmp, webp, tif/tiff; 8 or 16 bit (divided by 255 or
65535) or float tiff already in [0, 1]; grey or colour. A png without its
IEND chunk or a jpeg without its end marker is refused as truncated.

Limit: a frame of more than MAX_IMAGE_PIXELS = 8192 x 8192 = 67,108,864
pixels is refused, naming its size W x H. It is checked on the decoded frame;
OpenCV itself refuses images above 2**30 pixels before decoding them.

Channel rules (none is silent; a frame that fits none is refused):
  - 2 channels (grey + alpha) and 4 channels (colour + alpha): alpha dropped.
    OpenCV decodes a grey + alpha png as colour + alpha: its grey arrives as
    three equal channels, as does grey webp (webp has no grey mode).
  - visible from a grey frame: the grey is replicated to 3 channels.
  - thermal from a 1-channel frame: the frame is the heat; the palette is unused.
  - thermal from a 3-channel frame: colour-mapped, so it is inverted through
    the palette it was written with (`pipelines.palettes.invert`); a frame
    whose colours do not match that palette is refused.
  - thermal with palette "grey" from a 3-channel frame: grey stored as colour
    when its channels agree within GREY_SPREAD = 2/255 at every pixel (heat =
    their mean); otherwise refused ("colour thermal frame but
    --thermal-palette is grey; name the palette it was written with").
Frames are resized to `size` = (h, w) last: INTER_AREA when shrinking both
sides, else INTER_LINEAR.
"""

import os

import cv2
import numpy as np

from pipelines import palettes, video
from pipelines.errors import DataError, check_input_file
from pipelines.palettes import check_palette

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
MAX_IMAGE_PIXELS = 8192 * 8192
GREY_SPREAD = 2 / 255  # largest channel difference of a grey frame stored as colour

_PNG_END = b"IEND\xaeB`\x82"  # IEND chunk type and its CRC: the last 8 bytes of every complete png
_JPEG_END = b"\xff\xd9"
_INTEGER_RANGES = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def read_image(path):
    """Decodes an image file to float32 [H, W, C] in [0, 1], RGB order, C in {1, 3}.

    Raises DataError naming the file when it is missing, empty, has an
    unsupported suffix, cannot be decoded, is truncated, is larger than
    MAX_IMAGE_PIXELS, holds NaN or out-of-range floats, or has an unsupported
    dtype or channel count.
    """
    path = check_input_file(path, IMAGE_SUFFIXES, "image")
    suffix = os.path.splitext(path)[1].lower()
    encoded = np.fromfile(path, np.uint8)
    if encoded.size == 0:
        raise DataError(path, "empty image file (0 bytes)")
    tail = encoded[-16:].tobytes()
    if suffix == ".png" and not tail.endswith(_PNG_END):
        raise DataError(path, "truncated png: the IEND chunk is missing")
    if suffix in (".jpg", ".jpeg") and not tail.rstrip(b"\x00").endswith(_JPEG_END):
        raise DataError(path, "truncated jpeg: the end-of-image marker is missing")
    image = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DataError(path, "cannot decode image (corrupt or not an image)")
    _check_pixels(path, image)
    image = image.reshape(*image.shape[:2], -1)
    channels = image.shape[2]
    if channels == 2:  # grey + alpha
        image = image[:, :, :1]
    elif channels in (3, 4):  # BGR or BGRA -> RGB
        image = image[:, :, 2::-1]
    elif channels != 1:
        raise DataError(path, f"unsupported number of channels {channels}")
    return _to_unit_range(path, image)


def load_visible(path, size, frame="middle"):
    """Visible frame from an image or video file: float32 [h, w, 3] in [0, 1]."""
    height, width = _check_size(size)
    image = _read_frame(path, frame)
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return _resize(image, height, width)


def load_thermal(path, size, palette="grey", frame="middle"):
    """Thermal frame from an image or video file: heat float32 [h, w, 1] in [0, 1] (module channel rules)."""
    palette = check_palette(palette)
    height, width = _check_size(size)
    image = _read_frame(path, frame)
    if image.shape[2] == 3 and palette == "grey":
        spread = float((image.max(axis=2) - image.min(axis=2)).max())
        if spread > GREY_SPREAD + 1e-6:
            raise DataError(
                path,
                "colour thermal frame but --thermal-palette is grey; name the palette it was written with "
                f"(iron, inferno, jet, ...); its channels differ by up to {round(spread * 255)}/255",
            )
        image = image.mean(axis=2, keepdims=True)
    elif image.shape[2] == 3:
        try:
            image = palettes.invert(image, palette)
        except palettes.PaletteMismatch as error:
            raise DataError(path, str(error)) from None
    return _resize(image, height, width)


def _read_frame(path, frame):
    """float32 [H, W, C in {1, 3}] in [0, 1] from an image, or the chosen frame of a video."""
    video.check_frame(frame)
    if os.path.splitext(os.fspath(path))[1].lower() not in video.VIDEO_SUFFIXES:
        return read_image(path)
    image = video.read_video_frame(path, frame)
    _check_pixels(os.fspath(path), image)
    return image


def _check_pixels(path, image):
    """DataError naming the file and its W x H when the frame has more than MAX_IMAGE_PIXELS pixels."""
    height, width = image.shape[:2]
    if height * width > MAX_IMAGE_PIXELS:
        raise DataError(
            path, f"frame of {width} x {height} pixels exceeds the limit of {MAX_IMAGE_PIXELS:,} (MAX_IMAGE_PIXELS)"
        )


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


def _resize(image, height, width):
    """float32 [H, W, C] -> [height, width, C]; INTER_AREA when shrinking both sides, else INTER_LINEAR."""
    if image.shape[:2] == (height, width):
        return image
    shrinking = height <= image.shape[0] and width <= image.shape[1]
    resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return resized.reshape(height, width, image.shape[2])


def _check_size(size):
    """(h, w) as two positive ints; ValueError naming `size` otherwise."""
    if len(size) != 2 or any(int(side) != side or side <= 0 for side in size):
        raise ValueError(f"size must be (height, width) with two positive integers, got {size!r}")
    return int(size[0]), int(size[1])
