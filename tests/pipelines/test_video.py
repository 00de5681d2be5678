"""Tests for pipelines.video (frame choice, sampling, bad files) and image loaders on videos."""

import re

import cv2
import numpy as np
import pytest

from pipelines import image, palettes, video
from pipelines.errors import DataError

FRAMES, HEIGHT, WIDTH, FPS = 10, 24, 32, 10.0
CODECS = [(".mp4", "mp4v"), (".avi", "MJPG")]  # what this OpenCV build writes (no H.264)


def _level(number):
    """The brightness (0..255) that encodes frame `number`."""
    return 20 + 20 * number


def _write_video(path, fourcc, frames=None, colour=True):
    """Writes uint8 frames (default: frame i has green = _level(i), red 200, blue 40) at FPS."""
    if frames is None:
        frames = [np.empty((HEIGHT, WIDTH, 3), np.uint8) for _ in range(FRAMES)]
        for number, frame in enumerate(frames):
            frame[:] = (40, _level(number), 200)  # BGR
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, (WIDTH, HEIGHT), colour)
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def _numbers(frames):
    """The frame numbers encoded in the green channel of float32 [..., H, W, 3] frames."""
    green = np.asarray(frames)[..., 1].reshape(-1, HEIGHT * WIDTH).mean(axis=1) * 255
    return np.rint((green - 20) / 20).astype(int).tolist()


@pytest.fixture(params=CODECS, ids=[suffix for suffix, _ in CODECS])
def clip(request, tmp_path):
    suffix, fourcc = request.param
    return _write_video(tmp_path / f"clip{suffix}", fourcc)


@pytest.mark.parametrize("frame, number", [("middle", 4), ("first", 0), ("last", 9), (7, 7)])
def test_read_video_frame_chooses_the_frame(clip, frame, number):
    decoded = video.read_video_frame(clip, frame)
    assert decoded.shape == (HEIGHT, WIDTH, 3) and decoded.dtype == np.float32
    assert _numbers(decoded[None]) == [number]
    np.testing.assert_allclose(decoded[..., [0, 2]].mean(axis=(0, 1)), [200 / 255, 40 / 255], atol=6 / 255)  # RGB


def test_frame_index_out_of_range_names_the_count(clip):
    with pytest.raises(DataError, match="frame 10 is out of range: the video has 10 decodable frames") as caught:
        video.read_video_frame(clip, 10)
    assert clip.name in str(caught.value)


def test_truncated_video_falls_back_to_sequential_reading(tmp_path):
    path = _write_video(tmp_path / "cut.avi", "MJPG")
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.9)])  # header still says 10 frames
    capture = cv2.VideoCapture(str(path))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == FRAMES
    capture.release()
    decodable = video.read_video_frames(path)
    assert 0 < len(decodable) < FRAMES and _numbers(decodable) == list(range(len(decodable)))
    assert _numbers(video.read_video_frame(path, "last")[None]) == [len(decodable) - 1]
    with pytest.raises(DataError, match=f"the video has {len(decodable)} decodable frames"):
        video.read_video_frame(path, FRAMES - 1)


@pytest.mark.parametrize("reported, middle", [(0, 4), (5, 2), (15, 7)])
def test_wrong_frame_count_in_the_container(clip, monkeypatch, reported, middle):
    """The last frame and int indices survive a missing, low or high count; "middle" follows a count that seeks."""

    class Misreporting:
        """A cv2.VideoCapture whose CAP_PROP_FRAME_COUNT is `reported` (cv2 classes cannot be subclassed safely)."""

        def __init__(self, path, opened=cv2.VideoCapture):
            self.capture = opened(path)

        def get(self, prop):
            return float(reported) if prop == cv2.CAP_PROP_FRAME_COUNT else self.capture.get(prop)

        def __getattr__(self, name):
            return getattr(self.capture, name)

    monkeypatch.setattr(video.cv2, "VideoCapture", Misreporting)
    assert _numbers(video.read_video_frame(clip, "last")[None]) == [FRAMES - 1]
    assert _numbers(video.read_video_frame(clip, "middle")[None]) == [middle]
    assert _numbers(video.read_video_frame(clip, 8)[None]) == [8]
    with pytest.raises(DataError, match="the video has 10 decodable frames"):
        video.read_video_frame(clip, 12)


