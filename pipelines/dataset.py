"""The whole input pipeline: read, decode, features (cached), ablate, split, shuffle, batch, prefetch."""

import dataclasses
import logging
import os

import numpy as np
import tensorflow as tf

from avtfuse.config import Config
from avtfuse.contract import (ABLATIONS, GIVEN_PROTOCOLS, MODALITIES, PROTOCOLS, SPLITS, canonical_modalities,
                              condition_name)
from pipelines import ablation, augment, cache, splits, step_masks, synthetic, synthetic_ravdess
from pipelines import sampler as sampler_module
from pipelines import features as feature_stage
from pipelines.features import FeatureConfig
from pipelines.errors import DataError, ErrorPolicy
from pipelines.ravdess import ACTORS as RAVDESS_ACTORS
from pipelines.recording import assign_labels, check_shared_files

logger = logging.getLogger(__name__)

SPLIT_IDS = {name: index for index, name in enumerate(SPLITS)}
DEFAULT_CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "avtfuse")
LABELS = ("actor", "emotion")
MISSING_FILLS = ("zeros", "noise")
# The built-in synthetic sets, by layout: their generator modules (THERMAL_PALETTE, generator_fingerprint).
SYNTHETIC_SETS = {"speakingfaces": synthetic, "ravdess": synthetic_ravdess}


@dataclasses.dataclass
class DataConfig(Config):
    """Where the data comes from and how it becomes ablated, split samples.

    `source`: a SpeakingFaces root folder, a RAVDESS folder (`Actor_XX/`
    inside), a manifest CSV (media or `.npy` feature files), or None for the
    built-in synthetic set (written once under `cache_dir`): `synthetic`
    "speakingfaces" (`synthetic_subjects` people) or "ravdess"
    (`synthetic_subjects` actors, 1..24, with thermal videos). `label`: what a
    RAVDESS class is ("actor" or "emotion"). `protocol`: "paper" (ablate, then
    split samples at random), "strict" (every copy of a recording, and every
    recording of a group, on one side), "official" / "manifest" (the side the
    data gives), "folds" (fold `fold`, 1..5, of six blocks of actors: needs a
    class other than the actor; pipelines.splits). `validation_fraction` of
    the data forms the validation split, `test_fraction` the test split (not
    used by "folds"). `ablation`: the copies training sees, "paper" (complete
    + one copy per missing modality), "subsets" (every non-empty subset) or
    "complete"; the other subsets are evaluation-only test copies.
    `missing_fill`: what a missing modality holds in `SplitData.batches`
    (validation, test): "zeros" (the contract) or "noise" (N(0, 1), the same
    for every run). `missing_rates`: the rates (in [0, 1)) at which the test
    split is evaluated again with that share of every sequence's real steps
    missing (a single frame is one step; pipelines.step_masks static masks,
    the same for every system and run; empty: none). `frame`: the camera frame of a recording (SpeakingFaces
    folders and video files). A thermal palette "auto" becomes the synthetic
    set's palette without a `source`, "grey" with one.
    """

    source: str | None = None
    modalities: tuple = MODALITIES
    features: FeatureConfig = dataclasses.field(default_factory=FeatureConfig)
    protocol: str = "paper"
    fold: int = 1
    test_fraction: float = splits.PAPER_TEST_FRACTION
    validation_fraction: float = 0.1
    ablation: str = "paper"
    missing_fill: str = "zeros"
    missing_rates: tuple = ()
    label: str = "actor"
    subjects: tuple | None = None
    frame: str = "middle"
    synthetic: str = "speakingfaces"
    synthetic_subjects: int = 12
    cache_dir: str = DEFAULT_CACHE_DIR
    on_error: str = "raise"
    seed: int = 0

    def __post_init__(self):
        self.modalities = canonical_modalities(self.modalities)
        self.features = FeatureConfig.coerce(self.features)
        self.check_choice("synthetic", SYNTHETIC_SETS)
        if self.features.thermal_palette == "auto":  # the synthetic set's own palette; grey frames elsewhere
            self.features = self.features.replace(
                thermal_palette=SYNTHETIC_SETS[self.synthetic].THERMAL_PALETTE if self.source is None else "grey")
        self.check_choice("protocol", PROTOCOLS)
        self.check_choice("ablation", ABLATIONS)
        self.check_choice("missing_fill", MISSING_FILLS)
        self.check_choice("label", LABELS)
        self.check_int("fold", "synthetic_subjects")
        if self.fold > splits.FOLDS:
            self._fail("fold", f"a fold in 1..{splits.FOLDS}")
        if self.protocol == "folds" and self.label == "actor":
            self._fail("label", "'emotion' under --protocol folds (a fold tests actors it never trained on)")
        if self.synthetic == "ravdess" and self.synthetic_subjects > len(RAVDESS_ACTORS):
            self._fail("synthetic_subjects", f"1..{len(RAVDESS_ACTORS)} actors for the synthetic RAVDESS")
        if not 0.0 < self.test_fraction < 1.0:
            self._fail("test_fraction", "a fraction in (0, 1)")
        if not 0.0 <= self.validation_fraction < 1.0 - self.test_fraction:
            self._fail("validation_fraction", f"a fraction in [0, {1.0 - self.test_fraction:.3f})")
        self.missing_rates = tuple(self.missing_rates)
        if any(isinstance(r, bool) or not isinstance(r, (int, float)) or not 0.0 <= r < 1.0
               for r in self.missing_rates) or len(set(self.missing_rates)) != len(self.missing_rates):
            self._fail("missing_rates", "distinct rates in [0, 1)")
        if len(self.missing_rates) == 1:
            self._fail("missing_rates", "two or more rates (a curve), or none")
        self.missing_rates = tuple(float(r) for r in self.missing_rates)
        if self.subjects is not None:
            self.subjects = tuple(self.subjects)

    # Settings that say where things are, not what the data is: a run resumes under other values.
    LOCATION_FIELDS = ("cache_dir",)


