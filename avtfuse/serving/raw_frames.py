"""In-graph raw frames -> the model's frames (frames = 0: one frame per recording), portable to LiteRT and ONNX.

`visible_frames` and `thermal_frames` take uint8 frames [B, H, W, C] of any
size (B, H, W may be dynamic; C may be unknown when the graph is traced) and
give what pipelines.image.load_visible / load_thermal give for the same image
followed by the feature cache's storage (pipelines.image.to_uint8, read back as
k / 255), within 1/255 (max abs):

  1. /255 (a client turns a 16-bit image into these uint8 frames as
     round(x / 257); the pipeline divides it by 65535: at most 0.5/255 apart,
     so within 1/255 after the storage's rounding);
  2. thermal only: 3 channels are inverted through the palette (below);
  3. the crop (`features.frame_crop`: "full", or "center": the largest centred
     square);
  4. resizing to `features.image_size` by cv2's rule: INTER_AREA when shrinking
     both sides (or keeping one), else INTER_LINEAR (half-pixel, edges
     clamped), as per-axis weight matrices [h, H] and [w, W] built in the graph
     from the dynamic size and applied as two matmuls (tf.image.resize's area
     mode has no LiteRT builtin); within 1e-6 of cv2.resize on float32 for
     outputs under 1000 pixels a side;
  5. round(255 x) / 255, the cache's uint8 levels.

Thermal palette inversion (`palette` fixed when the graph is traced): heat =
index / 255 of the nearest of the palette's 256 colours (palettes.invert).
Each pixel's colour cell (8 x 8 x 8 levels) gathers its few candidate indices
from `palette_candidates` (a uint8 constant of 32768 x K bytes, under 400 KiB;
K = 9 for iron and inferno), and the nearest candidate by exact integer
squared distance wins, the lower index on a tie (working memory: [B, H, W, K]
int32 tensors, a few times 4 K bytes per pixel). palettes.invert settles exact
ties by its k-d tree's search order instead: a frame holding only palette
colours (png, tiff) inverts exactly, but a lossy one differs where a pixel lies
exactly as near two colours (measured on 120 x 160 iron and inferno JPEGs at
quality 30-90: 3-5 % of pixels, up to 6 levels at the frame's own size; within
1/255 after shrinking to 48 x 48). The palette fit of a frame is the mean
distance (RGB [0, 1]) from its pixels to their nearest palette colour, as
palettes.invert computes it (within 1e-5). Palette "grey" with 3 channels
gives the channels' mean as heat and the frame's largest channel spread as
fit (load_thermal's test); 1-channel frames are the heat, fit 0. A caller
refuses a frame whose fit exceeds `palette_fit_limit(palette)`, as
load_thermal refuses it.

Every op converts with TF's LiteRT converter (TFLITE_BUILTINS only) and with
tf2onnx (opset 17), at a fixed input shape and with B, H, W dynamic (no
control flow). Converted at [1, 40, 52, 3] to 16 x 16: visible 8 KB (LiteRT)
and 7 KB (ONNX), thermal with iron 312 KB and 308 KB, the candidate table
(288 KiB) included; with H, W dynamic about 7 KB more each.
"""

import functools

import numpy as np
import tensorflow as tf
import tensorflow.experimental.numpy as tnp
from scipy import ndimage
from scipy.spatial import cKDTree

from pipelines import image, palettes
from pipelines.feature_matrices import area_weights

_LEVELS = image.UINT8_MAX
_CELL = 8  # colour levels per side of a cell of palette_candidates


def palette_fit_limit(palette):
    """The largest palette fit `thermal_frames` gives for a frame load_thermal accepts: palettes.MAX_MEAN_DISTANCE
    for a colour palette, image.GREY_SPREAD (+1e-6, load_thermal's slack) for "grey"."""
    return image.GREY_SPREAD + 1e-6 if palettes.check_palette(palette) == "grey" else palettes.MAX_MEAN_DISTANCE


def visible_frames(frames, features):
    """uint8 [B, H, W, 3 or 1 (grey, replicated)] -> float32 [B, h, w, 3] in [0, 1], h, w = features.image_size
    (module steps)."""
    frames = _check_frames(frames, "visible frames")
    images = tf.cast(_crop(frames, features.frame_crop), tf.float32) / _LEVELS
    resized = _quantised(resize_frames(images, features.image_size))
    if frames.shape[-1] == 3:
        return resized
    return tf.broadcast_to(resized, tf.concat([tf.shape(resized)[:3], [3]], axis=0))


