"""Fixed linear feature maps as matrices, one definition for NumPy, for Keras layers and for TensorFlow graphs.

- `area_weights`: cv2's INTER_AREA shrink of one image axis as a [target, source] weight matrix (an image
  [H, W] shrinks to Wh @ image @ Ww^T). avtfuse.serving.raw_frames builds it in the graph from dynamic frame
  sizes; avtfuse.layers.area_resize builds it once from static ones.
- `mfcc_matrix`: the orthonormal DCT-II over the mel axis that `librosa.feature.mfcc(S=log_mel.T, n_mfcc)`
  applies (scipy's dct, type 2, norm "ortho", no liftering), as a [n_mels, min(n_mfcc, n_mels)] matrix that
  a time-major log-mel [T, n_mels] multiplies on the right.
"""

import numpy as np
import scipy.fft

AREA_PART_DROPPED = 1000  # cv2's INTER_AREA drops a source pixel's part of at most 1/1000 pixel
N_MFCC = 20  # MFCCs of the reference features (avtfuse.evaluation.reference)
IMAGE_SIZE = 16  # pixels per side of the reference features' downsampled image


def area_weights(outputs, pixels, source, target, xp=np):
    """float32 [target, source]: cv2 INTER_AREA's weights for shrinking an axis of `source` pixels to `target`
    (target <= source).

    outputs: int32 [target, 1], 0 .. target - 1; pixels: int32 [1, source], 0 .. source - 1 (the caller makes
    them: NumPy's arange, or tf.range for sizes only known in a graph); source, target: ints or int32 scalar
    tensors. xp: the array module, numpy or tensorflow.experimental.numpy (the ops it emits: Minimum, Maximum,
    Sub, Mul, Greater, Cast, RealDiv, SelectV2; all LiteRT builtins).

    A weight is the part of source pixel [j, j + 1) inside output cell [i s, (i + 1) s), s = source / target,
    over s; positions are exact int32 multiples of 1 / target pixel (while 2 source target < 2^31). cv2 drops
    parts of at most 1 / AREA_PART_DROPPED pixel: none below 1000 outputs (a part is a multiple of 1 / target);
    from 1000 on, one of exactly 1/1000 goes either way by cv2's double rounding.
    """
    overlap = (xp.minimum((pixels + 1) * target, (outputs + 1) * source)
               - xp.maximum(pixels * target, outputs * source))  # <= 0 where the cell misses the pixel
    share = xp.asarray(overlap, xp.float32) / xp.asarray(source, xp.float32)
    return xp.where(overlap * AREA_PART_DROPPED > target, share, xp.float32(0))


def area_matrix(source, target):
    """float32 [target, source] (NumPy): `area_weights` for static sizes, 1 <= target <= source."""
    if not 1 <= target <= source:
        raise ValueError(f"area_matrix target: expected 1 <= target <= source ({source}), got {target}")
    outputs = np.arange(target, dtype=np.int32)[:, None]
    pixels = np.arange(source, dtype=np.int32)[None, :]
    return area_weights(outputs, pixels, source, target)


def mfcc_matrix(n_mels, n_mfcc=N_MFCC):
    """float32 [n_mels, min(n_mfcc, n_mels)]: log-mel [T, n_mels] @ it = the MFCCs [T, K] librosa gives
    (`librosa.feature.mfcc(S=log_mel.T, n_mfcc=n_mfcc)`, transposed)."""
    if n_mels < 1 or n_mfcc < 1:
        raise ValueError(f"mfcc_matrix: expected n_mels >= 1 and n_mfcc >= 1, got {n_mels} and {n_mfcc}")
    basis = scipy.fft.dct(np.eye(n_mels), type=2, norm="ortho", axis=0)  # [n_mels, n_mels]: dct(x) = basis @ x
    return basis[:n_mfcc].T.astype(np.float32)
