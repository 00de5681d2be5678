"""Tests for pipelines.corruptions.frames: severities, determinism, references, heat-domain thermal corruptions."""

import re

import cv2
import numpy as np
import pytest

from pipelines import palettes
from pipelines.corruptions import frames
from pipelines.corruptions.frames import FRAME_CORRUPTIONS, corrupt_frame

HEIGHT, WIDTH = 48, 64
CASES = [(modality, name) for modality, table in FRAME_CORRUPTIONS.items() for name in table]


def _scene(channels, seed=0, height=HEIGHT, width=WIDTH):
    """uint8 [height, width, channels]: smooth random structure at three scales plus fine texture, in 40..215."""
    rng = np.random.default_rng(seed)
    layers = [cv2.GaussianBlur(rng.normal(size=(height, width, channels)), (0, 0), sigma).reshape(height, width, -1)
              for sigma in (1.0, 3.0, 8.0)]
    scene = sum(layer / layer.std() for layer in layers)
    return np.clip(np.rint(127.5 + 29 * scene), 40, 215).astype(np.uint8)


def _frame(modality, palette):
    """The clean frame of a case: visible RGB, grey heat, or heat colour-mapped through `palette`."""
    if modality == "visible":
        return _scene(3)
    heat = _scene(1)
    return heat if palette is None else palettes.colour_map(heat[:, :, 0], palette)


def _heat(frame, palette):
    """Thermal frame -> float heat levels [H, W, 1] in 0..255 (a colour-mapped one inverted)."""
    if palette is None:
        return frame.astype(np.float64)
    return 255.0 * palettes.invert(frame.astype(np.float32) / 255.0, palette).astype(np.float64)


def _cases_with_palettes():
    for modality, name in CASES:
        yield modality, name, None
        if modality == "thermal":
            yield modality, name, "iron"


@pytest.mark.parametrize("modality,name,palette", list(_cases_with_palettes()))
def test_severities_grow_and_repeat(modality, name, palette):
    clean = _frame(modality, palette)
    measured = clean.astype(np.float64) if modality == "visible" else _heat(clean, palette)
    differences = []
    for severity in (1, 2, 3, 4, 5):
        corrupted = corrupt_frame(clean, modality, name, severity, np.random.default_rng(7), palette=palette)
        again = corrupt_frame(clean, modality, name, severity, np.random.default_rng(7), palette=palette)
        assert corrupted.dtype == np.uint8 and corrupted.shape == clean.shape
        np.testing.assert_array_equal(corrupted, again)
        seen = corrupted.astype(np.float64) if modality == "visible" else _heat(corrupted, palette)
        differences.append(np.abs(seen - measured).mean())
    assert differences[0] > 0.5, differences
    assert all(b > a for a, b in zip(differences, differences[1:])), differences


@pytest.mark.parametrize("modality,name", [("visible", "low_light"), ("visible", "motion_blur"),
                                           ("visible", "occlusion"), ("thermal", "sensor_noise")])
def test_another_seed_another_frame(modality, name):
    clean = _frame(modality, None)
    first = corrupt_frame(clean, modality, name, 3, np.random.default_rng(1))
    second = corrupt_frame(clean, modality, name, 3, np.random.default_rng(2))
    assert not np.array_equal(first, second)


