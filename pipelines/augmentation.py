"""Augmentation of training samples on the cached features, in the graph, every draw stateless.

`--augment none|light|strong` sets one strength s (avtfuse.contract.AUGMENT_STRENGTHS: 0, 0.5, 1); each modality of a training batch is
changed by what its cached form allows (`augmentation_kinds`):

| kind | from | what, at strength s (u uniform in [-1, 1) per sample) |
|---|---|---|
| "frames" | decoded frames [H, W, C] or [T, H, W, C] in [0, 1] | horizontal flip with probability s / 2; one affine warp (every frame of a sequence alike): shift u * 0.1 s of each side, zoom 1 + u * 0.1 s, rotation u * 10 s degrees about the centre, bilinear, edges repeated; contrast about the frame's mean per channel times 1 + u * 0.25 s; brightness + u * 0.1 s; clipped to [0, 1] |
| "log_mel" | a log-mel [T, n_mels] in dB | a circular time shift (a roll) of u * 0.25 s * T frames; gain + u * 6 s dB; with probability s / 2, the next sample of the batch (another training recording, audio present) mixed in the power domain, attenuated by 10 + 10 (1 - s) + 10 u' dB (u' in [0, 1)) |
| "mfcc" | MFCCs [T, n_mfcc] (DCT-II ortho of the dB log-mel) | the roll; the gain as c0 + g * sqrt(n_mels) (a dB offset of every band); no mixing (the bands are gone) |
| None | pre-extracted `.npy` features | nothing: no invariance is known |

Only a sample's present modality changes; a step marked in `<m>_missing` stays zero; `<m>_full` (step dropout's
reconstruction target) gets the same change as `<m>`, so `<m>` = `<m>_full` * (1 - `<m>_missing`) still holds. The
draws of one sample are `tf.random.stateless_uniform` seeded by (the run's seed, the epoch, the sample's recording
id, the modality) (`pipelines.ablation.recording_seed`): a resumed run augments exactly what an uninterrupted one
did, whatever the batch size or order. At s = 0 every function below is the identity.
"""

import math

import tensorflow as tf

from pipelines.ablation import broadcast_trailing, recording_seed
from pipelines.features import is_feature_file

KINDS = ("frames", "log_mel", "mfcc")
SHIFT, ZOOM, ROTATION_DEGREES, CONTRAST, BRIGHTNESS = 0.1, 0.1, 10.0, 0.25, 0.1  # frames, at strength 1
ROLL, GAIN_DB, MIX_NEAREST_DB, MIX_RANGE_DB = 0.25, 6.0, 10.0, 10.0  # spectrograms, at strength 1
FRAME_DRAWS, SPECTROGRAM_DRAWS = 7, 4  # uniforms per sample
STREAM = 1000  # folded into recording_seed beside the modality index: apart from the ablation's draws


def augmentation_kinds(data):
    """{modality: kind (KINDS) or None} of a SplitData's modalities: frames from an example of rank 3 or 4,
    spectrograms from audio decoded from media as the feature config says, None for `.npy` features."""
    kinds = {}
    for index, modality in enumerate(data.modalities):
        features = any(is_feature_file(files.get(modality)) for files in data.files)
        rank = len(data.shapes[modality])
        if features:
            kinds[modality] = None
        elif rank in (3, 4):
            kinds[modality] = "frames"
        elif modality == "audio" and rank == 2:
            kinds[modality] = data.config.features.audio_features
        else:
            kinds[modality] = None
    return kinds


def centred(uniform):
    """u in [0, 1) -> [-1, 1)."""
    return 2.0 * uniform - 1.0


