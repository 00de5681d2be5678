"""Video decoding (OpenCV VideoCapture): one chosen frame, a frame sequence, or frames sampled at a rate.

Frames are float32 RGB in [0, 1] (8-bit frames divided by 255, 16-bit ones by
65535), [H, W, 3], or [H, W, 1] when the decoder hands back grey frames.
OpenCV converts most videos to colour, so a grey video usually comes back as
three equal channels. Which codecs open depends on OpenCV's FFmpeg build: the
opencv-python wheels read and write mp4v (.mp4, .mov) and MJPG (.avi, .mkv),
and cannot write H.264.

Frame choice (`frame`): "first" is frame 0, "middle" frame (count - 1) // 2,
"last" frame count - 1, an int that frame index. The count is first taken
from the container (CAP_PROP_FRAME_COUNT) and the frame reached by seeking.
That header value can be missing or wrong (truncated files, some
containers), so when the seek or the read fails, when "last" turns out to
have a successor, or when an int index lies beyond the reported count, the
video is read sequentially instead: its decodable frames are counted, then
the chosen one is decoded. (A wrong count that still seeks moves "middle".)

Frame sequence (`read_frame_sequence`, SA-fusion's sampling): `count` frames
from the window of `seconds` centred in the video, n = round(seconds * fps)
frames long (the whole video when shorter, or when it states no frame rate);
frame i is start + i*n//count + n//(2*count) (`sample_indices`): for n = 108,
count = 15: 3, 10, 17, ..., 103. A video of fewer than `count` frames repeats
frames (i*n//count), so `count` frames always come back. The count comes from
the container; a video that ends early is sampled again over the frames it
holds.

Every bad input raises DataError naming the file: missing, 0 bytes,
unsupported suffix, not openable, no decodable frame, index out of range.
The limits on frame size and frame count are applied by pipelines.image's
loaders, from `stated_size` (the container's header) before any frame is
decoded, and again on the decoded frame.
"""

import contextlib
import math
import numbers
import os

import cv2
import numpy as np

from pipelines.errors import DataError, check_input_file

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
FRAME_CHOICES = ("middle", "first", "last")
_INTEGER_RANGES = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def check_frame(frame):
    """`frame` when it is one of FRAME_CHOICES or an int >= 0; ValueError otherwise."""
    if not (_is_number(frame, integral=True) and frame >= 0) and frame not in FRAME_CHOICES:
        raise ValueError(f"frame must be one of {FRAME_CHOICES} or a frame index >= 0, got {frame!r}")
    return frame


def read_video_frame(path, frame="middle"):
    """One frame of a video file: float32 [H, W, C] RGB in [0, 1], C in {1, 3} (see the module rules)."""
    check_frame(frame)
    path = _check_video_file(path)
    with _opened(path) as capture:
        count = _stated_count(capture)
        if count > 0 and frame_index(frame, count) < count:
            image = _seek(capture, frame_index(frame, count), must_be_last=frame == "last")
            if image is not None:
                return _to_rgb(path, image)
    count = _decodable_count(path)
    index = frame_index(frame, count)
    if index >= count:
        raise DataError(path, f"frame {index} is out of range: the video has {count} decodable frames")
    with _opened(path) as capture:
        for _ in range(index):
            capture.grab()
        ok, image = capture.read()
    if not ok:
        raise DataError(path, f"cannot decode frame {index}")
    return _to_rgb(path, image)


