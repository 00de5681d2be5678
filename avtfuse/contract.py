"""The data contract's vocabulary: modality and condition names, protocols, labels, blanking a missing modality.

Every other module takes these names from here. Nothing in this module imports
a backend at import time: `blank_missing` and `blank_steps` take the array
module they work with (keras.ops by default; `tf` in tf.data, `numpy` for
arrays).
"""

import json
import os

from avtfuse.files import atomic_text

MODALITIES = ("audio", "visible", "thermal")

# Split protocols: "paper" ablates then splits samples at random (copies of one
# recording may sit on both sides, as in the seed paper); "strict" keeps every
# copy of a recording, and every recording of a group, on one side; "official"
# and "manifest" take each recording's side from the data (SpeakingFaces'
# train/valid/test folders; a manifest's `split` column); "folds" tests one of
# six blocks of subjects (RAVDESS actors) and validates on the next, for a
# class that is not the subject (RAVDESS emotions; SA-fusion's 5 folds).
PROTOCOLS = ("paper", "strict", "official", "manifest", "folds")
GIVEN_PROTOCOLS = ("official", "manifest")

# The splits of a data set, in the order of their integer ids.
SPLITS = ("train", "test", "valid")

# Static ablations, the copies that training sees: "paper" = complete + one
# copy per missing modality; "subsets" = every non-empty subset of the run's
# modalities; "complete" = the complete copy alone. The other subsets are
# evaluation-only copies on the test side.
ABLATIONS = ("paper", "subsets", "complete")

# What answers a sample with one sensor left: the fused model, that sensor's
# specialist (the same system trained on it alone), per sensor the one of those and
# the classical models that validation chooses (avtfuse.evaluation.single_sensor), or
# the specialists for every sample, several sensors' answers weighted by their
# confidence (late fusion; avtfuse.models.specialist_fallback).
SINGLE_SENSOR_ANSWERS = ("fused", "specialist", "best", "confidence")

# What a missing modality holds where the pipeline (or a served model) fills it: zeros (the contract) or N(0, 1)
# noise (SA-fusion's noise setting).
MISSING_FILLS = ("zeros", "noise")

# Random modality dropout of a training sample: zeros (hard), alpha scaling (soft) or N(0, 1) noise.
DROPOUT_MODES = ("hard", "soft", "noise")
# --augment: the strength of the training samples' augmentation (pipelines.augmentation), 0 = none.
AUGMENT_STRENGTHS = {"none": 0.0, "light": 0.5, "strong": 1.0}

COMPLETE = "complete"
AVERAGE = "average"

LABELS_FILE = "labels.json"


def canonical_modalities(modalities):
    """Returns `modalities` as a tuple in canonical order (audio, visible, thermal).

    Accepts a sequence of names or a comma-separated string. Raises ValueError
    for an unknown, repeated or empty selection.
    """
    if isinstance(modalities, str):
        modalities = [m.strip() for m in modalities.split(",") if m.strip()]
    modalities = list(modalities)
    unknown = [m for m in modalities if m not in MODALITIES]
    if unknown:
        raise ValueError(f"modalities: unknown {unknown}; choose from {list(MODALITIES)}")
    if len(set(modalities)) != len(modalities):
        raise ValueError(f"modalities: repeated names in {modalities}")
    if not modalities:
        raise ValueError("modalities: at least one modality is needed")
    return tuple(m for m in MODALITIES if m in modalities)


def condition_name(present, modalities):
    """Names the missing-sensor condition of a presence vector.

    `present` is a sequence of 0/1 aligned with `modalities` (canonical order).
    Returns "complete" when all are present, "missing_<m>" when exactly one of
    several is missing, "only_<m>" when exactly one is present, otherwise
    "with_<m1>_<m2>" naming the present ones, and "none" when all are missing.
    """
    modalities = tuple(modalities)
    if len(present) != len(modalities):
        raise ValueError(f"present has {len(present)} entries for modalities {modalities}")
    kept = [m for m, p in zip(modalities, present) if p]
    lost = [m for m, p in zip(modalities, present) if not p]
    if not kept:
        return "none"
    if not lost:
        return COMPLETE
    if len(lost) == 1 and len(modalities) > 2:
        return f"missing_{lost[0]}"
    if len(kept) == 1:
        return f"only_{kept[0]}"
    return "with_" + "_".join(kept)


