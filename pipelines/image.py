"""Image and video-frame decoding (OpenCV) into the data contract's visible and thermal frames.

The feature cache calls these NumPy loaders once per file, in Python:
`load_visible` gives float32 [h, w, 3] and `load_thermal` float32 [h, w, 1],
both in [0, 1], or with frames = T > 0 a sequence [T, h, w, 3] / [T, h, w, 1].
The cache stores them as uint8 (`to_uint8`: round(255 x)) and the model reads
k / 255: exact for an 8-bit frame used at its own size, at most 0.5 / 255 off
for a resized, grey-averaged or 16-bit one. `check_palette` (from
pipelines.palettes) normalises a palette name when a config is built.

Frame sources, for frames = 0 (one frame) and frames = T > 0 (a sequence):
  - an image file (`IMAGE_SUFFIXES`): that frame; `frame` must be valid but is
    unused; a sequence repeats it T times.
  - a video file (`pipelines.video.VIDEO_SUFFIXES`): the frame chosen by
    `frame`; a sequence is T frames of the window of `seconds` centred in the
    video (`pipelines.video.read_frame_sequence`).
  - a folder of frame images (`read_image_sequence`), in natural order of their
    names ("f2" before "f10"): the image chosen by `frame` as in a video; a
    sequence is T of them by the video's index rule (the whole folder is the
    window: it states no frame rate). Every frame must have the same size.
Crop (`crop`, FRAME_CROPS): "full" keeps the whole frame; "center" keeps its
largest centred square (a stand-in for a face detector's crop). Every frame of
a sequence gets the same treatment as a single frame.

Images: png, jpg/jpeg, bmp, webp, tif/tiff; 8 or 16 bit (divided by 255 or
65535) or float tiff already in [0, 1]; grey or colour. A png without its
IEND chunk or a jpeg without its end marker is refused as truncated.

Limits (FeatureConfig.max_image_pixels and max_video_frames; the loaders'
`max_pixels` and `max_video_frames`): a frame of more than `max_pixels`
(default MAX_IMAGE_PIXELS = 8192 x 8192 = 67,108,864) pixels is refused,
naming its size W x H, and so is a video whose container states more than
`max_video_frames` frames. Both are read from the header before anything is
decoded: an image's size by pipelines.image_header (PNG, JPEG, BMP, WebP,
TIFF; for a header it cannot read, the decoded frame is checked), a video's
by OpenCV (CAP_PROP_FRAME_WIDTH, _HEIGHT and _COUNT; pipelines.video).

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
Frames are cropped, then resized to `size` = (h, w) last: INTER_AREA when
shrinking both sides, else INTER_LINEAR.
"""

import math
import numbers
import os
import re

import cv2
import numpy as np

from pipelines import palettes, video
from pipelines.image_header import image_dimensions
from pipelines.errors import DataError, check_input_file
from pipelines.palettes import check_palette

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
FRAME_CROPS = ("full", "center")
MAX_IMAGE_PIXELS = 8192 * 8192
GREY_SPREAD = 2 / 255  # largest channel difference of a grey frame stored as colour

_PNG_END = b"IEND\xaeB`\x82"  # IEND chunk type and its CRC: the last 8 bytes of every complete png
_JPEG_END = b"\xff\xd9"
UINT8_MAX = 255.0  # the feature cache's frame levels: k in 0..255 stands for k / UINT8_MAX
_INTEGER_RANGES = {np.dtype(np.uint8): UINT8_MAX, np.dtype(np.uint16): 65535.0}


def read_image(path, max_pixels=MAX_IMAGE_PIXELS):
    """Decodes an image file to float32 [H, W, C] in [0, 1], RGB order, C in {1, 3}.

    Raises DataError naming the file when it is missing, empty, has an
    unsupported suffix, cannot be decoded, is truncated, has more than
    `max_pixels` pixels (read from its header before decoding where
    pipelines.image_header can), holds NaN or out-of-range floats, or has an
    unsupported dtype or channel count.
    """
    path = check_input_file(path, IMAGE_SUFFIXES, "image")
    stated = image_dimensions(path)
    if stated is not None:
        _check_pixels(path, *stated, max_pixels)
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
    _check_pixels(path, image.shape[1], image.shape[0], max_pixels)
    image = image.reshape(*image.shape[:2], -1)
    channels = image.shape[2]
    if channels == 2:  # grey + alpha
        image = image[:, :, :1]
    elif channels in (3, 4):  # BGR or BGRA -> RGB
        image = image[:, :, 2::-1]
    elif channels != 1:
        raise DataError(path, f"unsupported number of channels {channels}")
    return _to_unit_range(path, image)


