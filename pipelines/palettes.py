"""Thermal colour palettes: 256-colour lookup tables and their inversion back to heat.

A colour-mapped thermal frame stores heat h in [0, 1] as the colour
`lookup_table(palette)[round(255 * h)]`. `invert` undoes that by finding, for
every pixel, the nearest of the palette's 256 colours (Euclidean distance in
RGB [0, 1], colours compared at 8-bit precision): heat = that index / 255.
Luminance is never used: most palettes are not monotonic in it.

Palettes (`PALETTES`; aliases "gray" -> "grey", "ironbow" -> "iron"):
  - "grey": the identity ramp, R = G = B = index / 255.
  - "iron": the FLIR-style ironbow ramp, black -> deep blue -> purple -> red
    -> orange -> yellow -> white, linear between the anchors `IRON_ANCHORS`
    and stored at 8-bit precision.
  - every OpenCV colormap ("inferno", "jet", "hot", "turbo", ...): the table
    cv2.applyColorMap gives for the ramp 0..255, BGR turned to RGB. The cyclic
    maps "hsv" and "twilight" are left out: they begin and end on the same
    colour, so their lowest and highest heat cannot be told apart.

A frame is refused (`PaletteMismatch`) when the mean distance from its pixels
to their nearest palette colour exceeds `MAX_MEAN_DISTANCE` = 0.08: it was not
written with that palette. Measured on 8-bit frames: the right palette stays
below 0.04 even after JPEG at quality 30; palettes of one family (iron,
inferno, magma: black -> purple -> orange -> yellow) lie 0.05-0.10 from each
other and invert into each other monotonically, within 12/255 on average;
palettes of other families (jet, hot, turbo, grey, ...) lie 0.12 or more away
and are refused.
"""

import functools

import cv2
import numpy as np
from scipy.spatial import cKDTree

MAX_MEAN_DISTANCE = 0.08  # RGB [0, 1] units, mean over the frame's pixels

# (position in [0, 1], RGB 0..255) anchors of the ironbow ramp, linearly interpolated.
IRON_ANCHORS = (
    (0.00, (0, 0, 0)),  # black
    (0.15, (30, 0, 120)),  # deep blue
    (0.35, (140, 0, 155)),  # purple
    (0.55, (215, 45, 55)),  # red
    (0.72, (250, 130, 0)),  # orange
    (0.87, (255, 215, 0)),  # yellow
    (1.00, (255, 255, 255)),  # white
)
_CYCLIC_OPENCV = ("hsv", "twilight")
_OPENCV = sorted(
    {name.removeprefix("COLORMAP_").lower() for name in dir(cv2) if name.startswith("COLORMAP_")} - set(_CYCLIC_OPENCV)
)
PALETTES = ("grey", "iron", *_OPENCV)
ALIASES = {"gray": "grey", "ironbow": "iron"}


class PaletteMismatch(ValueError):
    """A colour frame that does not look like it was written with the palette asked for."""


def check_palette(palette):
    """The normalised palette name (lower case, aliases resolved); ValueError listing the choices."""
    name = palette.lower() if isinstance(palette, str) else None
    name = ALIASES.get(name, name)
    if name not in PALETTES:
        raise ValueError(
            f"unknown thermal palette {palette!r}; choose one of {', '.join(PALETTES)} "
            f"(aliases: {', '.join(f'{a} = {n}' for a, n in ALIASES.items())})"
        )
    return name


@functools.cache
def lookup_table(palette):
    """float32 [256, 3] RGB in [0, 1] (read-only): the colour of heat index / 255 for index 0..255."""
    name = check_palette(palette)
    ramp = np.arange(256)
    if name == "grey":
        table = np.repeat(ramp[:, np.newaxis], 3, axis=1).astype(np.float32) / 255.0
    elif name == "iron":
        positions, colours = zip(*IRON_ANCHORS, strict=True)
        channels = [np.interp(ramp / 255.0, positions, [c[i] for c in colours]) for i in range(3)]
        table = np.round(np.stack(channels, axis=1)).astype(np.float32) / 255.0
    else:
        colormap = getattr(cv2, f"COLORMAP_{name.upper()}")
        bgr = cv2.applyColorMap(ramp.astype(np.uint8)[:, np.newaxis], colormap).reshape(256, 3)
        table = bgr[:, ::-1].astype(np.float32) / 255.0
    table.setflags(write=False)
    return table


def colour_map(heat, palette):
    """uint8 heat [...] (0 cold .. 255 hot) -> uint8 RGB [..., 3]: each level's colour in lookup_table(palette)."""
    heat = np.asarray(heat)
    if heat.dtype != np.uint8:
        raise ValueError(f"colour_map needs uint8 heat levels, got dtype {heat.dtype}")
    return np.round(lookup_table(palette) * 255.0).astype(np.uint8)[heat]


@functools.cache
def _tree(palette):
    """Nearest-colour search tree over lookup_table(palette)."""
    return cKDTree(lookup_table(palette))


def invert(image, palette):
    """float32 [H, W, 3] RGB in [0, 1] -> heat float32 [H, W, 1] in [0, 1] (nearest palette index / 255).

    Raises PaletteMismatch (a ValueError) when the mean distance to the
    nearest palette colour exceeds MAX_MEAN_DISTANCE, ValueError for an
    unknown palette or an image that is not [H, W, 3].
    """
    name = check_palette(palette)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"invert needs an RGB image [H, W, 3], got shape {image.shape}")
    # Palette frames hold few distinct colours: search each distinct 8-bit colour once.
    levels = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.int32)
    codes = (levels[..., 0] << 16) | (levels[..., 1] << 8) | levels[..., 2]
    unique, inverse = np.unique(codes.ravel(), return_inverse=True)
    colours = np.stack([unique >> 16, (unique >> 8) & 255, unique & 255], axis=1).astype(np.float32) / 255.0
    distance, index = _tree(name).query(colours)
    mean_distance = float(distance[inverse].mean())
    if mean_distance > MAX_MEAN_DISTANCE:
        raise PaletteMismatch(
            f"colours do not match the {name!r} palette: mean distance {mean_distance:.3f} to its nearest colour "
            f"exceeds {MAX_MEAN_DISTANCE} (RGB [0, 1] units); was the frame written with another palette?"
        )
    heat = index[inverse].astype(np.float32) / 255.0
    return heat.reshape(*image.shape[:2], 1)
