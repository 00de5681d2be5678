"""Tests for pipelines.image (formats, limits, channel rules) and the palettes it inverts."""

import struct
import zlib

import cv2
import numpy as np
import pytest

from pipelines import image, palettes
from pipelines.errors import DataError


def _random(dtype, shape=(6, 5, 3), seed=0):
    """Random integer image of `dtype` over its full range."""
    return np.random.default_rng(seed).integers(0, np.iinfo(dtype).max + 1, shape).astype(dtype)


def _write(path, array, params=()):
    assert cv2.imwrite(str(path), array, list(params))
    return path


def _write_grey_alpha_png(path, grey, alpha):
    """8-bit png of colour type 4 (grey + alpha), which cv2.imwrite cannot write."""
    height, width = grey.shape
    rows = np.dstack([grey, alpha]).astype(np.uint8).reshape(height, 2 * width)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)  # filter type 0 before each row

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 4, 0, 0, 0)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunks)
    return path


def _ramp_through(palette, rows=4):
    """BGR uint8 [rows, 256, 3]: the heat ramp 0..255 written through the palette's lookup table."""
    lut = np.round(palettes.lookup_table(palette) * 255).astype(np.uint8)
    return np.tile(lut[np.newaxis, :, ::-1], (rows, 1, 1))


# Lossless formats: the decoded image is the written one, BGR -> RGB, divided by 255 or 65535.
@pytest.mark.parametrize(
    "suffix, dtype",
    [(".png", np.uint8), (".png", np.uint16), (".bmp", np.uint8), (".tif", np.uint8), (".tiff", np.uint16)],
)
@pytest.mark.parametrize("channels", [1, 3])
def test_read_image_lossless_formats(tmp_path, suffix, dtype, channels):
    written = _random(dtype, (6, 5, channels))
    decoded = image.read_image(_write(tmp_path / f"frame{suffix}", written))
    assert decoded.dtype == np.float32 and decoded.shape == (6, 5, channels)
    expected = written[:, :, ::-1] / float(np.iinfo(dtype).max)
    np.testing.assert_allclose(decoded, expected, atol=1e-7, rtol=0)


def test_read_image_lossy_and_webp_formats(tmp_path):
    colour = _random(np.uint8)
    for name, params in [("q.jpg", ()), ("q.jpeg", ()), ("q.webp", (cv2.IMWRITE_WEBP_QUALITY, 80))]:
        path = _write(tmp_path / name, colour, params)
        expected = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB) / 255.0
        np.testing.assert_allclose(image.read_image(path), expected, atol=1e-7)
    # Lossless webp keeps every value; webp has no grey mode, so grey comes back as three equal channels.
    grey = _random(np.uint8, (6, 5))
    decoded = image.read_image(_write(tmp_path / "grey.webp", grey, (cv2.IMWRITE_WEBP_QUALITY, 101)))
    np.testing.assert_allclose(decoded, np.repeat(grey[:, :, None], 3, axis=2) / 255.0, atol=1e-7)
    jpeg_grey = image.read_image(_write(tmp_path / "grey.jpg", grey))
    assert jpeg_grey.shape == (6, 5, 1)


def test_read_image_alpha_and_float(tmp_path):
    grey = _random(np.uint8, (6, 5))
    path = _write_grey_alpha_png(tmp_path / "ga.png", grey, np.full((6, 5), 128))
    # OpenCV decodes grey + alpha as colour + alpha: the grey comes back as three equal channels.
    np.testing.assert_allclose(image.read_image(path), np.repeat(grey[:, :, None], 3, axis=2) / 255.0, atol=1e-7)
    np.testing.assert_allclose(image.load_thermal(path, (6, 5)), grey[:, :, None] / 255.0, atol=1e-6)
    bgra = _random(np.uint16, (6, 5, 4))
    decoded = image.read_image(_write(tmp_path / "alpha.png", bgra))
    np.testing.assert_allclose(decoded, bgra[:, :, 2::-1] / 65535.0, atol=1e-7)
    values = np.random.default_rng(1).uniform(0, 1, (6, 5)).astype(np.float32)
    np.testing.assert_array_equal(image.read_image(_write(tmp_path / "float.tiff", values)), values[:, :, None])