def read_image_sequence(folder, count, max_pixels=MAX_IMAGE_PIXELS):
    """`count` frame images of a folder by pipelines.video.sample_indices over all of them (module rules):
    float32 [count, H, W, C] in [0, 1]. DataError naming the folder or the image when one is bad."""
    paths = _frame_images(folder)
    indices = video.sample_indices(len(paths), count)
    decoded = {index: read_image(paths[index], max_pixels) for index in sorted(set(indices))}
    return _stack(folder, [decoded[index] for index in indices], [paths[index] for index in indices])


def load_visible(path, size, frame="middle", frames=0, seconds=3.6, crop="full", max_pixels=MAX_IMAGE_PIXELS,
                 max_video_frames=None, corrupt=None):
    """Visible frame of an image, video or frame folder: float32 [h, w, 3] in [0, 1]; with frames = T > 0 the
    sequence [T, h, w, 3] from the window of `seconds` (module rules, limits included; max_video_frames None: no
    limit). `corrupt`: None, or a function of the decoded frames float32 [T, H, W, C] at their own size (before
    the crop and resize) returning the same shape (a corrupted cache: pipelines.corruptions.features)."""
    height, width = _check_size(size)
    images = _read_frames(path, frame, frames, seconds, crop, max_pixels, max_video_frames, corrupt)
    if images.shape[3] == 1:
        images = np.repeat(images, 3, axis=3)
    return _resize_all(images, height, width, frames)


def load_thermal(path, size, palette="grey", frame="middle", frames=0, seconds=3.6, crop="full",
                 max_pixels=MAX_IMAGE_PIXELS, max_video_frames=None, corrupt=None):
    """Thermal frame of an image, video or frame folder: heat float32 [h, w, 1] in [0, 1] (module channel
    rules); with frames = T > 0 the sequence [T, h, w, 1] from the window of `seconds` (limits and `corrupt` as
    load_visible; the frames reach `corrupt` as decoded, colour-mapped ones before the palette's inversion)."""
    palette = check_palette(palette)
    height, width = _check_size(size)
    images = _read_frames(path, frame, frames, seconds, crop, max_pixels, max_video_frames, corrupt)
    if images.shape[3] == 3 and palette == "grey":
        spread = float((images.max(axis=3) - images.min(axis=3)).max())
        if spread > GREY_SPREAD + 1e-6:
            raise DataError(
                path,
                "colour thermal frame but --thermal-palette is grey; name the palette it was written with "
                f"(iron, inferno, jet, ...); its channels differ by up to {round(spread * 255)}/255",
            )
        images = images.mean(axis=3, keepdims=True)
    elif images.shape[3] == 3:
        try:  # invert works per pixel: the frames go through it as one tall image
            images = palettes.invert(images.reshape(-1, *images.shape[2:]), palette).reshape(*images.shape[:3], 1)
        except palettes.PaletteMismatch as error:
            raise DataError(path, str(error)) from None
    return _resize_all(images, height, width, frames)


def read_frame(path, frame="middle", max_pixels=MAX_IMAGE_PIXELS, max_video_frames=None):
    """The frame `frame` of an image, video or frame folder, uncropped and at its own size (module frame sources
    and limits): float32 [H, W, C in {1, 3}] in [0, 1]. DataError naming the file when it is bad."""
    video.check_frame(frame)
    return _decode_frames(os.fspath(path), frame, 0, None, max_pixels, max_video_frames)[0]


def read_frames(path, frames=0, seconds=3.6, max_pixels=MAX_IMAGE_PIXELS, max_video_frames=None):
    """The frames the loaders crop and resize, uncropped and at their own size (module frame sources and limits):
    float32 [1, H, W, C in {1, 3}] in [0, 1], the middle frame, for frames = 0; [T, H, W, C] for frames = T > 0
    (a still image repeated T times). DataError naming the file when it is bad."""
    images = _read_frames(path, "middle", frames, seconds, "full", max_pixels, max_video_frames)
    return np.repeat(images, frames, axis=0) if frames and len(images) == 1 else images