@pytest.mark.parametrize(
    "fps, max_frames, numbers",
    [
        (None, None, list(range(10))),
        (5, None, [0, 2, 4, 6, 8]),
        (3, None, [0, 3, 7]),  # nearest frame to t = 0, 1/3, 2/3 s; t = 1 s is past the last frame
        (20, 5, [0, 1, 1, 2, 2]),  # faster than the video: frames repeat
        (None, 4, [0, 1, 2, 3]),
    ],
)
def test_read_video_frames_samples_in_time_order(clip, fps, max_frames, numbers):
    frames = video.read_video_frames(clip, fps=fps, max_frames=max_frames)
    assert frames.shape == (len(numbers), HEIGHT, WIDTH, 3) and frames.dtype == np.float32
    assert _numbers(frames) == numbers


def test_loaders_take_a_video(clip):
    visible = image.load_visible(clip, (12, 16), frame="last")
    expected = video.read_video_frame(clip, "last").reshape(12, 2, 16, 2, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(visible, expected, atol=1e-6)
    with pytest.raises(DataError, match="colour thermal frame but --thermal-palette is grey") as caught:
        image.load_thermal(clip, (12, 16))
    assert clip.name in str(caught.value)


def test_thermal_from_grey_and_palette_videos(tmp_path):
    grey = [np.full((HEIGHT, WIDTH), _level(number), np.uint8) for number in range(FRAMES)]
    path = _write_video(tmp_path / "grey.avi", "MJPG", grey, colour=False)
    heat = image.load_thermal(path, (HEIGHT, WIDTH), frame="first")
    assert heat.shape == (HEIGHT, WIDTH, 1)
    np.testing.assert_allclose(heat, _level(0) / 255, atol=3 / 255)

    lut = np.round(palettes.lookup_table("inferno") * 255).astype(np.uint8)[:, ::-1]  # BGR
    ramp = np.tile(np.arange(0, 256, 8)[None, :], (HEIGHT, 1))  # 32 columns, heat 0..248
    path = _write_video(tmp_path / "inferno.mp4", "mp4v", [lut[ramp]] * 3)
    heat = image.load_thermal(path, (HEIGHT, WIDTH), palette="inferno")[:, :, 0]
    assert np.abs(heat - ramp / 255).mean() < 4 / 255
    with pytest.raises(DataError, match="do not match the 'jet' palette"):
        image.load_thermal(path, (HEIGHT, WIDTH), palette="jet")


def test_oversized_video_frame_is_refused(clip, monkeypatch):
    monkeypatch.setattr(image, "MAX_IMAGE_PIXELS", WIDTH * HEIGHT - 1)
    with pytest.raises(DataError, match=f"{WIDTH} x {HEIGHT} pixels exceeds the limit") as caught:
        image.load_visible(clip, (4, 4))
    assert clip.name in str(caught.value)


def _write_bad_video(tmp_path, kind):
    """Writes one kind of bad video file and returns its path."""
    if kind == "missing":
        return tmp_path / "missing.mp4"
    path = tmp_path / {"empty": "empty.avi", "suffix": "clip.webm", "junk": "junk.mkv", "no_frames": "wiped.avi"}[kind]
    if kind == "empty":
        path.write_bytes(b"")
    elif kind in ("suffix", "junk"):
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    else:  # a valid container whose JPEG frames are wiped: it opens, but no frame decodes
        data = _write_video(path, "MJPG").read_bytes()
        path.write_bytes(re.sub(rb"\xff\xd8[\s\S]{198}", bytes(200), data))
    return path


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("missing", "not found"),
        ("empty", "0 bytes"),
        ("suffix", "unsupported video suffix"),
        ("junk", "OpenCV cannot open the video"),
        ("no_frames", "the video has no decodable frame"),
    ],
)
def test_bad_video_files_are_refused_naming_the_file(tmp_path, kind, reason):
    path = _write_bad_video(tmp_path, kind)
    for read in (video.read_video_frame, video.read_video_frames):
        with pytest.raises(DataError, match=reason) as caught:
            read(path)
        assert path.name in str(caught.value)


def test_bad_arguments_raise_value_error(clip):
    for frame in ("centre", -1, 2.0, True):
        with pytest.raises(ValueError, match="frame must be one of"):
            video.read_video_frame(clip, frame)
    for fps in (0, -5, float("nan"), "10"):
        with pytest.raises(ValueError, match="fps must be"):
            video.read_video_frames(clip, fps=fps)
    with pytest.raises(ValueError, match="max_frames must be"):
        video.read_video_frames(clip, max_frames=0)
