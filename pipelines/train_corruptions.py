"""Training with corruptions (`--corrupt-train P`): a share P of training samples each meets one corruption, in the
graph, on the cached features, every draw stateless.

The evaluation's corruptions (pipelines.corruptions) act on decoded files; these are their in-graph counterparts on
what the feature cache holds, at the same levels (`levels(modality, name)`: the evaluation tables' parameter at
severities 1..5). Per training sample, uniforms seeded by (the epoch's seed, its recording id) (`recording_draws`)
decide whether it is corrupted (u < P), which corruption among those of its present modalities (uniformly; babble
only where the batch holds a partner) and its severity (1..5 uniformly):

| modality | name | on the cached form |
|---|---|---|
| audio | noise | coloured noise (band power ~ f_c^-beta, f_c the Slaney mel band's centre, beta in NOISE_EXPONENTS; each cell's power exponential, as one periodogram bin's) mixed in the power domain at the level's SNR over the sample's recorded cells |
| audio | babble | another recording of the batch (not a copy of this one, its audio present; the batch holds training samples alone), mixed likewise; its silent (zero) steps add nothing |
| audio | reverb | each band's power convolved over time with 10^(-6 k / (RT60 x frame rate)), k = 0, 1, ... frames, then scaled back to the input's mean power |
| audio | clipping | each cell's power limited at (the sample's loudest cell) x share^2, the removed power of a frame spread evenly over its bands (distortion): the frame's power is kept |
| visible | low_light, over_exposure, gaussian_blur, occlusion, resolution | as pipelines.corruptions.frames says, on [0, 1] values (grey levels / 255) |
| thermal | blur, sensor_noise, drift, resolution | likewise, on the cached values (a colour-mapped 3-channel thermal frame is changed as colours) |

Log-mels are dB power (pipelines.audio); MFCCs [T, n_mfcc] are taken back to the cepstrally smoothed log-mel (the
orthonormal DCT-III of the coefficients padded with zeros to n_mels bands), corrupted, and turned into MFCCs again.
Frames [H, W, C] or [T, H, W, C] in [0, 1]: every frame of a sequence meets the same corruption (its pixel noise
drawn per frame); geometric levels are shares of the cached frame's shorter side (a resolution factor too: on a
small cache it removes more than on the source). Motion blur, JPEG and the telephone channel have no in-graph
form here. `.npy` features (kind None) are never corrupted. Only a present modality changes, a missing step stays
zero, and `<m>_full` gets the same change (augmentation.where_recorded). At P = 0 nothing changes.
"""

import math
import numbers

import librosa
import numpy as np
import tensorflow as tf

from pipelines.augmentation import power_sum_db, recording_draws, source, where_recorded
from pipelines.corruptions import CORRUPTIONS
from pipelines.corruptions.audio import NOISE_EXPONENTS
from pipelines.corruptions.frames import COLUMN_NOISE_SHARE, GREY_MAX, LOW_LIGHT_PHOTONS, LOW_LIGHT_READ_NOISE
from pipelines.corruptions.seeding import SEVERITIES
from pipelines.feature_matrices import area_matrix

AUDIO_NAMES = ("noise", "babble", "reverb", "clipping")
FRAME_NAMES = {"visible": ("low_light", "over_exposure", "gaussian_blur", "occlusion", "resolution"),
               "thermal": ("blur", "sensor_noise", "drift", "resolution")}
STREAM = 2000  # folded into recording_seed: apart from the ablation's (0..M) and the augmentation's (1000 + m) draws
# The per-sample uniforms: corrupted?, which corruption, severity, noise colour or drift sign, occlusion top and
# left, babble partner.
CORRUPT, WHICH, SEVERITY, COLOUR, TOP, LEFT, PARTNER = range(7)
DRAWS = 7


def levels(modality, name):
    """float32 [5]: the evaluation table's parameter of a corruption at severities 1..5."""
    return tf.constant(CORRUPTIONS[(modality, name)].levels, tf.float32)