@dataclasses.dataclass
class SplitData:
    """Cached features plus the ablated train/test/validation assignment of every sample.

    `modalities`: the run's modalities that some recording has (canonical
    order); `shapes`: their example shapes; `recordings` [N]: recording ids in
    cache order; `labels` [N]: their class labels; `recorded` [N, M]: 1 where
    a recording has the modality; `conditions` [C, M]: the
    presence patterns of the ablation; `assignment` [N, C]: per recording and
    condition, the split id (SPLIT_IDS: 0 train, 1 test, 2 valid) or -1 (no
    such sample, e.g. a copy that would have no modality left). `skipped`:
    the bad input items (files, rows) left out.
    """

    config: DataConfig
    cache_path: str
    content_hash: str
    modalities: tuple
    shapes: dict
    recordings: list
    class_names: list
    labels: np.ndarray
    recorded: np.ndarray
    conditions: np.ndarray
    assignment: np.ndarray
    skipped: int

    @property
    def num_people(self):
        return len(self.class_names)

    def count(self, split):
        return int((self.assignment == SPLIT_IDS[split]).sum())

    def condition_counts(self, split):
        names = [condition_name(c, self.modalities) for c in self.conditions]
        per = (self.assignment == SPLIT_IDS[split]).sum(axis=0)
        return {n: int(k) for n, k in zip(names, per) if k}

    @property
    def sequence_modalities(self):
        """The run's modalities with a time axis (step keys `<m>_mask`, `<m>_missing`; pipelines.step_masks)."""
        return step_masks.sequence_modalities(self.modalities, self.shapes)

    def samples(self, split, shuffle_recordings=False, seed=None, full=False):
        """Unbatched (inputs, label) examples of one split, in the data contract (with shuffle_recordings:
        recordings in an order fixed by `seed`, the same on every iteration).

        Each sequence modality gets `<m>_mask` (real steps, from the cache's
        `steps`) and `<m>_missing` (every real step of an absent modality);
        with `full`, also `<m>_full`, its tensor before the ablation (training
        with step dropout only). pipelines.step_masks.
        """
        split_id = SPLIT_IDS[split]
        conditions = tf.constant(self.conditions, tf.float32)
        assignment = tf.constant(self.assignment, tf.int32)
        sample = self._ablated_sample(full)
        recordings = cache.read_cache(self.cache_path)
        if shuffle_recordings:
            recordings = recordings.shuffle(self.assignment.shape[0], seed=seed, reshuffle_each_iteration=False)

        def copies(example):
            row = tf.gather(assignment, example["index"])
            chosen = tf.data.Dataset.from_tensor_slices((row, conditions)).filter(lambda a, _: a == split_id)
            return chosen.map(lambda _, present: sample(example, present))

        return recordings.flat_map(copies)

    def _ablated_sample(self, full):
        """A function (cache example dict, presence condition float32 [M]) -> (inputs, label int32): one sample
        in the data contract, with the step masks of `samples` (and `<m>_full` with `full`)."""
        modalities, shapes = self.modalities, self.shapes
        labels = tf.constant(self.labels, tf.int32)
        recording_ids = tf.constant(self.recordings)

        def sample(example, present):
            inputs = {m: example[m] for m in modalities}
            inputs.update(present=example["recorded"], recording=tf.gather(recording_ids, example["index"]))
            inputs = step_masks.with_step_masks(inputs, example["steps"], modalities, shapes, full=full)
            ablated = step_masks.sync_missing(ablation.apply_presence(inputs, present, modalities), modalities)
            return ablated, tf.gather(labels, example["index"])

        return sample

    def modality_rows(self, modality, split):
        """Which recordings a reference model of one modality uses on a split: bool [N]. Train: each recording
        with a training sample that keeps the modality; test and valid: each recording with a sample on that
        side holding that modality alone (as evaluation counts it: by the sample's presence bits). Under the
        paper protocol a recording may be on both."""
        column = self.modalities.index(modality)
        effective = self.recorded[:, None, :] * self.conditions[None, :, :]  # [N, C, M] presence of each copy
        on_side = self.assignment == SPLIT_IDS[split]
        if split == "train":
            return (on_side & (effective[:, :, column] > 0)).any(axis=1)
        alone = np.eye(len(self.modalities), dtype=effective.dtype)[column]
        return (on_side & (effective == alone).all(axis=-1)).any(axis=1)

    def modality_arrays(self, modality, split):
        """The inputs of one modality of the `modality_rows` recordings: (float32 [n, *shape], labels [n])."""
        chosen = self.modality_rows(modality, split)
        inputs, labels = [], []
        for example in cache.read_cache(self.cache_path).as_numpy_iterator():
            index = example["index"]
            if chosen[index]:
                inputs.append(example[modality])
                labels.append(self.labels[index])
        shape = self.shapes[modality]
        return np.array(inputs, np.float32).reshape(-1, *shape), np.array(labels, np.int64)

    def batches(self, split, batch_size, missing_rate=None, complete_only=False):
        """Batched, prefetched examples of a split in cache order (evaluation and embedding); with
        `complete_only`, only the samples with every modality of the run present.

        With `missing_rate` r, the static rate-r step masks (SYSTEMS.md 1.2;
        step_masks.apply_static_rate, keyed by recording, modality, r and
        config.seed) are applied to each sequence modality of each example:
        the same steps for every run, system and batch size. Under
        config.missing_fill "noise" each missing modality holds N(0, 1)
        noise drawn per recording (ablation.fill_missing_with_noise, keyed by
        the recording id and config.seed): the same whatever the batch size.
        """
        data = self.samples(split)
        if complete_only:
            data = data.filter(lambda inputs, label: tf.reduce_all(inputs["present"] > 0))
        if missing_rate is not None:
            modalities, seed, rate = self.modalities, self.config.seed, float(missing_rate)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"missing_rate: expected a rate in [0, 1], got {missing_rate}")
            data = data.map(lambda inputs, label: (step_masks.apply_static_rate(inputs, modalities, rate, seed), label),
                            num_parallel_calls=tf.data.AUTOTUNE)
        if self.config.missing_fill == "noise":
            modalities, seed = self.modalities, self.config.seed
            data = data.map(lambda inputs, label: (ablation.fill_missing_with_noise(inputs, modalities, seed), label),
                            num_parallel_calls=tf.data.AUTOTUNE)
        return without_autotune(data.batch(batch_size).prefetch(tf.data.AUTOTUNE))

    def pk_samples(self, batches, full=False):
        """P x K batches of sample ids -> the data-contract batches: each sample's recording is read from the
        cache on disk when its batch is made (cache.example_reader), so memory holds the ids alone.

        batches: a dataset of ((recording index int64 [B], condition index int64 [B]), label int32 [B]), e.g.
        sampler.pk_batches over `pk_sample_ids`; `full` adds `<m>_full` (step dropout)."""
        read = cache.example_reader(self.cache_path)
        conditions = tf.constant(self.conditions, tf.float32)
        sample = self._ablated_sample(full)
        batch_size = batches.element_spec[1].shape[0]
        return batches.unbatch().map(
            lambda ids, label: sample(read(ids[0]), tf.gather(conditions, ids[1])),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True,
        ).batch(batch_size, drop_remainder=True)

    def pk_sample_ids(self):
        """The training samples as ids, in `samples("train")` order: a dataset of ((recording index, condition
        index) int64, label int32), and the labels int [n]."""
        rows, columns = np.nonzero(self.assignment == SPLIT_IDS["train"])
        labels = self.labels[rows]
        ids = tf.data.Dataset.from_tensor_slices(((rows.astype(np.int64), columns.astype(np.int64)),
                                                  labels.astype(np.int32)))
        return ids, labels

    def training_batches(self, epoch, batch_size, seed, sampler="random", people_per_batch=8,
                         dropout_rate=0.0, dropout_mode="hard", spec_augment=0, replication=None,
                         step_dropout=0.0, ramp_epochs=0):
        """The training batches of one epoch: (dataset of exactly `steps` batches, steps).

        The batches are a function of (seed, epoch) alone, the same on every
        iteration of the dataset (Keras reads a first batch from an iterator of
        its own under a distribution strategy), so a run resumed at any epoch
        sees what an uninterrupted run saw. sampler "random":
        shuffled samples, batches of `batch_size`, remainder dropped; "pk":
        `people_per_batch` people x batch_size // people_per_batch samples each
        (memory holds the samples' ids; each batch reads its recordings from
        the cache on disk: `pk_samples`). With `dropout_rate` > 0
        each batch gets seeded modality dropout (pipelines.ablation.ModalityDropout);
        with `spec_augment` > 0 the audio gets time and frequency masks of up
        to that width (pipelines.augment.SpecAugment; not redrawn alike on resume).
        `replication` "softhard" or "noise" (instead of `dropout_rate`): each
        batch of batch_size samples becomes (2 + M) or (1 + M) times as many
        (pipelines.ablation.ReplicatedModalityDropout); `steps` is unchanged.
        Sequence modalities carry `<m>_mask` and `<m>_missing`, kept in step
        with any modality dropout. `step_dropout` p > 0 (MCT-HFR's dynamic
        incomplete training, pipelines.step_masks.DynamicStepDropout, applied
        last): the samples also carry `<m>_full`, and in a share of each batch
        rising linearly from 0 to 1 over the first `ramp_epochs` epochs (0: all
        from the start) every real step is dropped with probability p. (SpecAugment
        and soft or noise modality dropout change `<m>` beyond `<m>_full` * (1 -
        `<m>_missing`); hard dropout and replication keep it.)
        """
        epoch_seed = seed * 100_003 + epoch
        replicate = None
        full = step_dropout > 0
        if full and replication is not None:
            raise ValueError("step_dropout: choose replicated modality dropout (replication) or step dropout, "
                             "not both")
        if not 0.0 <= step_dropout < 1.0:
            raise ValueError(f"step_dropout: expected a probability in [0, 1), got {step_dropout}")
        if int(ramp_epochs) != ramp_epochs or ramp_epochs < 0:
            raise ValueError(f"ramp_epochs: expected an integer >= 0, got {ramp_epochs}")
        if replication is not None:
            if dropout_rate > 0:
                raise ValueError("replication: choose replicated or per-sample modality dropout (dropout_rate), "
                                 "not both")
            replicate = ablation.ReplicatedModalityDropout(replication, self.modalities, seed=epoch_seed)
        if sampler == "pk":
            samples_per_person = batch_size // people_per_batch
            ids, labels = self.pk_sample_ids()
            steps = sampler_module.pk_steps_per_epoch(len(labels), people_per_batch, samples_per_person)
            chosen = sampler_module.pk_batches(ids, labels, people_per_batch, samples_per_person, seed=epoch_seed)
            data = self.pk_samples(chosen.take(steps), full)
        else:
            count = self.count("train")
            if count < batch_size:
                raise ValueError(f"batch_size: {batch_size} exceeds the {count} training samples")
            steps = count // batch_size
            data = self.samples("train", shuffle_recordings=True, seed=epoch_seed, full=full)
            data = data.shuffle(min(2048, count), seed=epoch_seed, reshuffle_each_iteration=False)
            data = data.batch(batch_size, drop_remainder=True)
        if spec_augment and "audio" in self.modalities:
            data = data.map(augment.SpecAugment(spec_augment))
        modalities = self.modalities
        if dropout_rate > 0:
            data = data.enumerate().map(ablation.ModalityDropout(dropout_rate, dropout_mode, seed=epoch_seed))
        if replicate is not None:
            data = data.enumerate().map(replicate)
        if (dropout_rate > 0 or replicate is not None) and self.sequence_modalities:
            data = data.map(lambda inputs, labels: (step_masks.sync_missing(inputs, modalities), labels))
        if full:
            data = data.enumerate().map(step_masks.DynamicStepDropout(
                step_dropout, ramp_steps=int(ramp_epochs) * steps, steps_per_epoch=steps, epoch=epoch, seed=seed,
                modalities=modalities))
        return without_autotune(data.prefetch(tf.data.AUTOTUNE)), steps


