"""Camera corruptions at severities 1-5: visible and thermal frames degraded as a sensor would degrade them.

`corrupt_frame(frame, modality, name, severity, rng, palette=None)` takes one decoded frame, uint8 [H, W, C]
(C = 1 or 3) at its source resolution, before the crop and resize of the feature cache, and returns the corrupted
frame, uint8 of the same shape. Every random value comes from `rng` (a np.random.Generator, in the cache
pipelines.corruptions.seeding.corruption_rng), drawn in a fixed order, so a seed gives the same bytes whatever the
threads. Geometric levels are shares of the frame's shorter side, so a corruption degrades a 348-pixel thermal
frame and a 720-pixel video frame alike. Grey levels are on the 0..255 scale.

Levels (`FRAME_CORRUPTIONS[modality][name].levels`, severity 1 -> 5), in the spirit of ImageNet-C (Hendrycks and
Dietterich 2019), calibrated so that severity 5 roughly halves the single-sensor reference's accuracy on the
synthetic SpeakingFaces layout where a physically meaningful level does (docs/corruptions.md#calibration: motion
blur, JPEG and thermal sensor noise do not reach it and keep ImageNet-C-like levels):

| modality | name          | level                               | 1          | 2       | 3         | 4      | 5      |
|----------|---------------|-------------------------------------|------------|---------|-----------|--------|--------|
| visible  | low_light     | gamma                               | 1.3        | 1.6     | 2.0       | 2.4    | 2.8    |
| visible  | over_exposure | gain                                | 1.2        | 1.4     | 1.7       | 2.0    | 2.3    |
| visible  | gaussian_blur | sigma / shorter side                | 0.03       | 0.06    | 0.09      | 0.12   | 0.15   |
| visible  | motion_blur   | length / shorter side               | 0.02       | 0.04    | 0.06      | 0.09   | 0.12   |
| visible  | occlusion     | box area / centred square           | 0.02       | 0.04    | 0.07      | 0.1    | 0.15   |
| visible  | jpeg          | JPEG quality                        | 25         | 18      | 15        | 10     | 7      |
| visible  | resolution    | downscale factor per side           | 0.25       | 0.15    | 0.1       | 0.08   | 0.0625 |
| thermal  | blur          | sigma / shorter side                | 0.03       | 0.06    | 0.09      | 0.12   | 0.15   |
| thermal  | sensor_noise  | sigma, grey levels                  | 20         | 31      | 46        | 66     | 97     |
| thermal  | drift         | heat offset, grey levels            | 8          | 16      | 25        | 35     | 45     |
| thermal  | resolution    | downscale factor per side           | 0.25       | 0.15    | 0.1       | 0.08   | 0.0625 |

What each does (x: the frame in [0, 1]; every result rounded to the nearest level (ties to even) and clipped to 0..255 once):
  - low_light: darkened to x ** gamma (less light reaching one sensor), then that sensor's Poisson-Gaussian noise
    (Foi et al. 2008) in its heteroscedastic Gaussian form, each channel alone: variance x ** gamma /
    LOW_LIGHT_PHOTONS (shot noise of LOW_LIGHT_PHOTONS = 60 photons counted at white) plus (LOW_LIGHT_READ_NOISE
    / 255) ** 2 (read noise of 2 grey levels): the darker the scene, the lower each pixel's signal-to-noise ratio.
  - over_exposure: x * gain, clipped at white.
  - gaussian_blur, thermal blur: cv2.GaussianBlur with that sigma in pixels (sigma = share x shorter side).
  - motion_blur: convolution with a line of that length through the kernel's centre at an angle drawn uniformly in
    [0, pi) (radians from the x axis towards +y, image rows going down), sampled with a one-pixel tent across the
    line, weights summing to 1 (`line_kernel`).
  - occlusion: a black square of that share of the area of the centred square (side = shorter side, the face
    region: FRAME_CROPS "center"), placed uniformly inside it.
  - jpeg: encoded and decoded by cv2 at that quality (colour frames as BGR, the order cv2 encodes).
  - resolution: cv2.resize down to round(factor x side) pixels per side (at least 1) with INTER_AREA, then back
    with INTER_LINEAR.
  - sensor_noise: Gaussian noise of sigma per pixel plus a fixed-pattern offset per column of sigma / 4.
  - drift: every heat level shifted by +offset or -offset (sign drawn with probability 1/2), as an ambient change
    would, clipped to 0..255.
Thermal corruptions act on heat, where the sensor degrades. A 1-channel thermal frame is the heat; a 3-channel
one is colour-mapped: it is inverted to heat through `palette` (pipelines.palettes.invert), corrupted, and mapped
back through the same palette (pipelines.palettes.colour_map), so a drifted frame holds the palette's colours of
the shifted heat, never shifted RGB. Visible frames are corrupted as they are, 1 or 3 channels.
"""

