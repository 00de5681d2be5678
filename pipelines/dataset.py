"""The whole input pipeline: read, decode, features (cached), ablate, split, shuffle, batch, prefetch."""

import dataclasses
import functools
import logging
import os

import numpy as np
import tensorflow as tf

from avtfuse.config import Config
from avtfuse.contract import ABLATIONS, MODALITIES, PROTOCOLS, canonical_modalities, condition_name
from pipelines import ablation, cache, splits
from pipelines import sampler as sampler_module
from pipelines import features as feature_stage
from pipelines.features import FeatureConfig
from pipelines.errors import ErrorPolicy
from pipelines.recording import assign_labels

logger = logging.getLogger(__name__)

SPLIT_IDS = {"train": 0, "test": 1}
DEFAULT_CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "avtfuse")


@dataclasses.dataclass
class DataConfig(Config):
    """Where the data comes from and how it becomes ablated, split samples.

    `source`: a SpeakingFaces root folder, a manifest CSV, or None for the
    built-in synthetic set (written once under `cache_dir`). `protocol`:
    "paper" (ablate, then split samples at random) or "strict" (every copy of
    a recording on one side). `ablation`: "paper" (complete + one copy per
    missing modality) or "subsets" (every non-empty subset).
    """

    source: str | None = None
    modalities: tuple = MODALITIES
    features: FeatureConfig = dataclasses.field(default_factory=FeatureConfig)
    protocol: str = "paper"
    test_fraction: float = splits.PAPER_TEST_FRACTION
    ablation: str = "paper"
    subjects: tuple | None = None
    frame: str = "middle"
    synthetic_subjects: int = 12
    cache_dir: str = DEFAULT_CACHE_DIR
    on_error: str = "raise"
    seed: int = 0

    def __post_init__(self):
        self.modalities = canonical_modalities(self.modalities)
        self.features = FeatureConfig.coerce(self.features)
        self.check_choice("protocol", PROTOCOLS)
        self.check_choice("ablation", ABLATIONS)
        if self.subjects is not None:
            self.subjects = tuple(self.subjects)

    # Settings that say where things are, not what the data is: a run resumes under other values.
    LOCATION_FIELDS = ("cache_dir",)


@dataclasses.dataclass
class SplitData:
    """Cached features plus the ablated train/test assignment of every sample.

    `labels` [N] are the recordings' person labels; `conditions` [C, M] are
    the presence patterns of the ablation; `assignment` [N, C] holds, per recording and condition, 0 (train), 1 (test) or -1 (no
    such sample, e.g. a copy that would have no modality left).
    """

    config: DataConfig
    cache_path: str
    content_hash: str
    class_names: list
    labels: np.ndarray
    conditions: np.ndarray
    assignment: np.ndarray
    skipped: int

    @property
    def num_people(self):
        return len(self.class_names)

    @property
    def shapes(self):
        return self.config.features.shapes(self.config.modalities)

    def count(self, split):
        return int((self.assignment == SPLIT_IDS[split]).sum())

    def condition_counts(self, split):
        names = [condition_name(c, self.config.modalities) for c in self.conditions]
        per = (self.assignment == SPLIT_IDS[split]).sum(axis=0)
        return {n: int(k) for n, k in zip(names, per)}

    def samples(self, split, shuffle_recordings=False, seed=None):
        """Unbatched (inputs, label) examples of one split, in the data contract (with shuffle_recordings:
        recordings in an order fixed by `seed`, the same on every iteration)."""
        modalities = self.config.modalities
        split_id = SPLIT_IDS[split]
        conditions = tf.constant(self.conditions, tf.float32)
        assignment = tf.constant(self.assignment, tf.int32)
        recordings = cache.read_cache(self.cache_path, self.shapes)
        if shuffle_recordings:
            recordings = recordings.shuffle(self.assignment.shape[0], seed=seed, reshuffle_each_iteration=False)

        def copies(example):
            row = tf.gather(assignment, example["index"])
            inputs = {m: example[m] for m in modalities}
            inputs.update(present=example["recorded"], recording=example["recording"])
            chosen = tf.data.Dataset.from_tensor_slices((row, conditions)).filter(lambda a, _: a == split_id)
            return chosen.map(
                lambda _, present: (ablation.apply_presence(inputs, present, modalities), example["label"]))

        return recordings.flat_map(copies)

    def batches(self, split, batch_size):
        """Batched, prefetched examples of a split in cache order (evaluation and embedding)."""
        return self.samples(split).batch(batch_size).prefetch(tf.data.AUTOTUNE)

    @functools.cached_property
    def cached_training_samples(self):
        """The training samples in cache order, held in memory once for every epoch of the P x K sampler."""
        return self.samples("train").cache()

    def training_batches(self, epoch, batch_size, seed, sampler="random", people_per_batch=8,
                         dropout_rate=0.0, dropout_mode="hard"):
        """The training batches of one epoch: (dataset of exactly `steps` batches, steps).

        The batches are a function of (seed, epoch) alone, the same on every
        iteration of the dataset (Keras reads a first batch from an iterator of
        its own under a distribution strategy), so a run resumed at any epoch
        sees what an uninterrupted run saw. sampler "random":
        shuffled samples, batches of `batch_size`, remainder dropped; "pk":
        `people_per_batch` people x batch_size // people_per_batch samples each
        (the split's samples are cached in memory). With `dropout_rate` > 0
        each batch gets seeded modality dropout (pipelines.ablation.ModalityDropout).
        """
        epoch_seed = seed * 100_003 + epoch
        if sampler == "pk":
            samples_per_person = batch_size // people_per_batch
            rows, _ = np.nonzero(self.assignment == SPLIT_IDS["train"])
            steps = sampler_module.pk_steps_per_epoch(len(rows), people_per_batch, samples_per_person)
            data = sampler_module.pk_batches(
                self.cached_training_samples, self.labels[rows], people_per_batch, samples_per_person,
                seed=epoch_seed).take(steps)
        else:
            count = self.count("train")
            if count < batch_size:
                raise ValueError(f"batch_size: {batch_size} exceeds the {count} training samples")
            steps = count // batch_size
            data = self.samples("train", shuffle_recordings=True, seed=epoch_seed)
            data = data.shuffle(min(2048, count), seed=epoch_seed, reshuffle_each_iteration=False)
            data = data.batch(batch_size, drop_remainder=True)
        if dropout_rate > 0:
            data = data.enumerate().map(ablation.ModalityDropout(dropout_rate, dropout_mode, seed=epoch_seed))
        return data.prefetch(tf.data.AUTOTUNE), steps