def to_uint8(frames, name="frames"):
    """float frames in [0, 1] (any shape) -> uint8 round(255 x), the feature cache's storage.

    Read back as k / 255 (float32), a frame comes back exactly when it was an
    8-bit frame at its own size (x = k / 255); a resized (INTER_AREA,
    INTER_LINEAR), grey-averaged or 16-bit frame moves to the nearest multiple
    of 1/255, at most 0.5 / 255 = 0.00196 away. ValueError naming `name` for
    NaN or values more than half a level outside [0, 1].
    """
    values = np.asarray(frames, np.float32)
    half_level = 0.5 / UINT8_MAX
    if values.size and not (np.isfinite(values).all() and -half_level <= values.min()
                            and values.max() <= 1.0 + half_level):
        raise ValueError(f"{name}: expected frame values in [0, 1], got {values.min()} .. {values.max()}")
    return np.clip(np.rint(values * UINT8_MAX), 0, UINT8_MAX).astype(np.uint8)


def _read_frames(path, frame, frames, seconds, crop, max_pixels, max_video_frames, corrupt=None):
    """Cropped float32 [T, H, W, C in {1, 3}] in [0, 1] from an image, a video or a frame folder (module frame
    sources and crops): T = frames, or 1 for a single frame (frames = 0) or an image; decoded frames go through
    `corrupt` (when given) before the crop."""
    video.check_frame(frame)
    if isinstance(frames, bool) or not isinstance(frames, numbers.Integral) or frames < 0:
        raise ValueError(f"frames must be an int >= 0, got {frames!r}")
    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real) or not 0 < seconds < math.inf:
        raise ValueError(f"seconds must be a positive number, got {seconds!r}")
    if crop not in FRAME_CROPS:
        raise ValueError(f"crop must be one of {FRAME_CROPS}, got {crop!r}")
    images = _decode_frames(os.fspath(path), frame, int(frames), seconds, max_pixels, max_video_frames)
    if corrupt is not None:
        images = corrupt(images)
    if crop == "center":
        side = min(images.shape[1:3])
        top, left = (images.shape[1] - side) // 2, (images.shape[2] - side) // 2
        images = images[:, top:top + side, left:left + side]
    return images


def _decode_frames(path, frame, frames, seconds, max_pixels, max_video_frames):
    """The frames of `path` as _read_frames gives them, uncropped."""
    if os.path.isdir(path):
        if frames:
            return read_image_sequence(path, frames, max_pixels)
        paths = _frame_images(path)
        index = video.frame_index(frame, len(paths))
        if index >= len(paths):
            raise DataError(path, f"frame {index} is out of range: the folder has {len(paths)} frame images")
        return read_image(paths[index], max_pixels)[np.newaxis]
    if os.path.splitext(path)[1].lower() not in video.VIDEO_SUFFIXES:
        return read_image(path, max_pixels)[np.newaxis]
    width, height, count = video.stated_size(path)
    _check_pixels(path, width, height, max_pixels)
    if max_video_frames is not None and count > max_video_frames:
        raise DataError(path, f"video of {count:,} frames exceeds the limit of {max_video_frames:,} "
                              "(--max-video-frames)")
    if frames:
        images = video.read_frame_sequence(path, frames, seconds)
    else:
        images = video.read_video_frame(path, frame)[np.newaxis]
    _check_pixels(path, images.shape[2], images.shape[1], max_pixels)
    return images


def _frame_images(folder):
    """The image files of a folder (IMAGE_SUFFIXES) in natural order of their names; DataError when none."""
    names = [name for name in os.listdir(folder) if os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES]
    if not names:
        raise DataError(folder, f"folder holds no frame image ({', '.join(IMAGE_SUFFIXES)})")
    return [os.path.join(folder, name) for name in sorted(names, key=_natural_order)]


def _natural_order(name):
    """Sort key: digit runs compare as numbers ("f2" before "f10"), the rest without case."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _stack(folder, images, paths):
    """The frames as one float32 [T, H, W, C]; DataError naming the first image whose size or channels differ."""
    for image, path in zip(images, paths):
        if image.shape != images[0].shape:
            raise DataError(path, f"frame of shape {list(image.shape)} in {folder}, whose first frame is "
                                  f"{list(images[0].shape)}: every frame of a folder must have one size")
    return np.stack(images)


def _resize_all(images, height, width, frames):
    """[T, H, W, C] -> [frames, height, width, C] (a single frame repeated to fill the sequence), or
    [height, width, C] when frames = 0."""
    resized = np.stack([_resize(image, height, width) for image in images])
    return resized[0] if frames == 0 else np.broadcast_to(resized, (frames, *resized.shape[1:])).copy()


def _check_pixels(path, width, height, max_pixels):
    """DataError naming the file and its W x H when a frame of that size has more than `max_pixels` pixels."""
    if width * height > max_pixels:
        raise DataError(
            path, f"frame of {width} x {height} pixels exceeds the limit of {max_pixels:,} (--max-image-pixels)"
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