def test_visible_replicates_grey_and_resizes(tmp_path):
    colour = _random(np.uint8, (8, 12, 3))
    # Halving with INTER_AREA is the mean of each 2 x 2 block.
    block_mean = (colour[:, :, ::-1] / 255.0).reshape(4, 2, 6, 2, 3).mean(axis=(1, 3))
    visible = image.load_visible(_write(tmp_path / "c.png", colour), (4, 6))
    np.testing.assert_allclose(visible, block_mean, atol=1e-6)
    grey = _random(np.uint8, (8, 12))
    visible = image.load_visible(_write(tmp_path / "g.png", grey), (8, 12))
    assert visible.shape == (8, 12, 3) and visible.dtype == np.float32
    np.testing.assert_allclose(visible, np.repeat(grey[:, :, None], 3, axis=2) / 255.0, atol=1e-7)
    grown = image.load_visible(tmp_path / "c.png", (16, 20))
    assert grown.shape == (16, 20, 3) and 0.0 <= grown.min() and grown.max() <= 1.0


def test_thermal_from_one_channel_is_the_intensity_whatever_the_palette(tmp_path):
    grey = _random(np.uint16, (6, 5))
    path = _write(tmp_path / "t.png", grey)
    for palette in ("grey", "iron", "jet"):
        np.testing.assert_allclose(image.load_thermal(path, (6, 5), palette), grey[:, :, None] / 65535.0, atol=1e-7)


def test_thermal_grey_palette_accepts_equal_channels_and_refuses_colour(tmp_path):
    grey = _random(np.uint8, (6, 5)).astype(np.int32).clip(2, 253)
    near_grey = np.dstack([grey - 1, grey, grey + 1]).astype(np.uint8)  # channels within 2/255 (the rule's limit)
    heat = image.load_thermal(_write(tmp_path / "near.png", near_grey), (6, 5), palette="gray")
    np.testing.assert_allclose(heat[:, :, 0], grey / 255.0, atol=1e-6)
    coloured = near_grey.copy()
    coloured[3, 2, 0] -= 1  # one pixel beyond the limit: its channels differ by 3/255
    path = _write(tmp_path / "colour.png", coloured)
    with pytest.raises(DataError, match="colour thermal frame but --thermal-palette is grey") as caught:
        image.load_thermal(path, (6, 5))
    assert "colour.png" in str(caught.value) and "iron, inferno, jet" in str(caught.value)
    assert image.load_visible(path, (6, 5)).shape == (6, 5, 3)  # the visible loader takes colour as it is


@pytest.mark.parametrize("palette", ["iron", "ironbow", "inferno", "jet", "grey", "gray"])
def test_thermal_inverts_the_palette_it_was_written_with(tmp_path, palette):
    path = _write(tmp_path / f"{palette}.png", _ramp_through(palette))
    heat = image.load_thermal(path, (4, 256), palette=palette)
    assert heat.shape == (4, 256, 1) and heat.dtype == np.float32
    np.testing.assert_allclose(heat[:, :, 0], np.tile(np.arange(256) / 255.0, (4, 1)), atol=1 / 255 + 1e-6)


def test_thermal_inversion_survives_jpeg_and_shrinks_after_inverting(tmp_path):
    heat = np.clip(np.add.outer(np.linspace(0, 0.9, 32), np.linspace(0, 0.1, 48)), 0, 1)
    lut = np.round(palettes.lookup_table("iron") * 255).astype(np.uint8)
    path = _write(tmp_path / "iron.jpg", lut[np.round(heat * 255).astype(int)][:, :, ::-1])
    inverted = image.load_thermal(path, (32, 48), palette="iron")[:, :, 0]
    assert np.abs(inverted - heat).mean() < 3 / 255
    halved = image.load_thermal(path, (16, 24), palette="iron")
    np.testing.assert_allclose(halved[:, :, 0], inverted.reshape(16, 2, 24, 2).mean(axis=(1, 3)), atol=1e-6)


