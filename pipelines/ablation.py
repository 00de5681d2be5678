"""Missing-modality ablation: static presence conditions, random and replicated modality dropout, noise fills.

A missing modality follows the data contract: its tensor is all zeros and its
bit in `inputs["present"]` is 0; the "noise" settings put N(0, 1) noise there
instead, drawn by `noise_fill` alone. Presence vectors are aligned with the
run's modalities in canonical order (audio, visible, thermal). Every draw is
stateless: a function of a seed and of the batch's position or the
recording's id, so that a resumed run sees the same.
"""

import itertools

import tensorflow as tf

from avtfuse.contract import ABLATIONS, DROPOUT_MODES, MODALITIES, blank_missing, canonical_modalities

REPLICATION_MODES = ("softhard", "noise")


def _run_modalities(modalities):
    """The run's modalities as a canonical tuple; rejects names given out of canonical order."""
    run = canonical_modalities(modalities)
    if not isinstance(modalities, str) and tuple(modalities) != run:
        raise ValueError(f"modalities must be in canonical order {run}, got {tuple(modalities)}")
    return run


def ablation_conditions(modalities, mode="paper"):
    """Lists the presence conditions of a static ablation.

    Returns a list of tuples of ints (1 present, 0 missing) aligned with
    `modalities` (canonical order). mode="paper": the complete condition, then
    one condition per modality with only that modality missing, in modality
    order (a single-modality run has only the complete one). mode="subsets":
    every non-empty subset, complete first, then by decreasing number of
    present modalities. mode="complete": the complete condition alone.
    """
    count = len(_run_modalities(modalities))
    complete = (1,) * count
    if mode == "paper":
        if count == 1:
            return [complete]
        return [complete] + [tuple(int(j != i) for j in range(count)) for i in range(count)]
    if mode == "complete":
        return [complete]
    if mode == "subsets":
        subsets = [bits for bits in itertools.product((1, 0), repeat=count) if any(bits)]
        return sorted(subsets, key=lambda bits: -sum(bits))
    raise ValueError(f"mode must be one of {ABLATIONS}, got {mode!r}")


def broadcast_trailing(bit, tensor):
    """Reshapes a value of leading axes (a per-sample scalar or [B]; a per-step [T] or [B, T]) to broadcast against
    `tensor`, whose extra trailing axes get size 1."""
    trailing = tensor.shape.rank - bit.shape.rank
    return tf.reshape(bit, tf.concat([tf.shape(bit), tf.ones([trailing], tf.int32)], axis=0))


def noise_fill(tensor, replace, seed):
    """`tensor` with the samples where `replace` holds replaced by N(0, 1) noise of its dtype.

    tensor: one example [...] with `replace` a bool scalar, or a batch [B, ...]
    with `replace` bool [B]. seed: int [2] stateless seed of the noise. The one
    place where noise for a dropped or missing modality is drawn.
    """
    noise = tf.random.stateless_normal(tf.shape(tensor), seed, dtype=tensor.dtype)
    return tf.where(broadcast_trailing(tf.convert_to_tensor(replace), tensor), noise, tensor)


def recording_seed(recording, index, seed):
    """The stateless seed (int [2]) of modality `index` of one recording (a scalar string id) under data `seed`.

    The id is hashed (FarmHash) beside the seed and the modality index folded
    in (SYSTEMS.md 1.2), so a draw depends on neither batch size nor order.
    """
    hashed = tf.strings.to_hash_bucket_fast(recording, 2 ** 63 - 1)
    return tf.random.experimental.stateless_fold_in(tf.stack([tf.constant(seed, tf.int64), hashed]), index)


def fill_missing_with_noise(inputs, modalities, seed):
    """One example with each modality whose present bit is 0 filled with N(0, 1) noise (the "with noise" evaluation).

    inputs: the data-contract dict of ONE example, with `present` [M] and its
    `recording` id; the noise is drawn from `recording_seed(recording, index,
    seed)`, so every system and every run sees the same noise in any batching.
    Present bits stay 0. Returns a new dict.
    """
    modalities = _run_modalities(modalities)
    _check_modality_keys(inputs, modalities)
    outputs = dict(inputs)
    for index, modality in enumerate(modalities):
        outputs[modality] = noise_fill(tf.convert_to_tensor(inputs[modality]), inputs["present"][index] <= 0,
                                       recording_seed(inputs["recording"], index, seed))
    return outputs


def _check_modality_keys(inputs, modalities):
    missing = [m for m in modalities if m not in inputs]
    if missing:
        raise ValueError(f"inputs: no tensor for modalities {missing} (keys: {sorted(inputs)})")


