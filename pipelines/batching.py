"""Training batches: one epoch of a split's training samples as the data contract's batches, drawn by a
`BatchPolicy` (sampler, modality dropout or replication, SpecAugment, step dropout), a function of
(seed, epoch) alone."""

import dataclasses

import numpy as np
import tensorflow as tf

from pipelines import ablation, augment, augmentation, cache, step_masks, train_corruptions
from pipelines import sampler as sampler_module


@dataclasses.dataclass(frozen=True)
class BatchPolicy:
    """How one epoch of training batches is drawn.

    batch_size: samples per batch. seed: with the epoch, fixes the order and
    every draw. sampler "random": the training samples in a random order (a
    NumPy permutation of their ids, seeded by (seed, epoch)), remainder
    dropped; "pk": `people_per_batch` people x batch_size // people_per_batch
    samples each. Either way memory holds the samples' ids, and each batch
    reads its recordings from the cache on disk. dropout_rate > 0: seeded modality dropout per sample
    (pipelines.ablation.ModalityDropout) as `dropout_mode` "hard" (zeros),
    "soft" or "noise". augment > 0: each sample's modalities augmented at
    that strength in [0, 1] (pipelines.augmentation.SampleAugment, first).
    corrupt_train P > 0: a share P of the samples each given one random
    corruption (pipelines.train_corruptions.SampleCorruption, after augment).
    spec_augment > 0: time and frequency masks of up to that
    width on the audio (pipelines.augment.SpecAugment). replication "softhard"
    or "noise" (instead of dropout_rate): each batch becomes (2 + M) or (1 + M)
    times as many (pipelines.ablation.ReplicatedModalityDropout); None: none.
    step_dropout p > 0 (MCT-HFR's dynamic incomplete training,
    pipelines.step_masks.DynamicStepDropout, applied last): the samples also
    carry `<m>_full`, and in a share of each batch rising linearly from 0 to 1
    over the first `ramp_epochs` epochs (0: all from the start) every real
    step is dropped with probability p.
    """

    batch_size: int
    seed: int = 0
    sampler: str = "random"
    people_per_batch: int = 8
    dropout_rate: float = 0.0
    dropout_mode: str = "hard"
    augment: float = 0.0
    corrupt_train: float = 0.0
    spec_augment: int = 0
    replication: str | None = None
    step_dropout: float = 0.0
    ramp_epochs: int = 0

    def __post_init__(self):
        if self.step_dropout > 0 and self.replication is not None:
            raise ValueError("step_dropout: choose replicated modality dropout (replication) or step dropout, "
                             "not both")
        if not 0.0 <= self.augment <= 1.0:
            raise ValueError(f"augment: expected a strength in [0, 1], got {self.augment}")
        if not 0.0 <= self.corrupt_train <= 1.0:
            raise ValueError(f"corrupt_train: expected a share of training samples in [0, 1], got {self.corrupt_train}")
        if not 0.0 <= self.step_dropout < 1.0:
            raise ValueError(f"step_dropout: expected a probability in [0, 1), got {self.step_dropout}")
        if int(self.ramp_epochs) != self.ramp_epochs or self.ramp_epochs < 0:
            raise ValueError(f"ramp_epochs: expected an integer >= 0, got {self.ramp_epochs}")
        if self.replication is not None and self.dropout_rate > 0:
            raise ValueError("replication: choose replicated or per-sample modality dropout (dropout_rate), "
                             "not both")