def without_autotune(data):
    """`data` with tf.data's autotuning off (AUTOTUNE parallelism then means the core count). Destroying an
    iterator waits for its autotuning thread, which sleeps for up to a minute between passes, and Keras makes a
    new validation iterator every epoch: 10-40 s of idle CPU per epoch, measured. These pipelines are far faster
    than the models they feed, so nothing is lost."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return data.with_options(options)


def synthetic_source(config):
    """The folder of the built-in synthetic set `config.synthetic`, written under cache_dir on first use.

    Keyed by synthetic_subjects, seed and the generator's fingerprint (a
    changed generator writes a new set); a `complete` marker is written last.
    The synthetic RAVDESS has actors 1..synthetic_subjects and thermal videos.
    """
    generator = SYNTHETIC_SETS[config.synthetic]
    layout = "" if config.synthetic == "speakingfaces" else f"-{config.synthetic}"
    source = os.path.join(config.cache_dir, f"synthetic{layout}-{config.synthetic_subjects}-seed{config.seed}-"
                                            f"{generator.generator_fingerprint()}")
    if not os.path.exists(os.path.join(source, "complete")):
        logger.info("writing the built-in synthetic %s set to %s", config.synthetic, source)
        people = range(1, config.synthetic_subjects + 1)
        if config.synthetic == "ravdess":
            synthetic_ravdess.write_ravdess(source, actors=people, seed=config.seed, thermal=True)
        else:
            synthetic.write_speakingfaces(source, subjects=people, seed=config.seed)
        open(os.path.join(source, "complete"), "w").close()
    return source


def load_recordings(config, policy):
    """Reads the recordings of `config.source` (or writes the synthetic default first)."""
    from pipelines import manifest, ravdess, speakingfaces

    source = synthetic_source(config) if config.source is None else config.source
    if not os.path.exists(source):
        raise FileNotFoundError(f"--data {source}: no such file or folder")
    if not os.path.isdir(source):
        return manifest.read_manifest(source, modalities=config.modalities, policy=policy)
    if any(os.path.isdir(os.path.join(source, folder)) for folder in speakingfaces.SPLIT_FOLDERS):
        return speakingfaces.read_speakingfaces(
            source, modalities=config.modalities, subjects=config.subjects, frame=config.frame, policy=policy)
    return ravdess.read_ravdess(source, modalities=config.modalities, label=config.label, actors=config.subjects,
                                policy=policy)


def recorded_modalities(recordings, modalities):
    """The run's modalities that at least one recording has; logs those that none has."""
    kept = tuple(m for m in modalities if any(r.path(m) for r in recordings))
    absent = [m for m in modalities if m not in kept]
    if absent:
        logger.warning("no recording has %s: the run uses %s", " or ".join(absent), ", ".join(kept))
    return kept