def apply_presence(inputs, present, modalities):
    """Applies a presence condition to one example, or to a batch.

    inputs: the data-contract dict. present: float32 [M] (1 keep, 0 remove),
    aligned with `modalities`. The result's "present" is `present` times any
    existing inputs["present"], so a modality that was not recorded stays 0.
    Tensors of modalities that end up missing are replaced by zeros of the same
    dtype and shape; other keys pass through. Works in a tf.data map on one
    example, and on a batch when inputs["present"] is [B, M] (the batch axis is
    read from it; without it the inputs are taken as one example).
    Returns a new dict.
    """
    modalities = _run_modalities(modalities)
    _check_modality_keys(inputs, modalities)
    present = tf.convert_to_tensor(present, dtype=tf.float32)
    if present.shape.rank != 1 or (present.shape[0] is not None and present.shape[0] != len(modalities)):
        raise ValueError(f"present must have shape [{len(modalities)}] for {modalities}, got {present.shape}")
    if "present" in inputs:
        present = present * tf.cast(inputs["present"], tf.float32)
    return blank_missing({**inputs, **{m: tf.convert_to_tensor(inputs[m]) for m in modalities}}, present, modalities,
                         ops=tf)


def modality_dropout(inputs, rate, seed, mode="hard", alpha=0.5):
    """Randomly drops modalities of a BATCH, independently per sample (stateless).

    inputs: data-contract dict with a batch axis; inputs["present"] [B, M]
    defines the run's modalities (the modality keys found in `inputs`, canonical
    order). seed: int [2] stateless seed. Each present modality of each sample
    is dropped with probability `rate`; when that would drop every present
    modality of a sample, one of them, chosen uniformly, is kept, so a
    modality among k present is dropped with probability rate - rate**k / k.
    Modes (Chumachenko et al., self-attention fusion):
      "hard":  dropped tensor -> zeros, its present bit -> 0 (the data contract).
      "soft":  in a sample with a drop, dropped tensors are scaled by `alpha`
               and the kept ones by 1 - alpha; present bits stay as they were,
               since nothing is removed.
      "noise": dropped tensor -> N(0, 1) noise, its present bit -> 0.
    Per-step "<modality>_mask" keys pass through unchanged. Returns a new dict.
    """
    _check_dropout_args(rate, mode, alpha)
    modalities = tuple(m for m in MODALITIES if m in inputs)
    present = tf.cast(inputs["present"], tf.float32) if "present" in inputs else None
    if present is None or present.shape.rank != 2:
        raise ValueError("inputs: modality_dropout needs a batch with 'present' of shape [B, M]")
    if present.shape[1] is not None and present.shape[1] != len(modalities):
        raise ValueError(f"inputs: 'present' has {present.shape[1]} entries for modalities {modalities}")
    drop_seed, keep_seed, *noise_seeds = tf.unstack(
        tf.random.experimental.stateless_split(seed, num=2 + len(modalities)))

    was_present = present > 0
    drop = (tf.random.stateless_uniform(tf.shape(present), drop_seed) < rate) & was_present
    all_dropped = tf.reduce_all(drop == was_present, axis=1) & tf.reduce_any(was_present, axis=1)
    scores = tf.where(was_present, tf.random.stateless_uniform(tf.shape(present), keep_seed), -1.0)
    rescued = tf.one_hot(tf.argmax(scores, axis=1), len(modalities), on_value=True, off_value=False)
    drop = drop & ~(rescued & all_dropped[:, None])

    outputs = {**inputs, **{m: tf.convert_to_tensor(inputs[m]) for m in modalities}}
    kept = tf.where(drop, 0.0, present)
    if mode == "hard":
        return blank_missing(outputs, kept, modalities, ops=tf)
    any_dropped = tf.reduce_any(drop, axis=1)
    for index, modality in enumerate(modalities):
        tensor = outputs[modality]
        if mode == "noise":
            outputs[modality] = noise_fill(tensor, drop[:, index], noise_seeds[index])
        else:
            kept_scale = tf.where(any_dropped, 1.0 - alpha, 1.0)
            scale = tf.where(drop[:, index], alpha, kept_scale)
            outputs[modality] = tensor * tf.cast(broadcast_trailing(scale, tensor), tensor.dtype)
    return {**outputs, "present": present if mode == "soft" else kept}


def _check_dropout_args(rate, mode, alpha):
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"rate must be in [0, 1), got {rate}")
    if mode not in DROPOUT_MODES:
        raise ValueError(f"mode must be one of {DROPOUT_MODES}, got {mode!r}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")


def _batch_seed(seed, index):
    """The stateless seed (int64 [2]) of batch `index` under `seed`."""
    return tf.stack([tf.constant(seed, tf.int64), tf.cast(index, tf.int64)])


class ModalityDropout:
    """Seeded modality dropout for `batched_dataset.enumerate().map(ModalityDropout(rate, ...))`.

    Batch i gets `modality_dropout` with the stateless seed (seed, i), so the
    drops are a function of the seed and the batch's position alone: the same
    in every run, in any map order, and after a resume. Takes (index, inputs)
    or (index, (inputs, label)) and returns inputs or (inputs, label).
    """

    def __init__(self, rate, mode="hard", alpha=0.5, seed=0):
        _check_dropout_args(rate, mode, alpha)
        self.rate = float(rate)
        self.mode = mode
        self.alpha = float(alpha)
        self.seed = int(seed)

    def __call__(self, index, example):
        seed = _batch_seed(self.seed, index)
        if isinstance(example, tuple):
            inputs, label = example
            return modality_dropout(inputs, self.rate, seed, self.mode, self.alpha), label
        return modality_dropout(example, self.rate, seed, self.mode, self.alpha)