def corruption_names(kinds, modalities):
    """[(modality index, modality, name)]: the corruptions a run's samples can meet, in `modalities` order."""
    names = []
    for index, modality in enumerate(modalities):
        kind = kinds.get(modality)
        if kind in ("log_mel", "mfcc"):
            names += [(index, modality, name) for name in AUDIO_NAMES]
        elif kind == "frames":
            names += [(index, modality, name) for name in FRAME_NAMES.get(modality, ())]
    return names


def pick(flags, uniforms):
    """bool [B, K]: one True of each row of `flags` (bool [B, K]), the floor(u x count)-th, u from uniforms [B] in
    [0, 1) (none in an all-False row)."""
    counts = tf.cumsum(tf.cast(flags, tf.int32), axis=1, exclusive=True)
    rank = tf.cast(tf.floor(uniforms * tf.reduce_sum(tf.cast(flags, tf.float32), axis=1)), tf.int32)
    return flags & tf.equal(counts, rank[:, None])


def babble_partners(recordings, audible, uniforms):
    """(partner index int32 [B], has_partner bool [B]): for each sample, one other sample of the batch, not of its
    recording, whose audio is `audible` (bool [B]: present and not all zeros), chosen by uniforms [B]."""
    candidates = audible[None, :] & tf.not_equal(recordings[:, None], recordings[None, :])
    chosen = pick(candidates, uniforms)
    return tf.argmax(tf.cast(chosen, tf.int32), axis=1, output_type=tf.int32), tf.reduce_any(candidates, axis=1)


def to_power(log_mel):
    """dB -> power (10^(dB / 10)), elementwise."""
    return tf.exp(log_mel * (math.log(10.0) / 10.0))


def to_db(power):
    """power -> dB (10 log10, floored at -100 dB as pipelines.audio's amin 1e-10), elementwise."""
    return 10.0 * tf.math.log(tf.maximum(power, 1e-10)) / math.log(10.0)


def mean_power(log_mel, valid):
    """float32 [B, 1, 1]: the mean power of each sample's cells where `valid` (bool [B, T, 1])."""
    cells = tf.reduce_sum(tf.cast(valid, tf.float32), axis=[1, 2], keepdims=True) * log_mel.shape[-1]
    return tf.reduce_sum(tf.where(valid, to_power(log_mel), 0.0), axis=[1, 2], keepdims=True) / tf.maximum(cells, 1.0)


def mix_at_snr(log_mel, valid, noise, noise_valid, snr_db):
    """log_mel float32 [B, T, F] dB with `noise` [B, T, F] dB added in the power domain, scaled so that the signal
    to noise power ratio over the sample's `valid` cells (bool [B, T, 1]) is snr_db [B]; cells where `noise_valid`
    (bool [B, T, 1]) is False get no noise."""
    audible = valid & noise_valid
    scale = to_db(mean_power(log_mel, valid)) - to_db(mean_power(noise, audible)) - snr_db[:, None, None]
    return tf.where(audible, power_sum_db(log_mel, noise + scale), log_mel)


def coloured_noise(cells, exponents, band_centres):
    """float32 [B, T, F] dB: noise of band power ~ band_centres^-exponents[b], each cell's power exponential from
    cells [B, T, F] uniform in [0, 1)."""
    tilt = -10.0 * exponents[:, None, None] * tf.math.log(band_centres / band_centres[0]) / math.log(10.0)
    return tilt + to_db(-tf.math.log1p(-cells))


def reverberate(log_mel, valid, rt60, frame_rate):
    """log_mel [B, T, F] dB with each band's power convolved over time with 10^(-6 k / (rt60[b] x frame_rate)),
    k = 0.. T - 1, then scaled back to the mean power over `valid` (bool [B, T, 1]); invalid steps count as silent."""
    steps = tf.shape(log_mel)[1]
    lag = tf.cast(tf.range(steps)[:, None] - tf.range(steps)[None, :], tf.float32)  # [T, T]: t - s
    decay = -6.0 / (rt60 * frame_rate)  # dB / 10 per frame
    response = tf.where(lag[None] >= 0, tf.exp(decay[:, None, None] * math.log(10.0) * tf.maximum(lag, 0.0)[None]),
                        0.0)
    power = tf.where(valid, to_power(log_mel), 0.0)
    smeared = tf.matmul(response, power)
    smeared *= mean_power(log_mel, valid) / tf.maximum(mean_power(to_db(smeared), valid), 1e-10)
    return to_db(smeared)