@pytest.mark.parametrize(
    "written, asked", [("iron", "jet"), ("inferno", "jet"), ("jet", "inferno"), ("jet", "iron"), ("grey", "iron")]
)
def test_thermal_refuses_a_frame_of_another_palette(tmp_path, written, asked):
    path = _write(tmp_path / f"{written}.png", _ramp_through(written))
    with pytest.raises(DataError, match=f"do not match the '{asked}' palette") as caught:
        image.load_thermal(path, (4, 256), palette=asked)
    assert f"{written}.png" in str(caught.value)


def test_palette_tables_and_names():
    iron = palettes.lookup_table("ironbow")
    assert iron.shape == (256, 3) and iron.dtype == np.float32 and not iron.flags.writeable
    np.testing.assert_array_equal(iron[0], [0, 0, 0])
    np.testing.assert_array_equal(iron[255], [1, 1, 1])
    assert len({tuple(colour) for colour in iron}) == 256  # invertible: every heat has its own colour
    (blue, purple, red, orange, yellow) = (iron[round(position * 255)] for position in (0.15, 0.35, 0.55, 0.72, 0.87))
    assert blue[2] > 0.4 and blue[2] > 3 * max(blue[0], blue[1])  # black -> deep blue
    assert min(purple[0], purple[2]) > 0.5 and purple[1] < 0.1  # -> purple
    assert red[0] > 0.8 and max(red[1], red[2]) < 0.3  # -> red
    assert orange[0] > 0.9 and 0.3 < orange[1] < 0.7 and orange[2] < 0.1  # -> orange
    assert min(yellow[0], yellow[1]) > 0.8 and yellow[2] < 0.1  # -> yellow -> white
    inferno_bgr = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_INFERNO)[:, 0]
    np.testing.assert_array_equal(palettes.lookup_table("inferno") * 255, inferno_bgr[:, ::-1])
    assert {"grey", "iron", "inferno", "jet", "turbo"} <= set(palettes.PALETTES)
    assert image.check_palette("Gray") == "grey" and image.check_palette("IRONBOW") == "iron"
    for bad in ("hsv", "no_such_map", None):  # hsv is cyclic: its ends share one colour
        with pytest.raises(ValueError, match="unknown thermal palette") as caught:
            image.check_palette(bad)
        assert all(name in str(caught.value) for name in ("grey", "iron", "inferno", "jet", "gray = grey"))
    with pytest.raises(ValueError, match="RGB image"):
        palettes.invert(np.zeros((4, 4, 1), np.float32), "iron")


def test_oversized_frame_is_refused_with_its_size(tmp_path):
    assert image.MAX_IMAGE_PIXELS == 8192 * 8192
    assert image.read_image(_write(tmp_path / "ok.png", _random(np.uint8, (6, 10))), 60).shape == (6, 10, 1)
    path = _write(tmp_path / "big.png", _random(np.uint8, (6, 11)))
    with pytest.raises(DataError, match="11 x 6 pixels exceeds the limit") as caught:
        image.load_visible(path, (4, 4), max_pixels=60)
    assert "big.png" in str(caught.value)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp", ".webp", ".tif"])
def test_oversized_frame_is_refused_from_its_header_before_decoding(tmp_path, monkeypatch, suffix):
    path = str(_write(tmp_path / f"big{suffix}", _random(np.uint8, (6, 11))))
    monkeypatch.setattr(image.cv2, "imdecode", lambda *args: pytest.fail("the oversized frame was decoded"))
    with pytest.raises(DataError, match=f"big{suffix}: frame of 11 x 6 pixels exceeds the limit of 60"):
        image.read_image(path, max_pixels=60)


