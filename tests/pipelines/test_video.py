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


def _misreport(monkeypatch, **stated):
    """Makes cv2.VideoCapture state other properties (e.g. CAP_PROP_FPS=0.0) and count its retrieve calls;
    returns the list of retrieved frame counts, one entry per call (cv2 classes cannot be subclassed safely)."""
    props = {getattr(cv2, name): value for name, value in stated.items()}
    retrieved = []

    class Misreporting:
        def __init__(self, path, opened=cv2.VideoCapture):
            self.capture = opened(path)

        def get(self, prop):
            return float(props[prop]) if prop in props else self.capture.get(prop)

        def retrieve(self):
            retrieved.append(1)
            return self.capture.retrieve()

        def __getattr__(self, name):
            return getattr(self.capture, name)

    monkeypatch.setattr(video.cv2, "VideoCapture", Misreporting)
    return retrieved


@pytest.mark.parametrize("reported, middle", [(0, 4), (5, 2), (15, 7)])
def test_wrong_frame_count_in_the_container(clip, monkeypatch, reported, middle):
    """The last frame and int indices survive a missing, low or high count; "middle" follows a count that seeks."""
    _misreport(monkeypatch, CAP_PROP_FRAME_COUNT=reported)
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


def test_oversized_video_frame_is_refused(clip):
    with pytest.raises(DataError, match=f"{WIDTH} x {HEIGHT} pixels exceeds the limit") as caught:
        image.load_visible(clip, (4, 4), max_pixels=WIDTH * HEIGHT - 1)
    assert clip.name in str(caught.value)


@pytest.mark.parametrize("limits, reason", [
    ({"max_video_frames": FRAMES - 1}, f"video of {FRAMES} frames exceeds the limit of {FRAMES - 1}"),
    ({"max_pixels": WIDTH * HEIGHT - 1}, f"frame of {WIDTH} x {HEIGHT} pixels exceeds the limit")])
@pytest.mark.parametrize("frames", [0, 3])
def test_video_over_a_limit_is_refused_from_its_header(clip, monkeypatch, limits, reason, frames):
    at_limit = image.load_visible(clip, (4, 4), frames=frames, max_video_frames=FRAMES, max_pixels=WIDTH * HEIGHT)
    assert at_limit.shape == ((frames,) if frames else ()) + (4, 4, 3)
    for reader in ("read_video_frame", "read_frame_sequence"):
        monkeypatch.setattr(video, reader, lambda *args: pytest.fail("a frame of the video was decoded"))
    with pytest.raises(DataError, match=reason) as caught:
        image.load_visible(clip, (4, 4), frames=frames, **limits)
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
    for read in (video.read_video_frame, video.read_video_frames, lambda p: video.read_frame_sequence(p, 3, 1.0)):
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
    for count in (0, 2.0, True):
        with pytest.raises(ValueError, match="count must be a positive int"):
            video.read_frame_sequence(clip, count, 1.0)
    for seconds in (0, float("inf"), "1"):
        with pytest.raises(ValueError, match="seconds must be a positive number"):
            video.read_frame_sequence(clip, 3, seconds)


# ---------------------------------------------------------------- frame sequences (SA-fusion sampling)

SA_FUSION = [3, 10, 17, 24, 31, 39, 46, 53, 60, 67, 75, 82, 89, 96, 103]  # 15 of 108 frames (SYSTEMS.md 2.1)


