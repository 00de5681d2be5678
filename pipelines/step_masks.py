"""Per-step masks of sequence modalities (SYSTEMS.md 1.1, 1.2, 3.4): padding, static rate masks, dynamic dropout.

For every sequence modality `<m>` of a run (an example tensor with a time
axis first: audio or `.npy` features [T, D], frames [T, H, W, C]; not a
single frame [H, W, C] nor a vector [D]) an example carries:

  `<m>_mask`     float32 [T]: 1 = a real step, 0 = padding (only a shorter
                 `.npy` sequence has padding; decoded media are all ones);
  `<m>_missing`  float32 [T]: 1 = a real step that is ablated (its `<m>` row
                 is zero); equal to `<m>_mask` where the modality is absent
                 (present bit 0: every step missing); 0 on padding;
  `<m>_full`     as `<m>`: the complete, un-ablated sequence; training batches
                 with step dropout only (never evaluation, never export).

and `<m>` = `<m>_full` * (1 - `<m>_missing`) over the trailing axes. A
modality the recording lacks counts T real steps, all missing (zeros), like
an ablated one. Every draw is stateless, as in pipelines.ablation: static
masks are a function of (recording id, modality, rate, seed) alone, dynamic
drops of (seed, epoch, batch index), so batch size, order and resuming change
nothing.
"""

import math

import numpy as np
import tensorflow as tf

from avtfuse.contract import MODALITIES, canonical_modalities
from pipelines.ablation import broadcast_trailing, recording_seed
from pipelines.features import sequence_length

MASK, MISSING, FULL = "_mask", "_missing", "_full"


def sequence_modalities(modalities, shapes):
    """The run's modalities (canonical order) whose example shape in `shapes` has a time axis."""
    return tuple(m for m in canonical_modalities(modalities) if sequence_length(shapes[m]))


def _check_rate(name, rate):
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {rate}")


def _absent(inputs, modalities, modality):
    """1 - the present bit of `modality` ([] or [B]), or 0 when inputs hold no `present`."""
    if "present" not in inputs:
        return tf.constant(0.0)
    present = tf.cast(inputs["present"], tf.float32)
    return 1.0 - present[..., canonical_modalities(modalities).index(modality)]


def with_step_masks(inputs, steps, modalities, shapes, full=False):
    """One example with `<m>_mask`, `<m>_missing` (and with `full`, `<m>_full`) for its sequence modalities.

    inputs: the data-contract dict of ONE example, its tensors NOT yet
    ablated (so that `<m>_full` is the complete sequence), `present` [M]
    (optional) aligned with `modalities` (the run's, canonical order).
    steps: int [M], the real steps of each modality (the cache's `steps`).
    shapes: {modality: example shape}. `<m>_missing` is `<m>_mask` where the
    present bit is 0; apply later whole-modality ablation (ablation.apply_presence),
    then `sync_missing` so that `<m>_missing` follows the final present bits.
    Returns a new dict.
    """
    modalities = canonical_modalities(modalities)
    outputs = dict(inputs)
    steps = tf.convert_to_tensor(steps)
    for modality in sequence_modalities(modalities, shapes):
        index = modalities.index(modality)
        mask = tf.sequence_mask(steps[index], sequence_length(shapes[modality]), dtype=tf.float32)
        outputs[modality + MASK] = mask
        outputs[modality + MISSING] = mask * _absent(inputs, modalities, modality)
        if full:
            outputs[modality + FULL] = tf.convert_to_tensor(inputs[modality])
    return outputs


def sync_missing(inputs, modalities):
    """`<m>_missing` = max(`<m>_missing`, 1 - present bit) * `<m>_mask`, for an example or a batch.

    Call after any whole-modality ablation (apply_presence, modality dropout,
    replication) so that an absent modality has every real step missing.
    Modalities without `<m>_mask` are left alone. Returns a new dict.
    """
    outputs = dict(inputs)
    for modality in canonical_modalities(modalities):
        if modality + MASK not in inputs:
            continue
        mask = tf.cast(inputs[modality + MASK], tf.float32)
        absent = _absent(inputs, modalities, modality)
        missing = tf.maximum(tf.cast(inputs[modality + MISSING], tf.float32), absent[..., None] * tf.ones_like(mask))
        outputs[modality + MISSING] = missing * mask
    return outputs


def _rate_key(rate):
    return int(round(float(rate) * 1000))