import cv2
import numpy as np

from pipelines import palettes
from pipelines.corruptions.seeding import Corruption

GREY_MAX = 255.0
LOW_LIGHT_PHOTONS = 60  # low_light: the sensor's photon count at white (shot noise)
LOW_LIGHT_READ_NOISE = 2.0  # low_light: the sensor's read noise sigma, grey levels
COLUMN_NOISE_SHARE = 0.25  # sensor_noise: the column pattern's sigma as a share of the pixel noise's sigma
_BLUR_SIGMAS = (0.03, 0.06, 0.09, 0.12, 0.15)
_RESOLUTION_FACTORS = (0.25, 0.15, 0.1, 0.08, 0.0625)


def _by_name(*corruptions):
    return {corruption.name: corruption for corruption in corruptions}


FRAME_CORRUPTIONS = {
    "visible": _by_name(
        Corruption("low_light", "visible", (1.3, 1.6, 2.0, 2.4, 2.8), "gamma",
                   "a dark scene: gamma darkening with the sensor's shot and read noise"),
        Corruption("over_exposure", "visible", (1.2, 1.4, 1.7, 2.0, 2.3), "gain",
                   "a camera facing a bright light: gain, clipped at white"),
        Corruption("gaussian_blur", "visible", _BLUR_SIGMAS, "sigma, share of the shorter side", "defocus"),
        Corruption("motion_blur", "visible", (0.02, 0.04, 0.06, 0.09, 0.12), "line length, share of the shorter side",
                   "camera or head motion during the exposure, at a random angle"),
        Corruption("occlusion", "visible", (0.02, 0.04, 0.07, 0.1, 0.15), "box area, share of the centred square",
                   "a hand or an object over part of the face"),
        Corruption("jpeg", "visible", (25, 18, 15, 10, 7), "JPEG quality", "compression by a camera or a video call"),
        Corruption("resolution", "visible", _RESOLUTION_FACTORS, "downscale factor per side",
                   "a distant or low-resolution camera"),
    ),
    "thermal": _by_name(
        Corruption("blur", "thermal", _BLUR_SIGMAS, "sigma, share of the shorter side", "defocus or a fogged lens"),
        Corruption("sensor_noise", "thermal", (20, 31, 46, 66, 97), "sigma, grey levels (column pattern sigma / 4)",
                   "detector noise with fixed-pattern column offsets"),
        Corruption("drift", "thermal", (8, 16, 25, 35, 45), "heat offset, grey levels (sign from rng)",
                   "the whole frame shifted as an ambient change or a warming camera would"),
        Corruption("resolution", "thermal", _RESOLUTION_FACTORS, "downscale factor per side",
                   "a low-resolution sensor"),
    ),
}


def _rounded(levels):
    """float grey levels -> uint8, rounded to the nearest level and clipped to 0..255."""
    return np.clip(np.rint(levels), 0, GREY_MAX).astype(np.uint8)


def _low_light(frame, gamma, rng):
    dark = ((np.arange(256) / GREY_MAX) ** gamma).astype(np.float32)[frame]
    spread = np.sqrt(dark / LOW_LIGHT_PHOTONS + (LOW_LIGHT_READ_NOISE / GREY_MAX) ** 2)
    return _rounded(GREY_MAX * (dark + spread * rng.standard_normal(frame.shape, dtype=np.float32)))


def _over_exposure(frame, gain, rng):
    return _rounded(frame * float(gain))


def _gaussian_blur(frame, sigma_share, rng):
    sigma = sigma_share * min(frame.shape[:2])
    return cv2.GaussianBlur(frame, (0, 0), sigma).reshape(frame.shape)


def line_kernel(length, angle):
    """float32 [k, k] (k odd, covering every nonzero weight) summing to 1: a segment of `length` pixels through the
    kernel's centre at `angle` radians (from +x towards +y). A pixel's weight is the share of its width along the
    segment that the segment covers, times max(0, 1 - its distance across the segment): a sampled box of `length`
    along the line, a one-pixel tent across it."""
    half = length / 2 + 0.5
    radius = int(np.ceil(np.hypot(half, 1.0)))
    y, x = np.mgrid[-radius:radius + 1, -radius:radius + 1].astype(np.float64)
    along = x * np.cos(angle) + y * np.sin(angle)
    across = -x * np.sin(angle) + y * np.cos(angle)
    weights = np.clip(half - np.abs(along), 0.0, 1.0) * np.maximum(0.0, 1.0 - np.abs(across))
    return (weights / weights.sum()).astype(np.float32)