def prepare(config):
    """Reads, checks and caches the data of `config`; returns its SplitData.

    A complete cache for the same files and settings is reused without
    decoding anything again. Every file is checked before anything trains:
    all problems are raised together (InputErrors, one line per file), or the
    bad recordings are skipped and listed (config.on_error="skip").
    """
    policy = ErrorPolicy(config.on_error)
    recordings = check_shared_files(load_recordings(config, policy), config.modalities, policy)
    modalities = recorded_modalities(recordings, config.modalities)
    key = feature_stage.fingerprint(recordings, modalities, config.features, config.frame)
    path = cache.cache_path(config.cache_dir, f"features-{key}")
    if cache.is_complete(path):
        logger.info("using the cached features in %s", path)
        known = {str(error) for error in policy.skipped}
        for file, reason in cache.read_meta(path)["skipped"]:  # files refused when the cache was written
            if str(DataError(file, reason)) not in known:
                policy.handle(DataError(file, reason))
        policy.report("recordings")
    else:
        logger.info("checking and decoding %d recordings", len(recordings))
        _write_features(recordings, modalities, config, policy, path)
    meta = cache.read_meta(path)
    skipped = len(meta["skipped"])
    labels, mapping = assign_labels(meta["people"])
    trained = ablation.ablation_conditions(modalities, config.ablation)
    extra = [c for c in ablation.ablation_conditions(modalities, "subsets") if c not in trained]
    conditions = np.array(trained + extra, np.float32)
    if config.protocol in GIVEN_PROTOCOLS and not any(meta["splits"]):
        where = "a split column (train, valid or test)" if config.protocol == "manifest" else \
            "SpeakingFaces' train_data, valid_data and test_data folders"
        raise DataError(config.source or "the synthetic set", f"--protocol {config.protocol} needs {where}; "
                                                              "these recordings have no split of their own")
    recorded = np.array(meta["recorded"], np.float32)
    subject_of = {r.recording: r.subject for r in recordings}  # read afresh: the cache does not hold subjects
    subjects = [subject_of[r] for r in meta["recordings"]]
    assignment = assign_samples(recorded, meta["groups"], meta["people"], meta["splits"], conditions, len(trained),
                                config, subjects)
    _check_given_split(assignment, np.array(labels), mapping, config)
    shapes = {m: tuple(shape) for m, shape in meta["shapes"].items()}
    return SplitData(config, path, meta["content_sha256"], modalities, shapes, meta["recordings"], list(mapping),
                     np.array(labels), recorded, conditions, assignment, skipped)