def training_batches(data, epoch, policy):
    """The training batches of one epoch (counted from 0) of `data` (a SplitData) drawn by `policy`: (dataset of
    exactly `steps` batches, steps).

    The batches are a function of (policy.seed, epoch) alone, the same on every
    iteration of the dataset (Keras reads a first batch from an iterator of its
    own under a distribution strategy), so a run resumed at any epoch sees what
    an uninterrupted run saw (augmentation, corruptions and SpecAugment's masks included). Sequence modalities
    carry `<m>_mask` and `<m>_missing`, kept in step with any modality dropout.
    (augmentation, corruptions, SpecAugment and soft or noise modality dropout change `<m>` beyond
    `<m>_full` * (1 - `<m>_missing`); hard dropout and replication keep it.)
    """
    epoch_seed = policy.seed * 100_003 + epoch
    full = policy.step_dropout > 0
    steps = epoch_steps(data, policy)
    if policy.sampler == "pk":
        samples_per_person = policy.batch_size // policy.people_per_batch
        ids, labels = data.training_sample_ids()
        chosen = sampler_module.pk_batches(ids, labels, policy.people_per_batch, samples_per_person, seed=epoch_seed)
        batches = read_sample_batches(data, chosen.take(steps), full)
    else:
        rows, columns, labels = data.training_samples()
        order = random_order(len(labels), epoch_seed)[:steps * policy.batch_size]
        chosen = tf.data.Dataset.from_tensor_slices(((rows[order], columns[order]), labels[order]))
        batches = read_sample_batches(data, chosen.batch(policy.batch_size, drop_remainder=True), full)
    if policy.augment > 0:
        batches = batches.map(augmentation.SampleAugment(
            augmentation.augmentation_kinds(data), data.modalities, policy.augment, epoch_seed,
            data.config.features.n_mels))
    if policy.corrupt_train > 0:
        settings = data.config.features
        batches = batches.map(train_corruptions.SampleCorruption(
            augmentation.augmentation_kinds(data), data.modalities, policy.corrupt_train, epoch_seed, settings.n_mels,
            settings.sample_rate, settings.hop_length))
    if policy.spec_augment and "audio" in data.modalities:
        batches = batches.enumerate().map(augment.SpecAugment(policy.spec_augment, seed=epoch_seed))
    modalities = data.modalities
    if policy.dropout_rate > 0:
        batches = batches.enumerate().map(
            ablation.ModalityDropout(policy.dropout_rate, policy.dropout_mode, seed=epoch_seed))
    if policy.replication is not None:
        batches = batches.enumerate().map(
            ablation.ReplicatedModalityDropout(policy.replication, modalities, seed=epoch_seed))
    if (policy.dropout_rate > 0 or policy.replication is not None) and data.sequence_modalities:
        batches = batches.map(lambda inputs, labels: (step_masks.sync_missing(inputs, modalities), labels))
    if full:
        batches = batches.enumerate().map(step_masks.DynamicStepDropout(
            policy.step_dropout, ramp_steps=int(policy.ramp_epochs) * steps, steps_per_epoch=steps, epoch=epoch,
            seed=policy.seed, modalities=modalities))
    return without_autotune(batches.prefetch(tf.data.AUTOTUNE)), steps


def epoch_steps(data, policy):
    """The training steps of one epoch of `training_batches` (of the split, the sampler and the batch size alone;
    nothing is read or traced). ValueError when the batch exceeds the training samples."""
    count = len(data.training_samples()[2])
    if policy.sampler == "pk":
        return sampler_module.pk_steps_per_epoch(count, policy.people_per_batch,
                                                 policy.batch_size // policy.people_per_batch)
    if count < policy.batch_size:
        raise ValueError(f"batch_size: {policy.batch_size} exceeds the {count} training samples")
    return count // policy.batch_size


def random_order(count, epoch_seed):
    """The random sampler's order of `count` training samples in one epoch: a permutation int [count], a function
    of `epoch_seed` (training_batches': seed * 100_003 + epoch) alone."""
    return np.random.default_rng(epoch_seed).permutation(count)


def read_sample_batches(data, batches, full=False):
    """Batches of sample ids -> the data-contract batches of `data` (a SplitData): each batch's recordings are
    read from the cache on disk in one read when the batch is made (cache.example_reader), so memory holds the
    ids and about one batch of recordings.

    batches: a dataset of ((recording index int64 [B], condition index int64 [B]), label int32 [B]), e.g.
    sampler.pk_batches over `SplitData.training_sample_ids`; `full` adds `<m>_full` (step dropout)."""
    read = cache.example_reader(data.cache_path)
    conditions = tf.constant(data.conditions, tf.float32)
    sample = data.sample_function(full)
    batch_size = batches.element_spec[1].shape[0]
    return batches.map(lambda ids, label: (read(ids[0]), ids[1])).unbatch().map(
        lambda example, condition: sample(example, tf.gather(conditions, condition)),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True,
    ).batch(batch_size, drop_remainder=True)


def without_autotune(data):
    """`data` with tf.data's autotuning off (AUTOTUNE parallelism then means the core count). Destroying an
    iterator waits for its autotuning thread, which sleeps for up to a minute between passes, and Keras makes a
    new validation iterator every epoch: 10-40 s of idle CPU per epoch, measured. These pipelines are far faster
    than the models they feed, so nothing is lost."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return data.with_options(options)