def _write_numbered(path, fourcc, count, fps=30.0):
    """A grey 16 x 32 video of `count` frames at `fps`; frame i carries i in two 16 x 16 blocks of brightness
    16 * (i // 16) + 8 (left) and 16 * (i % 16) + 8 (right), robust to codec error below 8 levels."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (32, 16))
    assert writer.isOpened()
    for number in range(count):
        frame = np.empty((16, 32, 3), np.uint8)
        frame[:, :16], frame[:, 16:] = 16 * (number // 16) + 8, 16 * (number % 16) + 8
        writer.write(frame)
    writer.release()
    return path


def _numbered(frames):
    """The numbers _write_numbered put in float32 [T, 16, 32, C] frames."""
    frames = np.asarray(frames) * 255
    left, right = (np.rint((frames[:, :, half].mean(axis=(1, 2, 3)) - 8) / 16) for half in (slice(0, 16),
                                                                                           slice(16, 32)))
    return (16 * left + right).astype(int).tolist()


@pytest.mark.parametrize("suffix, fourcc", CODECS, ids=[suffix for suffix, _ in CODECS])
@pytest.mark.parametrize(
    "total, count, seconds, numbers",
    [
        (108, 15, 3.6, SA_FUSION),
        (150, 15, 3.6, [21 + i for i in SA_FUSION]),  # longer: the centre 108 frames, from (150 - 108) // 2
        (10, 15, 3.6, [0, 0, 1, 2, 2, 3, 4, 4, 5, 6, 6, 7, 8, 8, 9]),  # shorter than count: frames repeat
        (20, 15, 3.6, [0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 16, 17, 18]),  # shorter than the window
        (60, 4, 1.0, [15 + i for i in (3, 10, 18, 25)]),  # 1 s = 30 frames from 15: i * 30 // 4 + 3
    ],
)
def test_read_frame_sequence_picks_the_sa_fusion_frames(tmp_path, suffix, fourcc, total, count, seconds, numbers):
    path = _write_numbered(tmp_path / f"clip{suffix}", fourcc, total)
    frames = video.read_frame_sequence(path, count, seconds)
    assert frames.shape == (count, 16, 32, 3) and frames.dtype == np.float32
    assert _numbered(frames) == numbers
    assert numbers == video.sample_indices(min(total, round(seconds * 30)), count,
                                           start=max(0, total - round(seconds * 30)) // 2)


def test_read_frame_sequence_decodes_each_chosen_frame_once(tmp_path, monkeypatch):
    path = _write_numbered(tmp_path / "clip.avi", "MJPG", 20)
    retrieved = _misreport(monkeypatch)
    # 0.3 s = 9 frames from (20 - 9) // 2 = 5, 15 of them: i * 9 // 15 repeats frames, each decoded once.
    frames = video.read_frame_sequence(path, 15, 0.3)
    assert _numbered(frames) == [5 + i for i in (0, 0, 1, 1, 2, 3, 3, 4, 4, 5, 6, 6, 7, 7, 8)]
    assert len(retrieved) == 9


@pytest.mark.parametrize(
    "stated, numbers",
    [
        ({"CAP_PROP_FPS": 0.0}, list(range(5, 150, 10))),  # no frame rate: the whole video is the window
        ({"CAP_PROP_FRAME_COUNT": 0}, [21 + i for i in SA_FUSION]),  # no count: counted
        ({"CAP_PROP_FRAME_COUNT": 400}, [21 + i for i in SA_FUSION]),  # ends early: sampled again
        ({"CAP_PROP_FRAME_COUNT": 140}, [16 + i for i in SA_FUSION]),  # low count: its centre, as stated
    ],
)
def test_read_frame_sequence_with_misstated_container(tmp_path, monkeypatch, stated, numbers):
    path = _write_numbered(tmp_path / "clip.avi", "MJPG", 150)
    _misreport(monkeypatch, **stated)
    assert _numbered(video.read_frame_sequence(path, 15, 3.6)) == numbers


def test_truncated_video_sequence_uses_the_frames_that_decode(tmp_path):
    path = _write_numbered(tmp_path / "cut.avi", "MJPG", 150)
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.6)])  # the header still says 150
    decodable = len(video.read_video_frames(path))
    assert 15 < decodable < 21 + 103  # the stated count's last wanted frame does not decode
    window = min(decodable, 108)
    expected = video.sample_indices(window, 15, start=(decodable - window) // 2)
    assert _numbered(video.read_frame_sequence(path, 15, 3.6)) == expected


def test_loaders_take_frame_sequences(tmp_path):
    """Each frame of a sequence is the single frame of the same index, cropped and resized the same way."""
    path = _write_numbered(tmp_path / "clip.avi", "MJPG", 40)
    indices = video.sample_indices(40, 4)
    for crop, size in [("full", (8, 16)), ("center", (4, 4))]:
        sequence = image.load_visible(path, size, frames=4, crop=crop)
        assert sequence.shape == (4, *size, 3)
        for frames, index in zip(sequence, indices):
            np.testing.assert_array_equal(frames, image.load_visible(path, size, frame=index, crop=crop))
    # The centre square of a 16 x 32 frame is its middle: half of each numbered block.
    centre = image.load_visible(path, (16, 16), frame=indices[1], crop="center")[:, :, 0] * 255
    np.testing.assert_allclose(centre[:, :8], 16 * (indices[1] // 16) + 8, atol=2)
    np.testing.assert_allclose(centre[:, 8:], 16 * (indices[1] % 16) + 8, atol=2)
    grey = image.load_thermal(path, (8, 16), frames=4)
    assert grey.shape == (4, 8, 16, 1)
    np.testing.assert_allclose(grey, image.load_visible(path, (8, 16), frames=4)[..., :1], atol=1e-6)
