"""`--thermal-palette auto`: the palette a data set's colour-mapped thermal frames were written with, chosen once
per run from a sample of them (`settle_palette`), before the feature cache is keyed and built.

A frame's fit to a palette (`fits`) is the mean, over its pixels, of the Euclidean distance (RGB in [0, 1])
from each pixel to the nearest of the palette's 256 colours (pipelines.palettes); about 0 for a frame written
with that palette and stored losslessly. Frames are first subsampled by nearest neighbour (no new colours) to at
most FIT_SIDE x FIT_SIDE pixels. The nearest colour is looked up, not searched: a 32 x 32 x 32 grid over 8-bit
RGB stores, per cell and palette, the palette colour nearest the cell's centre, and a pixel's distance is its
exact distance to its cell's colour (never below the exact nearest distance, at most the cell's diagonal 0.047
above it, 0.0005 above it on average over a JPEG frame). A few ms per 64 x 64 frame for all palettes at once;
the grid is built once per process (about a second).

The choice (`choose_palette`) is the palette of least fit, averaged over the sampled colour frames, provided
  - that fit is at most palettes.MAX_MEAN_DISTANCE (the frames fit it at all), and
  - the runner-up's fit is at least MARGIN above it;
otherwise it is refused with one line naming the two best palettes and their fits. Grey frames (R = G = B)
fit "grey" (distance about 0). One-channel frames carry the heat itself and take no palette: a sample of only those
settles on "grey".

MARGIN = 0.01 (RGB [0, 1] units, on the mean fit), chosen from frames re-encoded as JPEG at quality 30
(cv2.imencode): 77 heat frames of 64 x 64 (36 synthetic SpeakingFaces heads, 40 smooth random heat fields over
partial ranges, a ramp) written through each palette; tests/pipelines/test_palette_choice.py repeats the
measurement on 10 such frames. The right palette fitted best in every frame; the smallest gap to the
runner-up, per frame, was 0.015 for iron (against inferno), 0.022 for magma (inferno), 0.029 for inferno
(magma) and 0.020 for grey (bone), and 0.036 or more for those palettes as PNG. MARGIN lies below all of
these, so a sample of such frames clears it even were every frame the hardest one, and twenty times above the
lookup's mean error, so a sample that clears it is not decided by the lookup. (Jet frames confined to its
dark-red end resemble "hot" on their own, gap 0.003; a sample spanning an ordinary heat range clears the
margin.) Guessing below it between close palettes (iron, inferno and magma all run black -> purple -> orange
-> yellow) would decode every frame wrong without a word; a forced --thermal-palette decides instead.
"""

import dataclasses
import functools
import logging

import cv2
import numpy as np
from scipy.spatial import cKDTree

from pipelines import image, palettes
from pipelines.errors import DataError
from pipelines.features import is_feature_file

logger = logging.getLogger(__name__)

SAMPLE_FRAMES = 16  # thermal frames read to choose the palette, spread over the recordings
FIT_SIDE = 64  # frames are subsampled to at most FIT_SIDE x FIT_SIDE pixels before fitting
MARGIN = 0.01  # least fit difference between the chosen palette and the runner-up (module docstring)
_CELL_BITS = 3  # 8-bit levels >> 3: 32 cells per channel
SHOWN_MISFITS = 3  # frames named in the log line of those that fit another palette better


class PaletteMismatch(palettes.PaletteMismatch):
    """Sampled thermal frames that fit no palette, or two palettes about equally."""


@dataclasses.dataclass(frozen=True)
class PaletteChoice:
    """The palette chosen for a sample of frames: `palette` and its mean `fit`, the `runner_up` and its fit,
    the number of colour `frames` fitted and `misfits`, the (frame name, palette it fits best) of those that
    fit another palette better on their own."""

    palette: str
    fit: float
    runner_up: str
    runner_up_fit: float
    frames: int
    misfits: tuple = ()


@functools.cache
def _lookup():
    """int32 [32 ** 3 cells, 3 channels, P]: the 8-bit RGB of each palette's colour (PALETTES order) nearest each
    cell's centre, cell-major so that a pixel gathers one contiguous block."""
    cells = 256 >> _CELL_BITS
    centre = (np.arange(cells) * (1 << _CELL_BITS) + ((1 << _CELL_BITS) - 1) / 2.0) / 255.0
    grid = np.stack(np.meshgrid(centre, centre, centre, indexing="ij"), axis=-1).reshape(-1, 3)
    nearest = []
    for name in palettes.PALETTES:
        table = palettes.lookup_table(name)
        nearest.append(np.round(table[cKDTree(table).query(grid)[1]] * 255.0).astype(np.int32))  # [cells, 3]
    return np.ascontiguousarray(np.stack(nearest, axis=2))