def _write_bad_image(tmp_path, kind):
    """Writes one kind of bad image file and returns its path."""
    if kind == "missing":
        return tmp_path / "missing.png"
    if kind == "empty":
        path = tmp_path / "empty.bmp"
        path.write_bytes(b"")
        return path
    if kind == "suffix":
        return _write(tmp_path / "frame.ppm", _random(np.uint8))
    if kind == "corrupt":
        path = tmp_path / "corrupt.webp"
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8).tobytes())
        return path
    if kind in ("truncated_png", "truncated_jpg"):
        path = _write(tmp_path / f"truncated.{kind[-3:]}", _random(np.uint8, (40, 40, 3)))
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        return path
    values = np.full((4, 4), 0.5, np.float32)
    values[1, 2] = np.nan if kind == "nan" else 1.5
    return _write(tmp_path / f"{kind}.tiff", values)


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("missing", "not found"),
        ("empty", "0 bytes"),
        ("suffix", "unsupported image suffix"),
        ("corrupt", "cannot decode"),
        ("truncated_png", "truncated png"),
        ("truncated_jpg", "truncated jpeg"),
        ("nan", "NaN"),
        ("out_of_range", r"must lie in \[0, 1\]"),
    ],
)
def test_bad_image_files_are_refused_naming_the_file(tmp_path, kind, reason):
    path = _write_bad_image(tmp_path, kind)
    for load in (image.read_image, lambda p: image.load_thermal(p, (4, 4), "iron")):
        with pytest.raises(DataError, match=reason) as caught:
            load(path)
        assert path.name in str(caught.value)


def test_bad_arguments_raise_value_error_before_reading(tmp_path):
    missing = tmp_path / "missing.png"
    calls = [
        ("size", lambda: image.load_visible(missing, (0, 4))),
        ("frame must be one of", lambda: image.load_visible(missing, (4, 4), frame="centre")),
        ("unknown thermal palette", lambda: image.load_thermal(missing, (4, 4), palette="rainbowish")),
        ("frames must be an int >= 0", lambda: image.load_visible(missing, (4, 4), frames=-1)),
        ("seconds must be a positive number", lambda: image.load_visible(missing, (4, 4), frames=2, seconds=0)),
        ("crop must be one of", lambda: image.load_thermal(missing, (4, 4), crop="face")),
    ]
    for reason, call in calls:
        with pytest.raises(ValueError, match=reason) as caught:
            call()
        assert not isinstance(caught.value, DataError)


# ---------------------------------------------------------------- crops, frame folders, sequences


def test_center_crop_keeps_the_middle_square(tmp_path):
    """An 8 x 16 frame: blue, green, red quarters of 4, 8, 4 columns; its centre square is the green part."""
    frame = np.zeros((8, 16, 3), np.uint8)
    frame[:, :4, 0], frame[:, 4:12, 1], frame[:, 12:, 2] = 255, 255, 255  # BGR
    path = _write(tmp_path / "wide.png", frame)
    np.testing.assert_allclose(image.load_visible(path, (4, 4), crop="center"), np.tile([0.0, 1.0, 0.0], (4, 4, 1)))
    full = image.load_visible(path, (4, 4))  # the whole frame squeezed: red and blue columns stay
    assert full[:, 0, 2].min() == 1.0 and full[:, -1, 0].min() == 1.0
    tall = _write(tmp_path / "tall.png", np.ascontiguousarray(frame[:, :, 1].T))  # 16 x 8 grey, the band in rows 4..11
    np.testing.assert_allclose(image.load_thermal(tall, (2, 2), crop="center"), 1.0)
    assert image.load_thermal(tall, (2, 2)).min() < 1.0