def read_video_frames(path, fps=None, max_frames=None):
    """Frames of a video file: float32 [T, H, W, C] RGB in [0, 1], in time order.

    fps=None gives every frame; otherwise sample k (k = 0, 1, ...) is the
    frame nearest to time k / fps, i.e. frame round(k * native_fps / fps)
    (halves round up), for as long as that frame exists; a frame repeats when
    fps exceeds the video's own rate. At most `max_frames` frames are kept.
    DataError naming the file when it is bad, has no decodable frame, or
    (with fps) does not state its frame rate; ValueError for bad arguments.
    """
    if fps is not None and not (_is_number(fps) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number or None, got {fps!r}")
    if max_frames is not None and not (_is_number(max_frames, integral=True) and max_frames > 0):
        raise ValueError(f"max_frames must be a positive int or None, got {max_frames!r}")
    path = _check_video_file(path)
    frames = []
    with _opened(path) as capture:
        native_fps = capture.get(cv2.CAP_PROP_FPS)
        if fps is not None and not (math.isfinite(native_fps) and native_fps > 0):
            raise DataError(path, f"the video states no frame rate ({native_fps}), so it cannot be sampled at fps")
        sample, index = 0, 0
        while (max_frames is None or len(frames) < max_frames) and capture.grab():
            repeats = 1
            if fps is not None:
                repeats = 0
                while math.floor(sample * native_fps / fps + 0.5) == index:
                    repeats, sample = repeats + 1, sample + 1
            if repeats:
                ok, image = capture.retrieve()
                if not ok:
                    raise DataError(path, f"cannot decode frame {index}")
                frames.extend([_to_rgb(path, image)] * repeats)
            index += 1
    if not frames:
        raise DataError(path, "the video has no decodable frame")
    return np.stack(frames[:max_frames])


def read_frame_sequence(path, count, seconds):
    """`count` frames sampled from the window of `seconds` centred in a video file (module rules):
    float32 [count, H, W, C] RGB in [0, 1], C in {1, 3}.

    Frames are read in order with grab, and only the chosen ones decoded.
    DataError naming the file when it is bad or has no decodable frame;
    ValueError for bad arguments.
    """
    if not (_is_number(count, integral=True) and count > 0):
        raise ValueError(f"count must be a positive int, got {count!r}")
    if not (_is_number(seconds) and math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"seconds must be a positive number, got {seconds!r}")
    path = _check_video_file(path)
    with _opened(path) as capture:
        total, fps = _stated_count(capture), capture.get(cv2.CAP_PROP_FPS)
    frames, decodable = _read_window(path, total or _decodable_count(path), fps, count, seconds)
    if frames is None:  # the container promised frames that do not decode
        if decodable == 0:
            raise DataError(path, "the video has no decodable frame")
        frames, _ = _read_window(path, decodable, fps, count, seconds)
    return np.stack(frames)


def stated_size(path):
    """(width, height, frame count) as a video's container states them (0 where it states none), read without
    decoding a frame; DataError naming the file when it is bad or cannot be opened."""
    path = _check_video_file(path)
    with _opened(path) as capture:
        width, height = (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        count = _stated_count(capture)
    return (*(int(side) if math.isfinite(side) and side > 0 else 0 for side in (width, height)), count)


def sample_indices(n, count, start=0):
    """SA-fusion's `count` frame indices over the n frames from `start`: start + i*n//count + n//(2*count)
    (frames repeat when n < count)."""
    return [start + i * n // count + n // (2 * count) for i in range(count)]


def frame_index(frame, count):
    """The frame index that `frame` (check_frame) names among `count` frames."""
    return {"first": 0, "middle": (count - 1) // 2, "last": count - 1}.get(frame, frame)


def _read_window(path, total, fps, count, seconds):
    """(frames, None): the `count` frames of the sequence (a list of [H, W, C]) in a video of `total` frames, or
    (None, decodable) when the video ends after `decodable` frames, before the last frame wanted."""
    window = min(total, max(1, round(seconds * fps))) if math.isfinite(fps) and fps > 0 else total
    indices = sample_indices(window, count, start=(total - window) // 2)
    wanted, decoded = set(indices), {}
    with _opened(path) as capture:
        for index in range(indices[-1] + 1):
            if not capture.grab():
                return None, index
            if index in wanted:
                ok, image = capture.retrieve()
                if not ok:
                    raise DataError(path, f"cannot decode frame {index}")
                decoded[index] = _to_rgb(path, image)
    return [decoded[index] for index in indices], None


def _is_number(value, integral=False):
    """True for an int (or, unless integral, a real number) that is not a bool."""
    kind = numbers.Integral if integral else numbers.Real
    return isinstance(value, kind) and not isinstance(value, bool)


def _check_video_file(path):
    """`path` as a str; DataError naming it when missing, of another suffix, or empty."""
    path = check_input_file(path, VIDEO_SUFFIXES, "video")
    if os.path.getsize(path) == 0:
        raise DataError(path, "empty video file (0 bytes)")
    return path


@contextlib.contextmanager
def _opened(path):
    """An open cv2.VideoCapture on `path`, released on exit; DataError when OpenCV cannot open it."""
    capture = cv2.VideoCapture(path)
    try:
        if not capture.isOpened():
            raise DataError(path, "OpenCV cannot open the video (corrupt file or unsupported codec)")
        yield capture
    finally:
        capture.release()


def _stated_count(capture):
    """The frame count the container states, 0 when it states none."""
    count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    return max(0, int(count)) if math.isfinite(count) else 0


def _decodable_count(path):
    """The number of frames of the video that decode (read through with grab); DataError when none does."""
    count = 0
    with _opened(path) as capture:
        while capture.grab():
            count += 1
    if count == 0:
        raise DataError(path, "the video has no decodable frame")
    return count


def _seek(capture, index, must_be_last):
    """The decoded BGR frame at `index` by seeking, or None when the seek cannot be trusted."""
    if not capture.set(cv2.CAP_PROP_POS_FRAMES, index):
        return None
    ok, image = capture.read()
    if not ok or capture.get(cv2.CAP_PROP_POS_FRAMES) != index + 1:
        return None
    if must_be_last and capture.grab():
        return None
    return image


def _to_rgb(path, image):
    """A decoded BGR (or grey) frame -> float32 [H, W, C] RGB in [0, 1], C in {1, 3}."""
    if image.dtype not in _INTEGER_RANGES:
        raise DataError(path, f"unsupported video frame dtype {image.dtype}; expected uint8 or uint16")
    image = image.reshape(*image.shape[:2], -1)
    if image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    elif image.shape[2] != 1:
        raise DataError(path, f"unsupported number of channels {image.shape[2]} in a video frame")
    return image.astype(np.float32) / _INTEGER_RANGES[image.dtype]