def _gaussian_reference(frame, sigma):
    """Separable Gaussian blur in NumPy (kernel to 4 sigma, border reflected without repeating the edge)."""
    radius = int(np.ceil(4 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    padded = np.pad(frame.astype(np.float64), ((radius, radius), (radius, radius), (0, 0)), mode="reflect")
    rows = sum(t * padded[i:i + frame.shape[0]] for i, t in enumerate(taps))
    return sum(t * rows[:, i:i + frame.shape[1]] for i, t in enumerate(taps))


@pytest.mark.parametrize("modality,name", [("visible", "gaussian_blur"), ("thermal", "blur")])
@pytest.mark.parametrize("severity", [1, 3, 5])
def test_blur_matches_a_numpy_gaussian(modality, name, severity):
    clean = _frame(modality, None)
    sigma = FRAME_CORRUPTIONS[modality][name].levels[severity - 1] * min(HEIGHT, WIDTH)
    blurred = corrupt_frame(clean, modality, name, severity, np.random.default_rng(0))
    assert np.abs(blurred - _gaussian_reference(clean, sigma)).max() <= 1.0


@pytest.mark.parametrize("severity", [1, 5])
def test_jpeg_is_a_cv2_round_trip_at_the_table_quality(severity):
    clean = _scene(3)
    quality = FRAME_CORRUPTIONS["visible"]["jpeg"].levels[severity - 1]
    bgr = cv2.cvtColor(clean, cv2.COLOR_RGB2BGR)
    expected = cv2.cvtColor(cv2.imdecode(cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])[1],
                                         cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(corrupt_frame(clean, "visible", "jpeg", severity, np.random.default_rng(0)), expected)


@pytest.mark.parametrize("name", list(FRAME_CORRUPTIONS["visible"]))
def test_grey_visible_frames_keep_one_channel(name):
    grey = _scene(1)
    corrupted = corrupt_frame(grey, "visible", name, 4, np.random.default_rng(0))
    assert corrupted.shape == grey.shape and corrupted.dtype == np.uint8 and not np.array_equal(corrupted, grey)
    if name == "jpeg":
        quality = FRAME_CORRUPTIONS["visible"]["jpeg"].levels[3]
        encoded = cv2.imencode(".jpg", grey[:, :, 0], [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
        np.testing.assert_array_equal(corrupted[:, :, 0], cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE))


@pytest.mark.parametrize("modality", ["visible", "thermal"])
def test_resolution_is_area_down_then_linear_up(modality):
    clean = _frame(modality, None)
    factor = FRAME_CORRUPTIONS[modality]["resolution"].levels[0]  # 64 x 48 -> 16 x 12: 4 x 4 blocks
    blocks = clean.reshape(HEIGHT // 4, 4, WIDTH // 4, 4, -1).astype(np.float64).mean(axis=(1, 3))
    assert factor == 0.25
    low = cv2.resize(blocks.astype(np.float32), (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR).reshape(clean.shape)
    corrupted = corrupt_frame(clean, modality, "resolution", 1, np.random.default_rng(0))
    assert np.abs(corrupted - low).max() <= 1.5  # two roundings to uint8, cv2's fixed-point weights


def test_over_exposure_is_gain_clipped_at_white():
    clean = _scene(3)
    for severity, gain in enumerate(FRAME_CORRUPTIONS["visible"]["over_exposure"].levels, start=1):
        expected = np.minimum(np.rint(clean * gain), 255)
        np.testing.assert_array_equal(corrupt_frame(clean, "visible", "over_exposure", severity,
                                                    np.random.default_rng(0)), expected)


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_low_light_darkens_by_gamma_with_shot_and_read_noise(severity):
    grey = 128
    clean = np.full((96, 128, 3), grey, np.uint8)
    gamma = FRAME_CORRUPTIONS["visible"]["low_light"].levels[severity - 1]
    dark = (grey / 255) ** gamma
    corrupted = corrupt_frame(clean, "visible", "low_light", severity, np.random.default_rng(3)).astype(np.float64)
    photons = frames.LOW_LIGHT_PHOTONS * dark  # a Poisson count: variance = mean
    spread = np.hypot(255 * np.sqrt(photons) / frames.LOW_LIGHT_PHOTONS, frames.LOW_LIGHT_READ_NOISE)
    assert abs(corrupted.mean() - 255 * dark) < 0.5 + 0.05 * spread
    assert corrupted.std() == pytest.approx(spread, rel=0.1)


def test_occlusion_is_one_black_square_in_the_centred_square():
    clean = _scene(3)  # no pixel is black
    side = min(HEIGHT, WIDTH)
    left_edge = (WIDTH - side) // 2
    boxes = set()
    for seed in range(6):
        for severity, share in enumerate(FRAME_CORRUPTIONS["visible"]["occlusion"].levels, start=1):
            corrupted = corrupt_frame(clean, "visible", "occlusion", severity, np.random.default_rng(seed))
            changed = np.any(corrupted != clean, axis=2)
            rows, columns = np.nonzero(changed)
            top, bottom, left, right = rows.min(), rows.max() + 1, columns.min(), columns.max() + 1
            assert changed.sum() == (bottom - top) * (right - left)  # one filled rectangle
            assert np.all(corrupted[changed] == 0)
            assert bottom - top == right - left == round(np.sqrt(share) * side)
            assert top >= 0 and bottom <= HEIGHT and left >= left_edge and right <= left_edge + side
            boxes.add((top, left))
    assert len(boxes) > 10


def test_line_kernel_is_a_unit_segment_at_its_angle():
    length, angle = 9.0, np.pi / 3
    kernel = frames.line_kernel(length, angle)
    radius = kernel.shape[0] // 2
    assert kernel.shape == (2 * radius + 1,) * 2 and kernel.sum() == pytest.approx(1.0)
    assert kernel[0].max() == kernel[-1].max() == kernel[:, 0].max() == kernel[:, -1].max() == 0  # nothing cut off
    np.testing.assert_allclose(kernel, kernel[::-1, ::-1], atol=1e-7)  # symmetric about the centre
    y, x = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    along = x * np.cos(angle) + y * np.sin(angle)
    across = -x * np.sin(angle) + y * np.cos(angle)
    assert np.sqrt((kernel * across ** 2).sum()) < 0.5
    assert np.sqrt((kernel * along ** 2).sum()) == pytest.approx(length / np.sqrt(12), rel=0.1)  # uniform segment


def test_motion_blur_smears_a_point_along_one_line():
    size = 200
    point = np.zeros((size, size, 1), np.uint8)
    point[size // 2, size // 2] = 255
    angles = []
    for seed in (0, 1, 2):
        spread = corrupt_frame(point, "visible", "motion_blur", 5, np.random.default_rng(seed)).astype(np.float64)
        y, x = np.mgrid[:size, :size] - size // 2
        weights = spread[:, :, 0] / spread.sum()
        moments = np.array([[(weights * x * x).sum(), (weights * x * y).sum()],
                            [(weights * x * y).sum(), (weights * y * y).sum()]])
        eigenvalues, eigenvectors = np.linalg.eigh(moments)
        length = FRAME_CORRUPTIONS["visible"]["motion_blur"].levels[4] * size
        assert np.sqrt(eigenvalues[1]) == pytest.approx(length / np.sqrt(12), rel=0.15)
        assert np.sqrt(eigenvalues[0]) < 0.6
        angles.append(np.arctan2(eigenvectors[1, 1], eigenvectors[0, 1]) % np.pi)
    assert np.ptp(angles) > 0.1


def test_sensor_noise_has_pixel_and_column_parts():
    height, width = 200, 256
    clean = np.full((height, width, 1), 128, np.uint8)
    sigma = FRAME_CORRUPTIONS["thermal"]["sensor_noise"].levels[0]
    noise = corrupt_frame(clean, "thermal", "sensor_noise", 1, np.random.default_rng(5)).astype(np.float64) - 128
    columns = noise.mean(axis=0)
    column_sigma = np.sqrt(columns.var() - (noise - columns).var() / height)
    assert column_sigma == pytest.approx(frames.COLUMN_NOISE_SHARE * sigma, rel=0.2)
    assert (noise - columns).std() == pytest.approx(sigma, rel=0.05)


@pytest.mark.parametrize("palette", [None, "iron", "grey", "inferno"])
def test_drift_shifts_heat_by_the_offset(palette):
    heat = _scene(1)
    clean = heat if palette is None else palettes.colour_map(heat[:, :, 0], palette)
    signs = set()
    for seed in range(8):
        for severity, offset in enumerate(FRAME_CORRUPTIONS["thermal"]["drift"].levels, start=1):
            drifted = corrupt_frame(clean, "thermal", "drift", severity, np.random.default_rng(seed), palette=palette)
            assert drifted.shape == clean.shape
            if palette is not None:  # the palette's colours of the shifted heat
                sign = np.sign(_heat(drifted, palette) - heat).max() or -1
                np.testing.assert_array_equal(drifted, palettes.colour_map(
                    np.clip(heat[:, :, 0].astype(int) + sign * offset, 0, 255).astype(np.uint8), palette))
            else:
                sign = 1 if drifted.astype(int).sum() > heat.astype(int).sum() else -1
                np.testing.assert_array_equal(drifted, np.clip(heat.astype(int) + sign * offset, 0, 255))
            signs.add(sign)
    assert signs == {-1, 1}


def test_colour_mapped_thermal_stays_in_its_palette():
    clean = _frame("thermal", "iron")
    colours = {tuple(c) for c in np.round(palettes.lookup_table("iron") * 255).astype(np.uint8)}
    for name in FRAME_CORRUPTIONS["thermal"]:
        corrupted = corrupt_frame(clean, "thermal", name, 3, np.random.default_rng(0), palette="iron")
        assert {tuple(c) for c in corrupted.reshape(-1, 3)} <= colours


def test_every_level_is_in_the_docstring_table():
    for modality, name in CASES:
        corruption = FRAME_CORRUPTIONS[modality][name]
        assert corruption.modality == modality and corruption.name == name and len(corruption.levels) == 5
        row = re.search(rf"^\| {modality} +\| {name} +\|.*$", frames.__doc__, re.MULTILINE)
        assert row, (modality, name)
        cells = [cell.strip() for cell in row.group(0).strip("|").split("|")][3:]
        for cell, level in zip(cells, corruption.levels, strict=True):
            assert [float(v) for v in cell.split(",")] == list(np.atleast_1d(level)), (name, cell, level)


@pytest.mark.parametrize("arguments,argument", [
    ({"modality": "audio"}, "modality"),
    ({"name": "drift"}, "name"),
    ({"severity": 0}, "severity"),
    ({"severity": 6}, "severity"),
    ({"severity": 2.5}, "severity"),
    ({"severity": True}, "severity"),
    ({"frame": np.zeros((4, 4, 3), np.float32)}, "frame"),
    ({"frame": np.zeros((4, 4), np.uint8)}, "frame"),
    ({"frame": np.zeros((4, 4, 2), np.uint8)}, "frame"),
    ({"frame": np.zeros((0, 4, 3), np.uint8)}, "frame"),
    ({"rng": 3}, "rng"),
    ({"modality": "thermal", "name": "drift"}, "palette"),
])
def test_bad_arguments_are_named(arguments, argument):
    call = {"frame": np.zeros((4, 4, 3), np.uint8), "modality": "visible", "name": "jpeg", "severity": 1,
            "rng": np.random.default_rng(0), **arguments}
    with pytest.raises(ValueError, match=rf"^{argument} ") as error:
        corrupt_frame(**call)
    assert "\n" not in str(error.value)