def static_step_missing(recording, modality_index, rate, seed, mask):
    """The static test mask of one sequence (SYSTEMS.md 1.2): float32 [T], 1 = the step is missing.

    uniform([T]) < rate AND mask > 0, the uniform draw keyed by (recording
    id hash, modality_index, rate, seed): ablation.recording_seed with
    round(rate * 1000) folded in. The same whatever the batch, its size or
    order, the run or the system. rate 0: nothing missing. Use the canonical
    modality index (avtfuse.contract.MODALITIES), as `apply_static_rate` does,
    so that runs on different modality subsets share their masks.
    """
    _check_rate("rate", rate)
    mask = tf.cast(mask, tf.float32)
    key = tf.random.experimental.stateless_fold_in(recording_seed(recording, modality_index, seed), _rate_key(rate))
    draw = tf.random.stateless_uniform(tf.shape(mask), key)
    return tf.cast(draw < rate, tf.float32) * tf.cast(mask > 0, tf.float32)


def apply_static_rate(inputs, modalities, rate, seed):
    """One example with the static rate-`rate` masks applied to its modalities.

    A sequence modality (`<m>_mask` key): `<m>_missing` |=
    static_step_missing(recording, canonical index of m, rate, seed,
    `<m>_mask`), and `<m>` is zeroed on those steps; a whole-modality absence
    stays as it was (every step already missing). A modality without a time
    axis (one frame [H, W, C], a vector) counts as one step: drawn the same
    way, it is missing with probability `rate`, and then zeroed with its
    present bit cleared. Returns a new dict.
    """
    _check_rate("missing_rate", rate)
    outputs = dict(inputs)
    modalities = canonical_modalities(modalities)
    for index, modality in enumerate(modalities):
        if modality + MASK not in inputs:
            if modality in inputs and "present" in inputs:
                outputs = _drop_single_step(outputs, modality, index, rate, seed)
            continue
        mask = tf.cast(inputs[modality + MASK], tf.float32)
        existing = tf.cast(inputs[modality + MISSING], tf.float32)
        drawn = static_step_missing(inputs["recording"], MODALITIES.index(modality), rate, seed, mask)
        tensor = tf.convert_to_tensor(inputs[modality])
        outputs[modality] = tensor * tf.cast(broadcast_trailing(1.0 - drawn, tensor), tensor.dtype)
        outputs[modality + MISSING] = tf.maximum(existing, drawn)
    return outputs


def _drop_single_step(inputs, modality, index, rate, seed):
    """`apply_static_rate` for a modality without a time axis at position `index` of the run's modalities."""
    drawn = static_step_missing(inputs["recording"], MODALITIES.index(modality), rate, seed, tf.ones([1]))[0]
    tensor = tf.convert_to_tensor(inputs[modality])
    present = tf.cast(inputs["present"], tf.float32)
    kept = 1.0 - drawn * tf.one_hot(index, tf.shape(present)[-1], dtype=tf.float32)
    return {**inputs, modality: tensor * tf.cast(1.0 - drawn, tensor.dtype),
            "present": tf.cast(present * kept, tf.convert_to_tensor(inputs["present"]).dtype)}


def ramp_share(step, ramp_steps):
    """The share of incomplete samples at global step `step` (from 0): min(1, step / ramp_steps); 1 without ramp."""
    if ramp_steps <= 0:
        return tf.constant(1.0)
    return tf.minimum(1.0, tf.cast(step, tf.float32) / float(ramp_steps))