def _check_given_split(assignment, labels, mapping, config):
    """Under a split the data gives (official, manifest), warns of an empty validation split and of people
    tested but never trained on (a closed-set recogniser cannot name them)."""
    if config.protocol not in GIVEN_PROTOCOLS:
        return
    if not (assignment == SPLIT_IDS["valid"]).any():
        logger.warning("the data gives no validation split: nothing can be chosen on validation")
    names = list(mapping)
    trained = set(labels[(assignment == SPLIT_IDS["train"]).any(axis=1)])
    untrained = sorted({names[label] for label in labels[(assignment == SPLIT_IDS["test"]).any(axis=1)]
                        if label not in trained})
    if untrained:
        logger.warning("%d people are in the test split but not in training: %s", len(untrained),
                       ", ".join(untrained[:10]))


def _write_features(recordings, modalities, config, policy, path):
    """Decodes every recording into the cache at `path`; raises InputErrors (and keeps no cache) when a file is
    bad and config.on_error is "raise"."""
    shapes = feature_stage.data_shapes(recordings, modalities, config.features)

    def checked():
        yield from feature_stage.extract_features(recordings, modalities, config.features, shapes, policy,
                                                  frame=config.frame)
        policy.report("recordings")  # raises every problem at once under on_error="raise"

    def describe(written):
        if not written:
            raise DataError(config.source or path, "no usable recording")
        return dict(recordings=[r.recording for r in written], people=[r.person for r in written],
                    groups=[r.group_key for r in written], splits=[r.split for r in written],
                    recorded=[[int(bool(r.path(m))) for m in modalities] for r in written],
                    skipped=[[e.path, e.reason] for e in policy.skipped])

    try:
        cache.write_cache(checked(), path, modalities, shapes, describe)
    except Exception:
        cache.discard_partial(path)
        raise


