"""P x K batches for triplet mining: P distinct people, K samples of each."""

import math

import numpy as np
import tensorflow as tf


def _check_count(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def pk_batches(dataset, labels, people_per_batch, samples_per_person, seed=0, shuffle_buffer=None):
    """Batches an UNBATCHED (inputs, label) dataset into P x K batches; infinite.

    labels: the per-example labels of `dataset`, in any order (used to find the
    people and how many samples each has). Each batch holds P =
    people_per_batch distinct people drawn at random and K =
    samples_per_person samples of each, grouped by person (the first K
    belong to one person, and so on); every tensor gets a leading axis P * K.
    A person with at least K samples contributes K distinct samples per batch
    (drawn without replacement from a pass over their samples in an order
    fixed by the seed; the leftover n mod K of a pass are skipped); a person
    with fewer than K repeats their samples to fill K. Every iteration of the
    returned dataset yields the same batches (a resumed or re-read epoch sees
    what the first read saw); vary `seed` per epoch for new orders. Each person's
    stream filters the whole `dataset`, so pass a light one held in memory:
    SplitData passes sample ids and reads their features from the cache per
    batch (pipelines.batching.read_sample_batches), so the split never sits in memory. shuffle_buffer
    caps each person's shuffle buffer (default: all their samples).
    Deterministic for a seed. The caller sets the steps per epoch
    (`pk_steps_per_epoch`).
    """
    _check_count("people_per_batch", people_per_batch, 2)
    _check_count("samples_per_person", samples_per_person, 2)
    if shuffle_buffer is not None:
        _check_count("shuffle_buffer", shuffle_buffer, 1)
    spec = dataset.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2 and spec[1].shape.rank == 0):
        raise ValueError(f"dataset must yield unbatched (inputs, label) pairs with a scalar label, got {spec}")
    people, sample_counts = np.unique(np.asarray(labels), return_counts=True)
    if people_per_batch > len(people):
        raise ValueError(
            f"people_per_batch={people_per_batch} exceeds the {len(people)} people in labels")

    streams = []
    for index, (person, count) in enumerate(zip(people, sample_counts)):
        own = dataset.filter(lambda inputs, label, person=person: tf.equal(label, tf.cast(person, label.dtype)))
        buffer = int(count if shuffle_buffer is None else min(count, shuffle_buffer))
        own = own.shuffle(buffer, seed=seed * 100_003 + index, reshuffle_each_iteration=False)
        if count >= samples_per_person:
            own = own.batch(samples_per_person, drop_remainder=True).repeat()
        else:
            own = own.repeat().batch(samples_per_person, drop_remainder=True)
        streams.append(own)

    people_count = len(people)
    choices = tf.data.Dataset.random(seed=seed).map(
        lambda value: tf.random.experimental.stateless_shuffle(
            tf.range(people_count, dtype=tf.int64), tf.stack([value, tf.constant(seed, tf.int64)])
        )[:people_per_batch])
    groups = tf.data.Dataset.choose_from_datasets(streams, choices.unbatch())
    batch_size = people_per_batch * samples_per_person

    def merge_people_axis(tensor):
        merged = tf.reshape(tensor, tf.concat([[batch_size], tf.shape(tensor)[2:]], axis=0))
        return tf.ensure_shape(merged, tf.TensorShape([batch_size]).concatenate(tensor.shape[2:]))

    return groups.batch(people_per_batch, drop_remainder=True).map(
        lambda inputs, label: tf.nest.map_structure(merge_people_axis, (inputs, label)))


def pk_steps_per_epoch(num_samples, people_per_batch, samples_per_person):
    """Steps that show about `num_samples` samples: ceil(num_samples / (P * K))."""
    _check_count("num_samples", num_samples, 1)
    _check_count("people_per_batch", people_per_batch, 2)
    _check_count("samples_per_person", samples_per_person, 2)
    return math.ceil(num_samples / (people_per_batch * samples_per_person))