class DynamicStepDropout:
    """MCT-HFR's dynamic incomplete training (SYSTEMS.md 3.4) for `batched.enumerate().map(...)`.

    Batch `index` of `epoch` is global step t = epoch * steps_per_epoch +
    index. Each sample is chosen with probability share(t) = min(1, t /
    ramp_steps) (ramp_steps 0: always, the public code); in a chosen sample
    every real step (`<m>_mask` 1) of every sequence modality is dropped
    independently with probability `rate`; an unchosen sample stays as it
    came. Then `<m>_missing` = max(existing missing, 1 - present bit, drops)
    * `<m>_mask` (padding never missing) and the newly missing steps of `<m>`
    are zeroed, so `<m>` = `<m>_full` * (1 - `<m>_missing`) wherever that held
    before (a soft or noise modality dropout applied earlier is kept). The
    draws are stateless, keyed by (seed, epoch, index): the same in every run
    and after a resume. modalities: the run's (canonical order; `present` is
    aligned with them); only those with `<m>_mask` in the batch are touched.
    Takes (index, (inputs, labels)) and returns (inputs, labels), or (index,
    inputs) and returns inputs.
    """

    def __init__(self, rate=0.2, ramp_steps=0, steps_per_epoch=1, epoch=0, seed=0,
                 modalities=MODALITIES):
        _check_rate("rate", rate)
        if ramp_steps < 0 or steps_per_epoch < 1 or epoch < 0:
            raise ValueError(f"need ramp_steps >= 0, steps_per_epoch >= 1 and epoch >= 0, got {ramp_steps}, "
                             f"{steps_per_epoch}, {epoch}")
        self.rate = float(rate)
        self.ramp_steps = int(ramp_steps)
        self.steps_per_epoch = int(steps_per_epoch)
        self.epoch = int(epoch)
        self.seed = int(seed)
        self.modalities = canonical_modalities(modalities)

    def share(self, index):
        """share(t) of batch `index` of this epoch."""
        return ramp_share(self.epoch * self.steps_per_epoch + tf.cast(index, tf.int64), self.ramp_steps)

    def __call__(self, index, example):
        if isinstance(example, tuple):
            inputs, labels = example
            return self.drop(index, inputs), labels
        return self.drop(index, example)

    def drop(self, index, inputs):
        """The dropout of batch `index` of this epoch applied to the batch `inputs`: a new dict."""
        index = tf.cast(index, tf.int64)
        key = tf.random.experimental.stateless_fold_in(
            tf.constant([self.seed, self.epoch], tf.int64), index)
        choose_key, *keys = tf.unstack(tf.random.experimental.stateless_split(key, num=1 + len(MODALITIES)))
        sequences = [m for m in self.modalities if m + MASK in inputs]
        if not sequences:
            return dict(inputs)
        batch = tf.shape(inputs[sequences[0] + MASK])[0]
        chosen = tf.random.stateless_uniform([batch], choose_key) < self.share(index)
        outputs = dict(inputs)
        for modality in sequences:
            mask = tf.cast(inputs[modality + MASK], tf.float32)
            absent = _absent(inputs, self.modalities, modality)
            before = tf.maximum(tf.cast(inputs[modality + MISSING], tf.float32), absent[..., None] * mask) * mask
            draw = tf.random.stateless_uniform(tf.shape(mask), keys[MODALITIES.index(modality)]) < self.rate
            drops = tf.cast(draw & chosen[:, None], tf.float32) * mask
            missing = tf.maximum(before, drops)
            tensor = tf.convert_to_tensor(inputs[modality])
            outputs[modality] = tensor * tf.cast(broadcast_trailing(1.0 - (missing - before), tensor), tensor.dtype)
            outputs[modality + MISSING] = missing
        return outputs


def realised_missing_rate(elements, modalities, present_only=False):
    """The realised share of missing real steps per sequence modality: {modality: float} (NaN: no real step).

    elements: a dataset (or iterable) of batched or unbatched `inputs` or
    `(inputs, labels)`, or one inputs dict. present_only: count only samples
    where the modality is present (the step-level rate without whole-modality
    absence). sum(`<m>_missing`) / sum(`<m>_mask`) over what is counted. A
    modality without a time axis (no `<m>_mask`: one step, see
    `apply_static_rate`) is counted only without `present_only`: the share of
    samples whose present bit is 0.
    """
    modalities = canonical_modalities(modalities)
    if isinstance(elements, dict):
        elements = [elements]
    missing, real = {}, {}
    for element in elements:
        inputs = element[0] if isinstance(element, tuple) else element
        for index, modality in enumerate(modalities):
            if modality + MASK not in inputs:
                if modality in inputs and "present" in inputs and not present_only:
                    absent = 1.0 - np.asarray(inputs["present"], np.float64)[..., index]
                    missing[modality] = missing.get(modality, 0.0) + float(absent.sum())
                    real[modality] = real.get(modality, 0.0) + float(absent.size)
                continue
            mask = np.asarray(inputs[modality + MASK], np.float64)
            lost = np.asarray(inputs[modality + MISSING], np.float64)
            if present_only and "present" in inputs:
                keep = np.asarray(inputs["present"], np.float64)[..., index:index + 1]
                mask, lost = mask * keep, lost * keep
            missing[modality] = missing.get(modality, 0.0) + float(lost.sum())
            real[modality] = real.get(modality, 0.0) + float(mask.sum())
    return {m: missing[m] / real[m] if real[m] else math.nan for m in real}