def _motion_blur(frame, length_share, rng):
    angle = rng.uniform(0.0, np.pi)
    kernel = line_kernel(length_share * min(frame.shape[:2]), angle)
    return _rounded(cv2.filter2D(frame.astype(np.float32), -1, kernel).reshape(frame.shape))


def _occlusion(frame, area_share, rng):
    height, width = frame.shape[:2]
    side = min(height, width)
    box = int(round(np.sqrt(area_share) * side))
    top, left = (np.floor(rng.uniform(size=2) * (side - box + 1))).astype(int)
    top += (height - side) // 2
    left += (width - side) // 2
    occluded = frame.copy()
    occluded[top:top + box, left:left + box] = 0
    return occluded


def _jpeg(frame, quality, rng):
    colour = frame.shape[2] == 3
    encoded = cv2.imencode(".jpg", frame[:, :, ::-1] if colour else frame, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])[1]
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR if colour else cv2.IMREAD_GRAYSCALE)
    return (decoded[:, :, ::-1] if colour else decoded).reshape(frame.shape)


def _resolution(frame, factor, rng):
    height, width = frame.shape[:2]
    small = (max(1, round(factor * width)), max(1, round(factor * height)))
    low = cv2.resize(frame, small, interpolation=cv2.INTER_AREA)
    return cv2.resize(low, (width, height), interpolation=cv2.INTER_LINEAR).reshape(frame.shape)


def _sensor_noise(frame, sigma, rng):
    pixels = rng.normal(0.0, sigma, frame.shape)
    columns = rng.normal(0.0, COLUMN_NOISE_SHARE * sigma, (1, frame.shape[1], 1))
    return _rounded(frame + pixels + columns)


def _drift(frame, offset, rng):
    sign = 1 if rng.uniform() < 0.5 else -1
    return _rounded(frame.astype(np.float64) + sign * offset)


# Each (frame uint8 [H, W, C], the severity's level, rng) -> uint8 [H, W, C].
_APPLY = {
    "low_light": _low_light,
    "over_exposure": _over_exposure,
    "gaussian_blur": _gaussian_blur,
    "motion_blur": _motion_blur,
    "occlusion": _occlusion,
    "jpeg": _jpeg,
    "resolution": _resolution,
    "blur": _gaussian_blur,
    "sensor_noise": _sensor_noise,
    "drift": _drift,
}


def corrupt_frame(frame, modality, name, severity, rng, palette=None):
    """uint8 [H, W, C] (C 1 or 3) -> uint8 [H, W, C]: `frame` under corruption `name` of `modality` at `severity`
    (1..5), every random value from `rng` (module docstring). `palette`: the palette a 3-channel thermal frame was
    written with (pipelines.palettes; required there, unused otherwise). ValueError naming the argument for an
    unknown modality or name, a severity outside 1..5, a frame that is not uint8 [H, W, 1 or 3], a missing
    palette; PaletteMismatch (a ValueError) for a thermal frame whose colours do not fit `palette`."""
    if modality not in FRAME_CORRUPTIONS:
        raise ValueError(f"modality must be one of {', '.join(FRAME_CORRUPTIONS)}, got {modality!r}")
    if name not in FRAME_CORRUPTIONS[modality]:
        raise ValueError(f"name must be a {modality} corruption ({', '.join(FRAME_CORRUPTIONS[modality])}), "
                         f"got {name!r}")
    corruption = FRAME_CORRUPTIONS[modality][name]
    level = corruption.level(severity)
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        raise ValueError(f"frame must be a uint8 array, got {getattr(frame, 'dtype', type(frame).__name__)}")
    if frame.ndim != 3 or frame.shape[2] not in (1, 3) or 0 in frame.shape:
        raise ValueError(f"frame must be [H, W, C] with H, W >= 1 and C 1 or 3, got shape {frame.shape}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    apply = _APPLY[name]
    if modality == "visible" or frame.shape[2] == 1:
        return apply(frame, level, rng)
    if palette is None:
        raise ValueError("palette must name the palette of a 3-channel (colour-mapped) thermal frame, got None")
    heat = palettes.invert(frame.astype(np.float32) / GREY_MAX, palette)
    corrupted = apply(_rounded(GREY_MAX * heat), level, rng)
    return palettes.colour_map(corrupted[:, :, 0], palette)