def load_recordings(config, policy):
    """Reads the recordings of `config.source` (or writes the synthetic default first)."""
    from pipelines import manifest, speakingfaces, synthetic

    source = config.source
    if source is None:
        generator = synthetic.generator_fingerprint()  # a changed generator writes a new set
        source = os.path.join(
            config.cache_dir, f"synthetic-{config.synthetic_subjects}-seed{config.seed}-{generator}")
        if not os.path.exists(os.path.join(source, "complete")):
            logger.info("writing the built-in synthetic data set to %s", source)
            synthetic.write_speakingfaces(
                source, subjects=range(1, config.synthetic_subjects + 1), seed=config.seed)
            open(os.path.join(source, "complete"), "w").close()
    if not os.path.exists(source):
        raise FileNotFoundError(f"--data {source}: no such file or folder")
    if os.path.isdir(source):
        return speakingfaces.read_speakingfaces(
            source, modalities=config.modalities, subjects=config.subjects, frame=config.frame, policy=policy)
    return manifest.read_manifest(source, modalities=config.modalities, policy=policy)


def prepare(config):
    """Reads, validates and caches the data of `config`; returns its SplitData.

    A complete cache for the same files and settings is reused without
    decoding anything again. Bad files raise, or are skipped and counted
    (config.on_error="skip").
    """
    policy = ErrorPolicy(config.on_error)
    recordings = load_recordings(config, policy)
    key = feature_stage.fingerprint(recordings, config.modalities, config.features)
    path = cache.cache_path(config.cache_dir, f"features-{key}")
    if cache.is_complete(path):
        logger.info("using the cached features in %s", path)
    else:
        logger.info("validating %d recordings", len(recordings))
        recordings, rates = feature_stage.validate_recordings(recordings, config.modalities, policy)
        labels, mapping = assign_labels(recordings)
        recorded = [[int(bool(r.path(m))) for m in config.modalities] for r in recordings]
        meta = {
            "recordings": [r.recording for r in recordings],
            "labels": labels,
            "class_names": list(mapping),
            "recorded": recorded,
            "skipped": [str(e) for e in policy.skipped],
        }
        stream = feature_stage.feature_dataset(recordings, labels, rates, config.modalities, config.features)
        cache.write_cache(stream, path, recordings, config.modalities, meta=meta)
    meta = cache.read_meta(path)
    skipped = policy.report("recordings") if policy.skipped else len(meta["skipped"])
    if meta["skipped"] and not policy.skipped:
        logger.warning("%d recordings were skipped when this cache was written", skipped)
    trained = ablation.ablation_conditions(config.modalities, config.ablation)
    extra = [c for c in ablation.ablation_conditions(config.modalities, "subsets") if c not in trained]
    conditions = np.array(trained + extra, np.float32)
    people = [meta["class_names"][label] for label in meta["labels"]]
    assignment = assign_samples(
        np.array(meta["recorded"], np.float32), meta["recordings"], people, conditions, len(trained), config)
    return SplitData(
        config, path, meta["content_sha256"], meta["class_names"], np.array(meta["labels"]), conditions, assignment,
        skipped)


def assign_samples(recorded, recording_ids, people, conditions, num_trained, config):
    """The [N, C] train/test/none table of the ablated samples (see SplitData).

    `recorded` [N, M] marks the modalities each recording has; `people` [N]
    names each recording's person (split errors name them). The first
    `num_trained` conditions are the ablation's: their copies are split by the
    protocol. The rest (e.g. single-modality conditions, which the paper's
    ablation lacks) are evaluation-only: a recording's copies in them go to
    the test side when the recording has any test sample, and nowhere otherwise.
    """
    effective = recorded[:, None, :] * conditions[None, :, :]
    usable = effective.any(axis=-1)
    # A copy identical to an earlier copy of the same recording (a modality it never had) is dropped.
    for c in range(1, len(conditions)):
        same = (effective[:, :c, :] == effective[:, c:c + 1, :]).all(axis=-1).any(axis=1)
        usable[:, c] &= ~same
    dropped = int(usable.size - usable.sum())
    if dropped:
        logger.info("%d ablated copies dropped: they would repeat a copy or hold no modality", dropped)
    rec_index, cond_index = np.nonzero(usable[:, :num_trained])
    is_test = splits.split_samples(
        [recording_ids[i] for i in rec_index], [people[i] for i in rec_index],
        protocol=config.protocol, test_fraction=config.test_fraction, seed=config.seed)
    assignment = np.full(usable.shape, -1, np.int32)
    assignment[rec_index, cond_index] = is_test.astype(np.int32)
    in_test = (assignment[:, :num_trained] == 1).any(axis=1, keepdims=True)
    assignment[:, num_trained:] = np.where(usable[:, num_trained:] & in_test, 1, -1)
    return assignment