def _write_frame_folder(folder, count, size=(6, 8)):
    """Frame images f1.png .. f<count>.png (natural order differs from string order); frame f<k> is flat
    grey 10 * k."""
    folder.mkdir()
    for number in range(1, count + 1):
        _write(folder / f"f{number}.png", np.full(size, 10 * number, np.uint8))
    return folder


def _grey_numbers(frames):
    return np.rint(np.asarray(frames)[..., 0].mean(axis=(-2, -1)) * 255 / 10).astype(int).tolist()


def test_frame_folder_in_natural_order_by_the_video_rule(tmp_path):
    folder = _write_frame_folder(tmp_path / "frames", 12)
    (folder / "notes.txt").write_text("not a frame")
    sequence = image.load_visible(folder, (3, 4), frames=5)
    assert sequence.shape == (5, 3, 4, 3) and sequence.dtype == np.float32
    assert _grey_numbers(sequence) == [2, 4, 6, 9, 11]  # indices i * 12 // 5 + 1 = 1, 3, 5, 8, 10 of f1..f12
    assert _grey_numbers(image.read_image_sequence(folder, 15)) == [1, 1, 2, 3, 4, 5, 5, 6, 7, 8, 9, 9, 10, 11, 12]
    assert _grey_numbers(image.load_thermal(folder, (3, 4), frames=3)) == [3, 7, 11]
    for frame, number in [("first", 1), ("middle", 6), ("last", 12), (9, 10)]:  # frames=0: one chosen image
        assert _grey_numbers(image.load_visible(folder, (3, 4), frame=frame)[None]) == [number]
    with pytest.raises(DataError, match="frame 12 is out of range: the folder has 12 frame images") as caught:
        image.load_visible(folder, (3, 4), frame=12)
    assert caught.value.path == str(folder)


def test_still_image_is_repeated_for_a_sequence(tmp_path):
    path = _write(tmp_path / "still.png", _random(np.uint8, (8, 12, 3)))
    sequence = image.load_visible(path, (4, 6), frames=3)
    assert sequence.shape == (3, 4, 6, 3)
    for frame in sequence:
        np.testing.assert_array_equal(frame, image.load_visible(path, (4, 6)))


def test_thermal_sequence_inverts_each_frame_of_a_palette_folder(tmp_path):
    folder = tmp_path / "inferno"
    folder.mkdir()
    ramp = _ramp_through("inferno")  # [4, 256, 3], heat 0..255 along the columns
    for number in range(4):
        _write(folder / f"{number:02d}.png", np.roll(ramp, 64 * number, axis=1))
    sequence = image.load_thermal(folder, (4, 256), "inferno", frames=2)  # indices i * 4 // 2 + 1 = 1, 3
    assert sequence.shape == (2, 4, 256, 1)
    for heat, number in zip(sequence, (1, 3)):
        np.testing.assert_allclose(heat[:, :, 0], np.roll(np.tile(np.arange(256) / 255, (4, 1)), 64 * number, axis=1),
                                   atol=1 / 255 + 1e-6)
        np.testing.assert_array_equal(heat, image.load_thermal(folder / f"{number:02d}.png", (4, 256), "inferno"))


def test_bad_frame_folders_are_refused_naming_the_folder_or_image(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no frames here")
    with pytest.raises(DataError, match="folder holds no frame image") as caught:
        image.load_visible(empty, (4, 4), frames=3)
    assert caught.value.path == str(empty)
    folder = _write_frame_folder(tmp_path / "frames", 4)
    (folder / "f3.png").write_bytes((folder / "f3.png").read_bytes()[:40])
    with pytest.raises(DataError, match="truncated png") as caught:
        image.load_visible(folder, (4, 4), frames=4)
    assert caught.value.path == str(folder / "f3.png")
    _write(folder / "f3.png", np.zeros((5, 8), np.uint8))
    with pytest.raises(DataError, match=r"frame of shape \[5, 8, 1\] in .*frames, whose first frame is \[6, 8, 1\]"):
        image.load_thermal(folder, (4, 4), frames=4)