def affine_transforms(uniforms, strength, height, width):
    """float32 [B, 8]: ImageProjectiveTransformV3's output -> input maps of a shift, zoom and rotation about the
    centre drawn from uniforms [B, 3+] (columns 0-3: shift x, shift y, zoom, rotation)."""
    shift_x = centred(uniforms[:, 0]) * SHIFT * strength * width
    shift_y = centred(uniforms[:, 1]) * SHIFT * strength * height
    zoom = 1.0 + centred(uniforms[:, 2]) * ZOOM * strength
    angle = centred(uniforms[:, 3]) * ROTATION_DEGREES * strength * math.pi / 180.0
    cos, sin = tf.cos(angle) / zoom, tf.sin(angle) / zoom
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    zeros = tf.zeros_like(cos)
    return tf.stack([cos, -sin, cx - cos * cx + sin * cy - shift_x,
                     sin, cos, cy - sin * cx - cos * cy - shift_y, zeros, zeros], axis=1)


def augment_frames(frames, uniforms, strength):
    """frames float32 [B, H, W, C] or [B, T, H, W, C] in [0, 1], uniforms float32 [B, FRAME_DRAWS] in [0, 1) ->
    the frames flipped, warped, contrast- and brightness-changed as the module docstring says (the identity at
    strength 0)."""
    if strength == 0:
        return frames
    shape = tf.shape(frames)
    sequence = frames.shape.rank == 5
    steps = shape[1] if sequence else 1
    height, width = frames.shape[-3], frames.shape[-2]
    images = tf.reshape(frames, [-1, height, width, frames.shape[-1]])  # [B * T, H, W, C]
    per_image = tf.repeat(uniforms, steps, axis=0)
    flip = per_image[:, 4] < 0.5 * min(strength, 1.0)
    images = tf.where(flip[:, None, None, None], tf.reverse(images, axis=[2]), images)
    images = tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=affine_transforms(per_image, strength, height, width),
        output_shape=tf.constant([height, width], tf.int32), fill_value=0.0, interpolation="BILINEAR",
        fill_mode="NEAREST")
    mean = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
    contrast = (1.0 + centred(per_image[:, 5]) * CONTRAST * strength)[:, None, None, None]
    brightness = (centred(per_image[:, 6]) * BRIGHTNESS * strength)[:, None, None, None]
    images = tf.clip_by_value((images - mean) * contrast + mean + brightness, 0.0, 1.0)
    return tf.reshape(images, shape)


def roll_time(sequences, shifts):
    """sequences [B, T, D] with row t of sample b moved to (t + shifts[b]) mod T; shifts int32 [B]."""
    steps = tf.shape(sequences)[1]
    source = tf.math.floormod(tf.range(steps)[None, :] - shifts[:, None], steps)
    return tf.gather(sequences, source, batch_dims=1)


def power_sum_db(first, second):
    """10 log10(10^(first / 10) + 10^(second / 10)), elementwise, without overflow."""
    larger = tf.maximum(first, second)
    return larger + 10.0 * tf.math.log1p(tf.exp(-tf.abs(first - second) * (math.log(10.0) / 10.0))) / math.log(10.0)


def augment_spectrograms(spectrograms, uniforms, strength, kind, n_mels, partners=None, partner_present=None):
    """spectrograms float32 [B, T, D] ("log_mel": dB bands; "mfcc": coefficients of n_mels dB bands),
    uniforms [B, SPECTROGRAM_DRAWS] in [0, 1) -> rolled, gain-shifted and ("log_mel" with `partners` [B, T, D]
    and `partner_present` bool [B]) mixed as the module docstring says (the identity at strength 0)."""
    if strength == 0:
        return spectrograms
    steps = tf.cast(tf.shape(spectrograms)[1], tf.float32)
    shifts = tf.cast(tf.round(centred(uniforms[:, 0]) * ROLL * strength * steps), tf.int32)
    gain = (centred(uniforms[:, 1]) * GAIN_DB * strength)[:, None, None]
    rolled = roll_time(spectrograms, shifts)
    if kind == "mfcc":
        offset = tf.one_hot(0, spectrograms.shape[-1], dtype=spectrograms.dtype) * math.sqrt(n_mels)
        return rolled + gain * offset
    louder = rolled + gain
    if partners is None:
        return louder
    attenuation = MIX_NEAREST_DB + MIX_RANGE_DB * (1.0 - strength) + MIX_RANGE_DB * uniforms[:, 3]
    mixed = power_sum_db(louder, partners - attenuation[:, None, None])
    chosen = (uniforms[:, 2] < 0.5 * min(strength, 1.0)) & partner_present
    return tf.where(chosen[:, None, None], mixed, louder)