def replicate_modalities(inputs, labels, mode, modalities, seed):
    """SA-fusion's replicated modality dropout of a BATCH (SYSTEMS.md 2.3, 2.7): B -> (2 + M)·B or (1 + M)·B samples.

    inputs: data-contract dict, `present` [B, M] aligned with `modalities`
    (canonical order, M >= 2); labels [B]; seed: int [2] stateless seed.
    The copies, then shuffled together (seeded):
      all:       the batch as it is;
      soft:      ("softhard" only) each modality times a convex weight over the
                 sample's present modalities, multiples of 0.01 summing to 1
                 (M = 2, both present: c, 1 - c with c = randint(0, 100) / 100,
                 the paper's code; else a flat Dirichlet over the present ones,
                 quantised); present bits kept;
      one per modality m: m zeroed ("softhard") or N(0, 1) noise ("noise"),
                 its present bit 0.
    Every other key (`recording`, step masks) and the labels are repeated
    alike. Returns (inputs, labels).
    """
    modalities = _check_replication(mode, modalities)
    _check_modality_keys(inputs, modalities)
    count = len(modalities)
    present = tf.cast(inputs["present"], tf.float32)
    weight_seed, shuffle_seed, *noise_seeds = tf.unstack(tf.random.experimental.stateless_split(seed, num=2 + count))
    batch = {**inputs, **{m: tf.convert_to_tensor(inputs[m]) for m in modalities}, "present": present}
    copies = [batch]
    if mode == "softhard":
        weights = _convex_weights(present, weight_seed)
        copies.append({**batch, **{m: batch[m] * tf.cast(broadcast_trailing(weights[:, i], batch[m]), batch[m].dtype)
                                   for i, m in enumerate(modalities)}})
    every_sample = tf.ones(tf.shape(present)[:1], tf.bool)
    for index, modality in enumerate(modalities):
        tensor = batch[modality]
        dropped = tf.zeros_like(tensor) if mode == "softhard" else noise_fill(tensor, every_sample, noise_seeds[index])
        copies.append({**batch, modality: dropped, "present": present * (1.0 - tf.one_hot(index, count))})
    order = tf.random.experimental.stateless_shuffle(tf.range(len(copies) * tf.shape(present)[0]), shuffle_seed)
    outputs = {key: tf.gather(tf.concat([copy[key] for copy in copies], axis=0), order) for key in batch}
    return outputs, tf.gather(tf.concat([labels] * len(copies), axis=0), order)


def _convex_weights(present, seed):
    """[B, M] weights over each sample's present modalities: multiples of 0.01 summing to 1, 0 where absent."""
    if present.shape[1] == 2:
        c = tf.random.stateless_uniform(tf.shape(present)[:1], seed, 0, 100, dtype=tf.int32)
        c = tf.cast(c, tf.float32) / 100.0
        both = tf.reduce_all(present > 0, axis=1, keepdims=True)
        return tf.where(both, tf.stack([c, 1.0 - c], axis=1), present)
    # A flat Dirichlet is Exp(1) draws normalised; rounding the cumulative sums to 0.01 keeps the sum at 1.
    draws = -tf.math.log(tf.random.stateless_uniform(tf.shape(present), seed, minval=1e-7, maxval=1.0)) * present
    steps = tf.round(100.0 * tf.math.divide_no_nan(tf.cumsum(draws, axis=1),
                                                   tf.reduce_sum(draws, axis=1, keepdims=True)))
    return (steps - tf.pad(steps[:, :-1], [[0, 0], [1, 0]])) / 100.0


def _check_replication(mode, modalities):
    """The run's modalities (canonical tuple) after checking a replication `mode` and that there are two or more."""
    if mode not in REPLICATION_MODES:
        raise ValueError(f"--dropout: replication mode must be one of {REPLICATION_MODES}, got {mode!r}")
    modalities = _run_modalities(modalities)
    if len(modalities) < 2:
        raise ValueError(f"--dropout {mode}: replicated modality dropout needs two or more modalities, "
                         f"the run has only {modalities[0]}")
    return modalities


class ReplicatedModalityDropout:
    """Seeded replicated modality dropout for `batched_dataset.enumerate().map(ReplicatedModalityDropout(...))`.

    mode "softhard" ((2 + M)·B samples) or "noise" ((1 + M)·B), see
    `replicate_modalities`; modalities: the run's (canonical order). Batch i
    gets the stateless seed (seed, i), as with ModalityDropout: the same in
    every run and after a resume. Takes (index, (inputs, labels)) and returns
    (inputs, labels).
    """

    def __init__(self, mode, modalities, seed=0):
        self.modalities = _check_replication(mode, modalities)
        self.mode = mode
        self.seed = int(seed)

    def __call__(self, index, example):
        inputs, labels = example
        return replicate_modalities(inputs, labels, self.mode, self.modalities, _batch_seed(self.seed, index))
