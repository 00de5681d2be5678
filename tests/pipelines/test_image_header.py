"""Tests for pipelines.image_header: an image's size from its header, for every format the loaders read."""

import cv2
import numpy as np
import pytest

from pipelines.image_header import image_dimensions

FORMATS = [(".png", ()), (".jpg", ()), (".jpg", (cv2.IMWRITE_JPEG_PROGRESSIVE, 1)), (".bmp", ()),
           (".webp", ()), (".webp", (cv2.IMWRITE_WEBP_QUALITY, 101)), (".tif", ()), (".tiff", ())]


@pytest.mark.parametrize("suffix, params", FORMATS, ids=[f"{s}{p[1:] or ''}" for s, p in FORMATS])
@pytest.mark.parametrize("shape", [(30, 50, 3), (17, 9), (40, 41, 4)])
def test_header_size_is_the_decoded_size(tmp_path, suffix, params, shape):
    path = str(tmp_path / f"frame{suffix}")
    assert cv2.imwrite(path, np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8), list(params))
    height, width = cv2.imread(path, cv2.IMREAD_UNCHANGED).shape[:2]
    assert image_dimensions(path) == (width, height) == (shape[1], shape[0])


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_header_size_of_16_bit_frames(tmp_path, suffix):
    path = str(tmp_path / f"deep{suffix}")
    assert cv2.imwrite(path, np.full((13, 21), 40000, np.uint16))
    assert image_dimensions(path) == (21, 13)


def test_a_header_that_cannot_be_read_gives_none(tmp_path):
    png = tmp_path / "frame.png"
    assert cv2.imwrite(str(png), np.zeros((6, 7), np.uint8))
    jpeg = tmp_path / "frame.jpg"
    assert cv2.imwrite(str(jpeg), np.zeros((6, 7), np.uint8))
    (tmp_path / "cut.jpg").write_bytes(jpeg.read_bytes()[:6])  # ends inside its first segment
    (tmp_path / "cut.tif").write_bytes(b"II*\x00\x08\x00\x00\x00\x01")
    (tmp_path / "notes.png").write_bytes(b"not an image at all")
    for name in ("cut.jpg", "cut.tif", "notes.png"):
        assert image_dimensions(str(tmp_path / name)) is None, name
    assert image_dimensions(str(png)) == (7, 6)