def clip_log_mel(log_mel, valid, share):
    """log_mel [B, T, F] dB with each cell's power limited at the sample's loudest valid cell x share[b]^2 (a
    waveform clipped at that share of its peak), the power removed from a frame spread evenly over its F bands."""
    power = to_power(log_mel)
    loudest = tf.reduce_max(tf.where(valid, power, 0.0), axis=[1, 2], keepdims=True)
    limited = tf.minimum(power, loudest * tf.square(share)[:, None, None])
    removed = tf.reduce_sum(power - limited, axis=2, keepdims=True) / log_mel.shape[-1]
    return to_db(limited + removed)


def blur_matrix(size, sigma):
    """float32 [size, size]: a 1-D Gaussian blur of `sigma` pixels as a matrix (out = M @ in), OpenCV's kernel
    (radius round(4 sigma), weights summing to 1) and border (BORDER_REFLECT_101)."""
    radius = max(1, int(round(4.0 * sigma)))
    offsets = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    weights /= weights.sum()
    matrix = np.zeros((size, size))
    for row in range(size):
        columns = row + offsets
        if size > 1:
            period = 2 * (size - 1)
            columns = np.mod(columns, period)
            columns = np.where(columns >= size, period - columns, columns)
        else:
            columns = np.zeros_like(columns)
        np.add.at(matrix[row], columns, weights)
    return matrix.astype(np.float32)


def resolution_matrix(size, factor):
    """float32 [size, size]: down to max(1, round(factor x size)) pixels by area averaging, then back up by
    bilinear interpolation (half-pixel centres, edges repeated): OpenCV's INTER_AREA then INTER_LINEAR, per axis."""
    small = max(1, int(round(factor * size)))
    down = area_matrix(size, small)
    up = np.zeros((size, small))
    positions = np.clip((np.arange(size) + 0.5) * small / size - 0.5, 0, small - 1)
    low = np.floor(positions).astype(int)
    high = np.minimum(low + 1, small - 1)
    np.add.at(up, (np.arange(size), low), 1 - (positions - low))
    np.add.at(up, (np.arange(size), high), positions - low)
    return (up @ down).astype(np.float32)


def spatial_matrices(size, modality):
    """float32 [11, size, size]: the identity, then blur at severities 1..5, then resolution loss at 1..5."""
    blur = "gaussian_blur" if modality == "visible" else "blur"
    sigmas = CORRUPTIONS[(modality, blur)].levels
    factors = CORRUPTIONS[(modality, "resolution")].levels
    return tf.constant(np.stack([np.eye(size, dtype=np.float32)] + [blur_matrix(size, s * size) for s in sigmas]
                                + [resolution_matrix(size, f) for f in factors]))


def occlusion_mask(height, width, area_share, tops, lefts):
    """bool [B, H, W]: True inside a square of area_share[b] of the centred square (side min(H, W)), placed by
    tops and lefts [B] in [0, 1) inside it."""
    side = min(height, width)
    box = tf.round(tf.sqrt(area_share) * side)
    top = tf.floor(tops * (side - box + 1)) + (height - side) // 2
    left = tf.floor(lefts * (side - box + 1)) + (width - side) // 2
    rows = tf.range(height, dtype=tf.float32)[None, :]
    columns = tf.range(width, dtype=tf.float32)[None, :]
    inside_rows = (rows >= top[:, None]) & (rows < (top + box)[:, None])
    inside_columns = (columns >= left[:, None]) & (columns < (left + box)[:, None])
    return inside_rows[:, :, None] & inside_columns[:, None, :]


def apply_picked(tensor, picks, results):
    """tensor [B, ...] with each sample where picks[name] (bool [B]) holds replaced by results[name]() [B, ...];
    a corruption no sample of the batch picked is not computed."""
    for name, picked in picks.items():
        where = tf.reshape(picked, [-1] + [1] * (tensor.shape.rank - 1))
        tensor = tf.cond(tf.reduce_any(picked), lambda: tf.where(where, results[name](), tensor), lambda: tensor)
    return tensor


