"""Tests for pipelines.image: decoding, visible/thermal frames, palette inversion, tf wrappers."""

import cv2
import numpy as np
import pytest
import tensorflow as tf

from pipelines import image
from pipelines.errors import DataError


def _random_bgr(dtype, shape=(12, 10, 3), seed=0):
    high = np.iinfo(dtype).max
    return np.random.default_rng(seed).integers(0, high + 1, shape).astype(dtype)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_read_image_scales_and_converts_to_rgb(tmp_path, suffix, dtype):
    path = tmp_path / f"frame{suffix}"
    bgr = _random_bgr(dtype)
    assert cv2.imwrite(str(path), bgr)
    decoded = image.read_image(path)
    assert decoded.dtype == np.float32
    np.testing.assert_allclose(decoded, bgr[:, :, ::-1] / float(np.iinfo(dtype).max), atol=1e-7, rtol=0)


def test_read_image_gray_alpha_and_float(tmp_path):
    gray = _random_bgr(np.uint16, shape=(8, 9))
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    np.testing.assert_allclose(image.read_image(tmp_path / "gray.png"), gray[:, :, None] / 65535.0, atol=1e-7)

    bgra = _random_bgr(np.uint8, shape=(8, 9, 4))
    cv2.imwrite(str(tmp_path / "alpha.png"), bgra)
    np.testing.assert_allclose(image.read_image(tmp_path / "alpha.png"), bgra[:, :, 2::-1] / 255.0, atol=1e-7)

    values = np.random.default_rng(1).uniform(0, 1, (8, 9)).astype(np.float32)
    cv2.imwrite(str(tmp_path / "float.tiff"), values)
    np.testing.assert_array_equal(image.read_image(tmp_path / "float.tiff"), values[:, :, None])


def test_read_image_jpeg_matches_opencv(tmp_path):
    path = tmp_path / "frame.jpg"
    cv2.imwrite(str(path), _random_bgr(np.uint8))
    expected = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB) / 255.0
    np.testing.assert_allclose(image.read_image(path), expected, atol=1e-7)


def test_to_visible_gray_and_colour():
    rng = np.random.default_rng(2)
    gray = rng.uniform(0, 1, (8, 12, 1)).astype(np.float32)
    colour = rng.uniform(0, 1, (8, 12, 3)).astype(np.float32)
    # Halving with INTER_AREA is the mean of each 2 x 2 block.
    block_mean = colour.reshape(4, 2, 6, 2, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(image.to_visible(colour, (4, 6)), block_mean, atol=1e-6)
    visible_gray = image.to_visible(gray, (4, 6))
    assert visible_gray.shape == (4, 6, 3) and visible_gray.dtype == np.float32
    gray_block_mean = gray.reshape(4, 2, 6, 2, 1).mean(axis=(1, 3))
    np.testing.assert_allclose(visible_gray, np.repeat(gray_block_mean, 3, axis=2), atol=1e-6)
    grown = image.to_visible(colour, (16, 20))
    assert grown.shape == (16, 20, 3) and 0.0 <= grown.min() and grown.max() <= 1.0
    np.testing.assert_array_equal(image.to_visible(colour, (8, 12)), colour)


def test_to_thermal_gray_is_bt601_luminance():
    colour = np.random.default_rng(3).uniform(0, 1, (6, 4, 3)).astype(np.float32)
    expected = 0.299 * colour[..., 0] + 0.587 * colour[..., 1] + 0.114 * colour[..., 2]
    thermal = image.to_thermal(colour, (6, 4))
    assert thermal.shape == (6, 4, 1)
    np.testing.assert_allclose(thermal[..., 0], expected, atol=1e-6)
    one_channel = colour[..., :1]
    np.testing.assert_array_equal(image.to_thermal(one_channel, (6, 4), palette="inferno"), one_channel)


def test_to_thermal_inverts_inferno_palette(tmp_path):
    intensity = np.tile(np.arange(256, dtype=np.uint8), (4, 1))
    path = tmp_path / "thermal.png"
    cv2.imwrite(str(path), cv2.applyColorMap(intensity, cv2.COLORMAP_INFERNO))
    thermal = image.load_thermal(path, (4, 256), palette="inferno")
    assert thermal.shape == (4, 256, 1)
    np.testing.assert_allclose(thermal[..., 0], intensity / 255.0, atol=1 / 255 + 1e-6)
    with pytest.raises(ValueError, match="palette"):
        image.to_thermal(image.read_image(path), (4, 256), palette="no_such_map")


def test_size_must_be_two_positive_ints():
    with pytest.raises(ValueError, match="size"):
        image.to_visible(np.zeros((4, 4, 3), np.float32), (0, 4))


def _write_bad_image(tmp_path, kind):
    """Writes one kind of bad image file and returns its path."""
    if kind == "missing":
        return tmp_path / "missing.png"
    if kind == "suffix":
        path = tmp_path / "frame.bmp"
        cv2.imwrite(str(path), _random_bgr(np.uint8))
        return path
    if kind == "corrupt":
        path = tmp_path / "corrupt.tif"
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8).tobytes())
        return path
    if kind in ("truncated_png", "truncated_jpg"):
        path = tmp_path / f"truncated.{kind[-3:]}"
        cv2.imwrite(str(path), _random_bgr(np.uint8, shape=(40, 40, 3)))
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        return path
    path = tmp_path / "nan.tiff"  # kind == "nan"
    values = np.full((4, 4), 0.5, np.float32)
    values[1, 2] = np.nan
    cv2.imwrite(str(path), values)
    return path


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("missing", "not found"),
        ("suffix", "unsupported image suffix"),
        ("corrupt", "cannot decode"),
        ("truncated_png", "truncated png"),
        ("truncated_jpg", "truncated jpeg"),
        ("nan", "NaN"),
    ],
)
def test_read_image_rejects_bad_files(tmp_path, kind, reason):
    path = _write_bad_image(tmp_path, kind)
    with pytest.raises(DataError, match=reason) as caught:
        image.read_image(path)
    assert path.name in str(caught.value)


def test_tf_wrappers_match_numpy_loaders(tmp_path):
    paths = []
    for index in range(2):
        path = tmp_path / f"frame{index}.png"
        intensity = _random_bgr(np.uint8, shape=(10, 14), seed=index)
        cv2.imwrite(str(path), cv2.applyColorMap(intensity, cv2.COLORMAP_INFERNO))
        paths.append(str(path))
    dataset = tf.data.Dataset.from_tensor_slices(paths).map(
        lambda path: (
            image.tf_load_visible(path, (5, 7)),
            image.tf_load_thermal(path, (5, 7), palette="inferno"),
        )
    )
    assert dataset.element_spec[0].shape == (5, 7, 3) and dataset.element_spec[1].shape == (5, 7, 1)
    for path, (visible, thermal) in zip(paths, dataset):
        np.testing.assert_array_equal(visible.numpy(), image.load_visible(path, (5, 7)))
        np.testing.assert_array_equal(thermal.numpy(), image.load_thermal(path, (5, 7), palette="inferno"))


def test_tf_wrapper_error_names_file(tmp_path):
    path = str(tmp_path / "gone.png")
    dataset = tf.data.Dataset.from_tensors(path).map(lambda p: image.tf_load_visible(p, (4, 4)))
    with pytest.raises(tf.errors.OpError, match="gone.png"):
        next(iter(dataset))