def recording_draws(recordings, seed, stream, shape, sampler=tf.random.stateless_uniform):
    """float32 [B, *shape]: one draw of `sampler` (a tf.random.stateless_* function) per sample, seeded by its
    recording id, `seed` and `stream` (recording_seed): the same for a recording in any batch or order."""
    def one(recording):
        return sampler(shape, seed=recording_seed(recording, stream, seed))

    return tf.map_fn(one, recordings, fn_output_signature=tf.TensorSpec(shape, tf.float32))


def source(inputs, modality):
    """What a change of `modality` starts from: `<m>_full` [B, ...] where step dropout carries it (its missing
    steps still recorded), else `<m>`."""
    full = inputs.get(f"{modality}_full")
    return inputs[modality] if full is None else full


def where_recorded(inputs, modality, here, changed):
    """{`modality`: `changed` where `here` (bool [B]: the modality present) and the step is not marked in
    `<m>_missing`, else the input; `<m>_full` where step dropout carries it: `changed` for every recording that
    holds the modality (a recording without it keeps its zeros)}. changed: [B, ...], made from `source`."""
    tensor = inputs[modality]
    keep = broadcast_trailing(here, tensor)
    if f"{modality}_missing" in inputs:
        keep = keep & (broadcast_trailing(inputs[f"{modality}_missing"], tensor) <= 0)
    outputs = {modality: tf.where(keep, changed, tensor)}
    full = inputs.get(f"{modality}_full")
    if full is not None:
        recorded = tf.reduce_max(tf.abs(full), axis=list(range(1, full.shape.rank))) > 0
        outputs[f"{modality}_full"] = tf.where(broadcast_trailing(recorded, full), changed, full)
    return outputs


class SampleAugment:
    """Maps a training batch (inputs, labels) -> (inputs, labels) with each modality augmented as the module
    docstring says. kinds: `augmentation_kinds` of the data; modalities: the run's (canonical order, the
    `present` columns); strength: in [0, 1] (AUGMENT_STRENGTHS); seed: an int, the epoch's seed; n_mels: the log-mel bands
    under MFCCs. Use after batching: the inputs hold "present" [B, M] and "recording" [B]."""

    def __init__(self, kinds, modalities, strength, seed, n_mels):
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength: expected a number in [0, 1], got {strength!r}")
        unknown = sorted(kind for kind in kinds.values() if kind is not None and kind not in KINDS)
        if unknown:
            raise ValueError(f"kinds: {unknown} are not among {KINDS}")
        self.kinds, self.modalities = dict(kinds), tuple(modalities)
        self.strength, self.seed, self.n_mels = float(strength), int(seed), int(n_mels)

    def change(self, kind, tensor, uniforms, partner_present):
        """`tensor` [B, ...] augmented as `kind` says; a log-mel's partner is the batch's next sample."""
        if kind == "frames":
            return augment_frames(tensor, uniforms, self.strength)
        partners = tf.roll(tensor, shift=-1, axis=0) if kind == "log_mel" else None
        return augment_spectrograms(tensor, uniforms, self.strength, kind, self.n_mels, partners, partner_present)

    def __call__(self, inputs, labels):
        outputs = dict(inputs)
        present = tf.cast(inputs["present"], tf.float32) > 0
        recordings = inputs["recording"]
        another = tf.not_equal(tf.roll(recordings, shift=-1, axis=0), recordings)  # the partner: not a copy
        for index, modality in enumerate(self.modalities):
            kind = self.kinds.get(modality)
            if kind is None or self.strength == 0:
                continue
            here = present[:, index]
            count = FRAME_DRAWS if kind == "frames" else SPECTROGRAM_DRAWS
            uniforms = recording_draws(recordings, self.seed, STREAM + index, [count])
            changed = self.change(kind, source(inputs, modality), uniforms, tf.roll(here, shift=-1, axis=0) & another)
            outputs.update(where_recorded(inputs, modality, here, changed))
        return outputs, labels
