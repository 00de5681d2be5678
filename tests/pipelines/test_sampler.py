import collections

import numpy as np
import pytest
import tensorflow as tf

from pipelines.sampler import pk_batches, pk_steps_per_epoch

SAMPLES_PER_PERSON = [3, 5, 1, 6, 4, 7]


def make_dataset():
    """Unbatched (inputs, label) examples; inputs["index"] identifies each example."""
    labels = np.repeat(np.arange(len(SAMPLES_PER_PERSON)), SAMPLES_PER_PERSON).astype(np.int32)
    order = np.random.default_rng(0).permutation(len(labels))
    labels = labels[order]
    inputs = {
        "index": np.arange(len(labels), dtype=np.int32),
        "audio": np.random.default_rng(1).normal(size=(len(labels), 4, 2)).astype(np.float32),
        "recording": np.array([f"r{i}" for i in range(len(labels))]),
    }
    return tf.data.Dataset.from_tensor_slices((inputs, labels)).cache(), labels


def take_batches(people, samples, count, seed):
    dataset, labels = make_dataset()
    batches = pk_batches(dataset, labels, people, samples, seed=seed).take(count)
    return [(inputs, label) for inputs, label in batches.as_numpy_iterator()], labels


def test_every_batch_has_p_people_k_times():
    people, samples = 3, 4
    batches, labels = take_batches(people, samples, 40, seed=0)
    counts = collections.Counter()
    for inputs, label in batches:
        assert label.shape == (people * samples,)
        assert inputs["audio"].shape == (people * samples, 4, 2)
        np.testing.assert_array_equal(labels[inputs["index"]], label)  # inputs stay with their label
        per_person = collections.Counter(label.tolist())
        assert len(per_person) == people and set(per_person.values()) == {samples}
        for person, count in zip(*np.unique(labels, return_counts=True)):
            if person in per_person and count >= samples:  # enough samples: no repeats
                assert len(set(inputs["index"][label == person])) == samples
        counts.update(per_person)
    assert set(counts) == set(range(len(SAMPLES_PER_PERSON)))  # people are drawn at random


def test_same_seed_same_batches():
    first, _ = take_batches(2, 3, 8, seed=5)
    second, _ = take_batches(2, 3, 8, seed=5)
    other, _ = take_batches(2, 3, 8, seed=6)
    index = lambda batches: np.stack([inputs["index"] for inputs, _ in batches])
    np.testing.assert_array_equal(index(first), index(second))
    assert not np.array_equal(index(first), index(other))


def test_static_batch_shape():
    dataset, labels = make_dataset()
    inputs_spec, label_spec = pk_batches(dataset, labels, 2, 2).element_spec
    assert label_spec.shape == (4,)
    assert inputs_spec["audio"].shape == (4, 4, 2)


@pytest.mark.parametrize("people, samples, name", [
    (1, 2, "people_per_batch"), (2, 1, "samples_per_person"), (7, 2, "people_per_batch"),
    (2.5, 2, "people_per_batch"),
])
def test_bad_arguments_raise(people, samples, name):
    dataset, labels = make_dataset()
    with pytest.raises(ValueError, match=name):
        pk_batches(dataset, labels, people, samples)


def test_batched_dataset_is_rejected():
    dataset, labels = make_dataset()
    with pytest.raises(ValueError, match="unbatched"):
        pk_batches(dataset.batch(2), labels, 2, 2)


def test_steps_per_epoch():
    assert pk_steps_per_epoch(100, 4, 8) == 4
    assert pk_steps_per_epoch(96, 4, 8) == 3
    with pytest.raises(ValueError, match="num_samples"):
        pk_steps_per_epoch(0, 4, 8)
    with pytest.raises(ValueError, match="samples_per_person"):
        pk_steps_per_epoch(10, 4, 1)


def test_every_iteration_yields_the_same_batches():
    dataset, labels = make_dataset()
    batches = pk_batches(dataset, labels, 2, 3, seed=4).take(12)
    first = [inputs["index"] for inputs, _ in batches.as_numpy_iterator()]
    again = [inputs["index"] for inputs, _ in batches.as_numpy_iterator()]
    np.testing.assert_array_equal(np.stack(first), np.stack(again))