def thermal_frames(frames, features, palette):
    """uint8 [B, H, W, 1 (heat) or 3 (colour-mapped with `palette`)] -> (heat float32 [B, h, w, 1] in [0, 1],
    palette fit float32 [B]) (module steps; a caller refuses fits above palette_fit_limit(palette)). With the
    channel count unknown when traced, both readings are computed and one selected per call (a select converts
    to LiteRT where tf.cond's IF fails to prepare for a 1-channel input)."""
    name = palettes.check_palette(palette)
    frames = _check_frames(frames, "thermal frames")
    cropped = _crop(frames, features.frame_crop)
    channels = frames.shape[-1]
    if channels == 1:
        heat, fit = _heat_of_grey(cropped)
    elif channels == 3:
        heat, fit = _heat_of_colour(cropped, name)
    else:
        single = tf.equal(tf.shape(cropped)[3], 1)
        colour = tf.broadcast_to(cropped, tf.concat([tf.shape(cropped)[:3], [3]], axis=0))
        grey_heat, grey_fit = _heat_of_grey(colour[..., :1])
        colour_heat, colour_fit = _heat_of_colour(colour, name)
        heat, fit = tf.where(single, grey_heat, colour_heat), tf.where(single, grey_fit, colour_fit)
    return _quantised(resize_frames(heat, features.image_size)), fit


def resize_frames(images, size):
    """float32 [B, H, W, C] (H, W dynamic) -> [B, h, w, C], size = (h, w), as pipelines.image resizes (module
    step 4): out = Wh @ image @ Ww^T per channel, the weights built in the graph from H and W."""
    shape = tf.shape(images)
    height, width = size
    shrinking = tf.logical_and(shape[1] >= height, shape[2] >= width)
    rows = _axis_weights(shape[1], height, shrinking)  # [h, H]
    columns = _axis_weights(shape[2], width, shrinking)  # [w, W]
    channels_first = tf.transpose(images, [0, 3, 1, 2])  # [B, C, H, W]
    resized = tf.matmul(tf.matmul(rows, channels_first), columns, transpose_b=True)  # [B, C, h, w]
    return tf.transpose(resized, [0, 2, 3, 1])


@functools.cache
def palette_candidates(palette):
    """uint8 [32768, K] (read-only): for each cell of 8 x 8 x 8 colours at 8-bit precision (code (R >> 3) << 10 |
    (G >> 3) << 5 | B >> 3), the palette indices nearest to some colour in it, ascending, padded with the first.

    A nearest index of each of the 256^3 colours comes from an exact Euclidean distance transform over the
    colour cube seeded with the palette's colours (scipy.ndimage: about 3 s and 300 MB; a colour the palette
    holds twice keeps the index palettes.invert gives it); a cell's candidates are the distinct indices of its
    512 colours, so the nearest candidate of any colour is as near as the nearest of all 256. K (the most in
    one cell) is 9 for iron and inferno, 12 for jet, 8 to 12 for the others measured: the constant is
    32768 K bytes, 256-384 KiB. Built once per palette and process. A full table (the nearest index of every
    8-bit colour, 16 MiB) would save the candidates' search but not the build, and would weigh 16 MiB in
    every exported model; a table at 6 bits with a +-4 index window around each cell's nearest is wrong for
    2.4 % of all colours, up to 16 levels within 0.1 of the palette (measured on iron).
    """
    name = palettes.check_palette(palette)
    table = palettes.lookup_table(name)
    levels = np.rint(table * _LEVELS).astype(np.int32)
    codes = (levels[:, 0] * 256 + levels[:, 1]) * 256 + levels[:, 2]
    _, first_index = cKDTree(table).query(table)  # palettes.invert's index of each palette colour
    labels = np.zeros(256 ** 3, np.uint8)
    labels[codes] = first_index
    background = np.ones(256 ** 3, bool)
    background[codes] = False
    seeds = ndimage.distance_transform_edt(background.reshape((256,) * 3), return_distances=False,
                                           return_indices=True)  # [3, 256, 256, 256]: the nearest seed's levels
    nearest = labels[(seeds[0] * 256 + seeds[1]) * 256 + seeds[2]]
    del seeds
    cells = np.arange(256, dtype=np.int32) // _CELL
    side = 256 // _CELL
    cell_codes = (cells[:, None, None] * side + cells[None, :, None]) * side + cells[None, None, :]
    present = np.zeros((side ** 3, 256), bool)  # [cell, palette index]: the index is nearest somewhere in the cell
    present[cell_codes.ravel(), nearest.ravel()] = True
    rows, indices = np.nonzero(present)  # row-major: each cell's indices in increasing order
    rank = np.arange(rows.size) - np.searchsorted(rows, rows)
    candidates = np.repeat(indices[np.searchsorted(rows, np.arange(side ** 3))][:, None], rank.max() + 1, axis=1)
    candidates[rows, rank] = indices
    candidates = candidates.astype(np.uint8)
    candidates.setflags(write=False)
    return candidates