class SampleCorruption:
    """Maps a training batch (inputs, labels) -> (inputs, labels) with a share of its samples corrupted as the
    module docstring says. kinds: augmentation.augmentation_kinds of the data; modalities: the run's (the
    `present` columns); share: P in [0, 1]; seed: an int, the epoch's seed; n_mels, sample_rate (Hz), hop_length
    (samples): the log-mel's. Use after batching: the inputs hold "present" [B, M] and "recording" [B]."""

    def __init__(self, kinds, modalities, share, seed, n_mels, sample_rate, hop_length):
        if isinstance(share, bool) or not isinstance(share, numbers.Real) or not 0.0 <= share <= 1.0:
            raise ValueError(f"corrupt_train: expected a share of training samples in [0, 1], got {share!r}")
        self.modalities, self.share, self.seed = tuple(modalities), float(share), int(seed)
        self.names = corruption_names(kinds, self.modalities)
        self.kinds, self.n_mels, self.frame_rate = dict(kinds), int(n_mels), sample_rate / hop_length
        centres = librosa.mel_frequencies(n_mels=self.n_mels + 2, fmax=sample_rate / 2.0)[1:-1]
        self.band_centres = tf.constant(centres, tf.float32)

    def plan(self, inputs):
        """(chosen bool [B, K]: the corruption of each sample, a row of False for a clean one, K = len(names);
        severity int32 [B] in 1..5; uniforms [B, DRAWS]; babble partners int32 [B])."""
        present = tf.cast(inputs["present"], tf.float32) > 0
        recordings = inputs["recording"]
        uniforms = recording_draws(recordings, self.seed, STREAM, [DRAWS])
        partners, has_partner = {}, {}
        for index, modality in enumerate(self.modalities):
            if self.kinds.get(modality) in ("log_mel", "mfcc"):
                tensor = inputs[modality]
                audible = present[:, index] & (tf.reduce_max(tf.abs(tensor), axis=[1, 2]) > 0)
                partners[modality], has_partner[modality] = babble_partners(recordings, audible,
                                                                            uniforms[:, PARTNER])
        columns = [present[:, index] & (has_partner[modality] if name == "babble" else True)
                   for index, modality, name in self.names]
        available = tf.stack(columns, axis=1) if columns else tf.zeros([tf.shape(present)[0], 0], tf.bool)
        chosen = pick(available, uniforms[:, WHICH]) & (uniforms[:, CORRUPT] < self.share)[:, None]
        severity = tf.minimum(tf.cast(tf.floor(uniforms[:, SEVERITY] * len(SEVERITIES)), tf.int32), 4) + 1
        return chosen, severity, uniforms, partners

    def __call__(self, inputs, labels):
        if self.share == 0 or not self.names:
            return inputs, labels
        chosen, severity, uniforms, partners = self.plan(inputs)
        present = tf.cast(inputs["present"], tf.float32) > 0
        outputs = dict(inputs)
        for index, modality in enumerate(self.modalities):
            picks = {name: chosen[:, k] for k, (i, _, name) in enumerate(self.names) if i == index}
            if not picks:
                continue
            tensor = source(inputs, modality)
            draw = dict(uniforms=uniforms, severity=severity, picks=picks, modality=modality,
                        recordings=inputs["recording"], stream=STREAM + 1 + index)
            if self.kinds[modality] == "frames":
                changed = self.corrupt_frames(tensor, **draw)
            else:
                changed = self.corrupt_audio(tensor, partners[modality], **draw)
            outputs.update(where_recorded(inputs, modality, present[:, index], changed))
        return outputs, labels

    def corrupt_audio(self, tensor, partners, uniforms, severity, picks, modality, recordings, stream):
        """tensor [B, T, D] (log-mel dB or MFCCs) with each sample's picked audio corruption."""
        mfcc = self.kinds[modality] == "mfcc"
        log_mel = tf.signal.idct(tf.pad(tensor, [[0, 0], [0, 0], [0, self.n_mels - tensor.shape[-1]]]), type=2,
                                 norm="ortho") if mfcc else tensor
        valid = tf.reduce_max(tf.abs(tensor), axis=2, keepdims=True) > 0  # [B, T, 1]: recorded steps
        at = severity - 1

        def level(name):
            return tf.gather(levels(modality, name), at)

        def noise():
            cells = recording_draws(recordings, self.seed, stream, log_mel.shape[1:])
            low, high = NOISE_EXPONENTS
            return coloured_noise(cells, low + (high - low) * uniforms[:, COLOUR], self.band_centres)

        results = {
            "noise": lambda: mix_at_snr(log_mel, valid, noise(), tf.ones_like(valid), level("noise")),
            "babble": lambda: mix_at_snr(log_mel, valid, tf.gather(log_mel, partners), tf.gather(valid, partners),
                                         level("babble")),
            "reverb": lambda: reverberate(log_mel, valid, level("reverb"), self.frame_rate),
            "clipping": lambda: clip_log_mel(log_mel, valid, level("clipping")),
        }
        changed = apply_picked(log_mel, picks, results)
        return tf.signal.dct(changed, type=2, norm="ortho")[..., :tensor.shape[-1]] if mfcc else changed

    def corrupt_frames(self, tensor, uniforms, severity, picks, modality, recordings, stream):
        """tensor [B, H, W, C] or [B, T, H, W, C] in [0, 1] with each sample's picked frame corruption."""
        frames = tensor if tensor.shape.rank == 5 else tensor[:, None]
        height, width = frames.shape[2], frames.shape[3]
        at = severity - 1

        def level(name):
            return tf.reshape(tf.gather(levels(modality, name), at), [-1, 1, 1, 1, 1])

        def spatial(name, offset):
            chosen = tf.where(picks[name], at + offset, 0)
            rows = tf.gather(spatial_matrices(height, modality), chosen)
            columns = tf.gather(spatial_matrices(width, modality), chosen)
            return tf.einsum("bwv,bthvc->bthwc", columns, tf.einsum("bhk,btkwc->bthwc", rows, frames))

        def noise():
            return recording_draws(recordings, self.seed, stream, frames.shape[1:], tf.random.stateless_normal)

        def low_light():
            dark = tf.pow(frames, level("low_light"))
            spread = tf.sqrt(dark / LOW_LIGHT_PHOTONS + (LOW_LIGHT_READ_NOISE / GREY_MAX) ** 2)
            return tf.clip_by_value(dark + spread * noise(), 0.0, 1.0)

        def sensor_noise():
            sigma = level("sensor_noise") / GREY_MAX
            columns = recording_draws(recordings, self.seed, stream + 1000, [width], tf.random.stateless_normal)
            return tf.clip_by_value(
                frames + sigma * (noise() + COLUMN_NOISE_SHARE * columns[:, None, None, :, None]), 0.0, 1.0)

        def occlusion():
            area = tf.gather(levels(modality, "occlusion"), at)
            box = occlusion_mask(height, width, area, uniforms[:, TOP], uniforms[:, LEFT])
            return tf.where(box[:, None, :, :, None], 0.0, frames)

        def drift():
            sign = tf.reshape(tf.where(uniforms[:, COLOUR] < 0.5, 1.0, -1.0), [-1, 1, 1, 1, 1])
            return tf.clip_by_value(frames + sign * level("drift") / GREY_MAX, 0.0, 1.0)

        results = {
            "low_light": low_light,
            "over_exposure": lambda: tf.clip_by_value(frames * level("over_exposure"), 0.0, 1.0),
            "gaussian_blur": lambda: spatial("gaussian_blur", 1),
            "blur": lambda: spatial("blur", 1),
            "occlusion": occlusion,
            "resolution": lambda: spatial("resolution", 1 + len(SEVERITIES)),
            "sensor_noise": sensor_noise,
            "drift": drift,
        }
        changed = apply_picked(frames, picks, {name: results[name] for name in picks})
        return changed if tensor.shape.rank == 5 else changed[:, 0]