def assign_samples(recorded, groups, people, given, conditions, num_trained, config, subjects=None):
    """The [N, C] split-id table of the ablated samples (see SplitData).

    `recorded` [N, M] marks the modalities each recording has; `groups`,
    `people`, `given`, `subjects` [N] are each recording's group key, person
    (class), the data's own split (or None) and subject (Recording.subject,
    read by the "folds" protocol; or None). The first `num_trained` conditions are the
    ablation's: their copies are split by the protocol. The rest (e.g.
    single-modality conditions, which the paper's ablation lacks) are
    evaluation-only: a recording's copies in them go to the test side when the
    recording has any test sample, and nowhere otherwise.
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
    split_ids = splits.split_samples(
        [groups[i] for i in rec_index], [people[i] for i in rec_index], protocol=config.protocol,
        test_fraction=config.test_fraction, validation_fraction=config.validation_fraction, seed=config.seed,
        given=[given[i] for i in rec_index] if config.protocol in GIVEN_PROTOCOLS else None,
        subjects=None if subjects is None else [subjects[i] for i in rec_index], fold=config.fold)
    assignment = np.full(usable.shape, -1, np.int32)
    assignment[rec_index, cond_index] = split_ids
    in_test = (assignment[:, :num_trained] == SPLIT_IDS["test"]).any(axis=1, keepdims=True)
    assignment[:, num_trained:] = np.where(usable[:, num_trained:] & in_test, SPLIT_IDS["test"], -1)
    return assignment