def fits(frame):
    """float32 [P]: the fit (module docstring) of an RGB frame float [H, W, 3] in [0, 1] to each palette of
    palettes.PALETTES, in that order. ValueError for a frame that is not [H, W, 3]."""
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"fits needs an RGB frame [H, W, 3], got shape {frame.shape}")
    rows = np.linspace(0, frame.shape[0] - 1, min(frame.shape[0], FIT_SIDE)).round().astype(int)
    columns = np.linspace(0, frame.shape[1] - 1, min(frame.shape[1], FIT_SIDE)).round().astype(int)
    levels = np.round(np.clip(frame[rows][:, columns], 0.0, 1.0) * 255.0).astype(np.int32).reshape(-1, 3)
    codes, counts = np.unique((levels[:, 0] << 16) | (levels[:, 1] << 8) | levels[:, 2], return_counts=True)
    colours = np.stack([codes >> 16, (codes >> 8) & 255, codes & 255], axis=1)  # [N, 3] distinct colours
    cells = colours >> _CELL_BITS
    bits = 8 - _CELL_BITS
    cell = (cells[:, 0] << (2 * bits)) | (cells[:, 1] << bits) | cells[:, 2]
    squared = np.square(_lookup()[cell] - colours[:, :, np.newaxis]).sum(axis=1)  # [N, P]
    return counts.astype(np.float32) @ (np.sqrt(squared.astype(np.float32)) / 255.0) / counts.sum()


def choose_palette(frames):
    """The PaletteChoice for `frames`, (name, float frame [H, W, C] in [0, 1]) pairs, C = 3 (C = 1 frames carry no
    palette and are passed over). Raises PaletteMismatch naming the two best palettes when their mean fit is
    above palettes.MAX_MEAN_DISTANCE or within MARGIN of each other; ValueError when no frame has 3 channels."""
    names, per_frame = [], []
    for name, frame in frames:
        if frame.ndim == 3 and frame.shape[2] == 3:
            names.append(name)
            per_frame.append(fits(frame))
    if not per_frame:
        raise ValueError("choose_palette needs at least one 3-channel frame")
    per_frame = np.stack(per_frame)  # [F, P]
    mean = per_frame.mean(axis=0)
    best, second = np.argsort(mean, kind="stable")[:2]
    choice = PaletteChoice(palettes.PALETTES[best], float(mean[best]), palettes.PALETTES[second],
                           float(mean[second]), len(names),
                           tuple((n, palettes.PALETTES[i]) for n, i in zip(names, per_frame.argmin(axis=1))
                                 if i != best))
    if choice.fit > palettes.MAX_MEAN_DISTANCE or choice.runner_up_fit - choice.fit < MARGIN:
        why = (f"even the best lies {choice.fit:.3f} from its colours (at most {palettes.MAX_MEAN_DISTANCE})"
               if choice.fit > palettes.MAX_MEAN_DISTANCE else f"they lie within {MARGIN} of each other")
        raise PaletteMismatch(
            f"the {choice.frames} sampled colour thermal frames fit no palette clearly: best {choice.palette!r} "
            f"(mean distance {choice.fit:.3f}), then {choice.runner_up!r} ({choice.runner_up_fit:.3f}); {why}; "
            "name the palette with --thermal-palette")
    return choice


def sample_paths(paths, count=SAMPLE_FRAMES):
    """Up to `count` of `paths`, spread evenly over them (first and last included), in order."""
    if len(paths) <= count:
        return list(paths)
    return [paths[i] for i in np.linspace(0, len(paths) - 1, count).round().astype(int)]


def settle_palette(recordings, modalities, features, frame, source):
    """`features` (a FeatureConfig) with thermal_palette "auto" replaced by the palette chosen from a sample of
    the recordings' thermal media frames (the frame `frame` of SAMPLE_FRAMES of them, spread over the
    recordings); unchanged when the palette is named, thermal is not among `modalities` or no recording has a
    thermal media file. Logs the choice, its fit and the sampled frames that fit another palette better. Frames
    that cannot be read are passed over (the decoding pass reports them). Raises DataError naming `source` when
    the frames fit no palette clearly."""
    if features.thermal_palette != "auto" or "thermal" not in modalities:
        return features
    paths = [r.thermal for r in recordings if r.thermal and not is_feature_file(r.thermal)]
    if not paths:
        return features
    sample = []
    for path in sample_paths(paths):
        try:
            sample.append((path, image.read_frame(path, frame, features.max_image_pixels, features.max_video_frames)))
        except (DataError, cv2.error, OSError):
            continue
    if not sample:
        logger.warning("thermal palette: grey (none of the %d sampled thermal frames could be read)",
                       len(sample_paths(paths)))
        return features.replace(thermal_palette="grey")
    if not any(f.shape[2] == 3 for _, f in sample):
        logger.info("thermal palette: grey (the %d sampled thermal frames are one-channel heat)", len(sample))
        return features.replace(thermal_palette="grey")
    try:
        choice = choose_palette(sample)
    except PaletteMismatch as error:
        raise DataError(source, str(error)) from None
    logger.info("thermal palette: %s, chosen from %d sampled frames (mean distance %.3f; next %s, %.3f)",
                choice.palette, choice.frames, choice.fit, choice.runner_up, choice.runner_up_fit)
    if choice.misfits:
        shown = ", ".join(f"{name} ({palette})" for name, palette in choice.misfits[:SHOWN_MISFITS])
        logger.warning("thermal palette: %d of the %d sampled frames fit another palette better on their own: %s%s",
                       len(choice.misfits), choice.frames, shown, ", ..." if len(choice.misfits) > SHOWN_MISFITS
                       else "")
    return features.replace(thermal_palette=choice.palette)