def headline_conditions(modalities):
    """The paper's conditions for a run: complete and each view with one modality dropped.

    For audio, visible and thermal: complete, missing_visible, missing_thermal,
    missing_audio (the seed paper's Table 1 columns, in its order); for a
    bimodal run: complete and the two only_<m>; for one modality: complete.
    The headline metrics and the average are computed over these alone.
    """
    modalities = canonical_modalities(modalities)
    count = len(modalities)
    names = [COMPLETE]
    if count > 1:
        names += [condition_name([int(i != dropped) for i in range(count)], modalities) for dropped in range(count)]
    return sorted(names, key=condition_order)


def condition_order(name):
    """Sort key putting condition names in report order.

    complete, then missing_visible, missing_thermal, missing_audio (the seed
    paper's order), then only_<m> in canonical order, then any other condition
    (with_*, none) alphabetically.
    """
    paper = (COMPLETE, "missing_visible", "missing_thermal", "missing_audio")
    if name in paper:
        return (0, paper.index(name), name)
    single = [f"only_{m}" for m in MODALITIES]
    if name in single:
        return (1, single.index(name), name)
    return (2, 0, name)


def subsets(modalities):
    """{condition name: the sensors it holds} of every non-empty subset of `modalities`, in report order."""
    named = {}
    for bits in range(1, 2 ** len(modalities)):
        present = [(bits >> index) & 1 for index in range(len(modalities))]
        named[condition_name(present, modalities)] = tuple(m for m, bit in zip(modalities, present) if bit)
    return {name: named[name] for name in sorted(named, key=condition_order)}


def blank_missing(inputs, present, modalities, ops=None):
    """Zeros each modality whose presence bit is 0; returns a new dict with "present" set.

    inputs: the data-contract dict, one example ([...] tensors, `present` [M])
    or a batch ([B, ...] tensors, `present` [B, M]). present: float 0/1,
    aligned with `modalities` (canonical order). Each modality tensor becomes
    where(bit > 0, tensor, 0), the bit broadcast over its trailing axes, so a
    missing sensor is exactly zeros whatever it held (NaN, inf and 1e30
    included: multiplying by the bit would keep NaN); other keys pass through.
    ops: the array module with `where` and `zeros_like` (None: keras.ops).
    """
    outputs = dict(inputs)
    for index, modality in enumerate(modalities):
        outputs[modality] = blank_steps(inputs[modality], present[..., index], ops)
    outputs["present"] = present
    return outputs


def blank_steps(tensor, mask, ops=None):
    """`tensor` with zeros wherever `mask` is not > 0, exactly (whatever it held there).

    tensor: [*lead, ...]; mask: [*lead] (a presence bit per example, or a per-step mask `<m>_mask` [B, T] of a
    sequence [B, T, ...]), broadcast over the trailing axes. ops: the array module (None: keras.ops).
    """
    if ops is None:
        from keras import ops
    trailing = len(tensor.shape) - len(mask.shape)
    kept = mask[(...,) + (None,) * trailing] > 0
    return ops.where(kept, tensor, ops.zeros_like(tensor))


def save_class_names(class_names, path):
    """Writes the person ids as labels.json: a JSON list, index = label. Written atomically."""
    atomic_text(path, json.dumps([str(name) for name in class_names], indent=2) + "\n")


def load_class_names(path):
    """The person ids of a labels.json (see `save_class_names`), or None when the file is absent."""
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        names = json.load(handle)
    if not isinstance(names, list):
        raise ValueError(f"{path}: expected a JSON list of person ids (index = label)")
    return names