def _check_frames(frames, name):
    """`frames` as a uint8 tensor [B, H, W, C]; ValueError naming `name` for another dtype, rank or a static
    channel count other than 1 or 3."""
    frames = tf.convert_to_tensor(frames)
    if frames.dtype != tf.uint8:
        raise ValueError(f"{name}: expected uint8 frames [B, H, W, C], got dtype {frames.dtype.name}")
    if frames.shape.rank != 4 or frames.shape[-1] not in (None, 1, 3):
        raise ValueError(f"{name}: expected uint8 frames [B, H, W, C in {{1, 3}}], got shape {frames.shape}")
    return frames


def _crop(frames, crop):
    """[B, H, W, C] -> the crop of image.FRAME_CROPS: "full" (unchanged) or "center" (largest centred square)."""
    if crop == "full":
        return frames
    if crop != "center":
        raise ValueError(f"frame_crop must be one of {image.FRAME_CROPS}, got {crop!r}")
    shape = tf.shape(frames)
    side = tf.minimum(shape[1], shape[2])
    top, left = (shape[1] - side) // 2, (shape[2] - side) // 2
    return tf.slice(frames, tf.stack([0, top, left, 0]), tf.stack([shape[0], side, side, shape[3]]))


def _heat_of_grey(frames):
    """1-channel uint8 [B, H, W, 1] -> (heat [B, H, W, 1], fit 0 [B])."""
    return tf.cast(frames, tf.float32) / _LEVELS, tf.zeros(tf.shape(frames)[:1], tf.float32)


def _heat_of_colour(frames, palette):
    """3-channel uint8 [B, H, W, 3] -> (heat [B, H, W, 1], fit [B]) through `palette` (module docstring)."""
    if palette == "grey":
        colours = tf.cast(frames, tf.float32) / _LEVELS
        spread = tf.reduce_max(colours, axis=3) - tf.reduce_min(colours, axis=3)
        return tf.reduce_mean(colours, axis=3, keepdims=True), tf.reduce_max(spread, axis=[1, 2])
    levels = tf.cast(frames, tf.int32)
    cell = levels // _CELL
    side = 256 // _CELL
    codes = (cell[..., 0] * side + cell[..., 1]) * side + cell[..., 2]
    candidates = tf.cast(tf.gather(tf.constant(palette_candidates(palette)), codes), tf.int32)  # [B, H, W, K]
    palette_levels = np.rint(palettes.lookup_table(palette) * _LEVELS).astype(np.int32)
    squared = 0  # exact squared distance in levels^2, [B, H, W, K]
    for channel in range(3):
        difference = levels[..., channel:channel + 1] - tf.gather(tf.constant(palette_levels[:, channel]), candidates)
        squared += difference * difference
    nearest = tf.reduce_min(squared, axis=3, keepdims=True)
    index = tf.reduce_min(tf.where(tf.equal(squared, nearest), candidates, 256), axis=3, keepdims=True)
    distance = tf.sqrt(tf.cast(nearest, tf.float32)) / _LEVELS
    return tf.cast(index, tf.float32) / _LEVELS, tf.reduce_mean(distance, axis=[1, 2, 3])


def _axis_weights(source, target, area):
    """float32 [target, source] weights of one axis: cv2 INTER_AREA's (`area` true; pipelines.feature_matrices)
    or INTER_LINEAR's. Positions are int32 multiples of 1 / target source pixel (1 / (2 target) for the
    half-pixel centres), exact at any frame size (while 2 source target < 2^31): a weight is as cv2's double
    precision gives it, to float32."""
    outputs = tf.range(target)[:, tf.newaxis]  # [target, 1]
    pixels = tf.range(source)[tf.newaxis, :]  # [1, source]
    shrinking_weights = area_weights(outputs, pixels, source, target, tnp)
    # INTER_LINEAR: the two neighbours of the half-pixel position (i + 0.5) s - 0.5, clamped at the edges.
    position = (2 * outputs + 1) * source + target  # (position + 1) times 2 target: >= 0, so that ONNX's
    left = position // (2 * target) - 1  # truncating integer division floors it
    fraction = tf.cast(position % (2 * target), tf.float32) / tf.cast(2 * target, tf.float32)
    fraction = tf.where(tf.logical_or(left < 0, left >= source - 1), 0.0, fraction)
    left = tf.clip_by_value(left, 0, source - 1)
    right = tf.minimum(left + 1, source - 1)
    linear_weights = (tf.where(tf.equal(pixels, left), 1.0 - fraction, 0.0)
                      + tf.where(tf.equal(pixels, right), fraction, 0.0))
    return tf.where(area, shrinking_weights, linear_weights)


def _quantised(frames):
    """Float frames -> round(255 x) / 255 clipped to [0, 1], the feature cache's uint8 levels read back."""
    return tf.clip_by_value(tf.round(frames * _LEVELS), 0.0, _LEVELS) / _LEVELS
