"""The one split of a run's data: every ablated copy (sample) of every cached recording assigned to train, test
or valid by the protocol (pipelines.splits), and `SplitData`, the split's view of the cache that every model of
the run reads (its single-sensor views included)."""

import collections
import dataclasses
import logging

import numpy as np
import tensorflow as tf

from avtfuse.contract import GIVEN_PROTOCOLS, SPLITS, condition_name, condition_order
from pipelines import ablation, cache, splits, step_masks
from pipelines.batching import without_autotune
from pipelines.held_out import KINDS, PEOPLE_NAMES, TRAINED, check_class_is_person, choose_people, enrolment, \
    kind_code, roles
from pipelines.errors import DataError
from pipelines.recording import assign_labels, natural_key, run_files

logger = logging.getLogger(__name__)

SPLIT_IDS = {name: index for index, name in enumerate(SPLITS)}
FIT_READ_BATCH = 64  # recordings per cache read of SplitData.fit_samples


def split_cache(config, path, recordings, modalities):
    """The SplitData of the cache at `path` (of `recordings`, with `modalities`) split by `config` (a
    DataConfig): its protocol, fractions, seed and ablation."""
    meta = cache.read_meta(path)
    skipped = len(meta["skipped"])
    persons = list(meta["people"])
    trained = ablation.ablation_conditions(modalities, config.ablation)
    extra = [c for c in ablation.ablation_conditions(modalities, "subsets") if c not in trained]
    conditions = np.array(trained + extra, np.float32)
    if config.protocol in GIVEN_PROTOCOLS and not any(meta["splits"]):
        where = "a split column (train, valid or test)" if config.protocol == "manifest" else \
            "SpeakingFaces' train_data, valid_data and test_data folders"
        raise DataError(config.source or "the synthetic set", f"--protocol {config.protocol} needs {where}; "
                                                              "these recordings have no split of their own")
    recorded = np.array(meta["recorded"], np.float32)
    by_id = {r.recording: r for r in recordings}  # read afresh: the cache holds neither subjects nor paths
    subjects = [by_id[r].subject for r in meta["recordings"]]
    files = [run_files(by_id[r], modalities) for r in meta["recordings"]]
    groups = list(meta["groups"])
    # Recordings sharing a file are one group under strict and folds, and for the enrolment of held-out people
    # under every protocol (one photo for many clips never both enrols and probes).
    joined = splits.join_shared_files(groups, [f.values() for f in files]) \
        if config.protocol in ("strict", "folds") or config.held_out_people else groups
    if config.protocol in ("strict", "folds"):
        groups = joined
    held, enrolled = np.zeros(len(persons), np.int8), np.zeros(len(persons), bool)
    if config.held_out_people:
        check_class_is_person(persons, subjects)
        held = roles(persons, *choose_people(persons, config.held_out_people, config.seed))
        enrolled = enrolment(persons, joined, held, config.seed, config.enrol_per_person)
    _, mapping = assign_labels([p for p, h in zip(persons, held) if h == TRAINED])
    labels = np.array([mapping.get(p, -1) for p in persons], np.int64)  # -1: a held-out person, no class
    assignment = assign_samples(recorded, groups, persons, meta["splits"], conditions, len(trained), config,
                                subjects, held)
    if config.protocol in GIVEN_PROTOCOLS:
        kept = np.flatnonzero(held == TRAINED)  # a held-out person's given side is ignored
        sides = [SPLITS[assignment[i][assignment[i] >= 0][0]] for i in kept]  # a recording's copies share its side
        splits.check_files_on_one_side([meta["recordings"][i] for i in kept], [files[i].values() for i in kept],
                                       sides, config.protocol)
    check_given_split(assignment, labels, mapping, config)
    shapes = {m: tuple(shape) for m, shape in meta["shapes"].items()}
    data = SplitData(config, path, meta["content_sha256"], modalities, shapes, meta["recordings"], list(mapping),
                     labels, recorded, conditions, assignment, skipped, groups, files, persons=persons, held_out=held,
                     enrolment=enrolled, subjects=subjects)
    sharing = data.test_sharing_a_file_with_training()
    if sharing:
        logger.warning("%s protocol: %d test samples share a file with a training sample of another recording "
                       "(results.json: test_sharing_a_file_with_training)", config.protocol, sharing)
    return data




@dataclasses.dataclass
class SplitData:
    """Cached features plus the ablated train/test/validation assignment of every sample.

    `config`: the DataConfig it was prepared with;
    `modalities`: the run's modalities that some recording has (canonical
    order); `shapes`: their example shapes; `recordings` [N]: recording ids in
    cache order; `labels` [N]: their class labels; `recorded` [N, M]: 1 where
    a recording has the modality; `conditions` [C, M]: the
    presence patterns of the ablation; `assignment` [N, C]: per recording and
    condition, the split id (SPLIT_IDS: 0 train, 1 test, 2 valid) or -1 (no
    such sample, e.g. a copy that would have no modality left). `skipped`:
    the bad input items (files, rows) left out. `groups` [N]: each recording's
    group key (the copies and near-duplicates the split keeps on one side;
    under "strict" and "folds" recordings that share a file are one group).
    `files` [N]: each recording's {modality: real path} (recordings of one
    person may share a file).
    `columns`: each of `modalities`' position among the cache's modalities
    (None: the same modalities; a single-sensor view of a run, `for_modality`,
    reads the run's cache).
    `persons` [N]: every recording's person id (str), held-out people's
    included; `held_out` int8 [N]: 0 for a trained person's recording, 1 for
    a validation person's, 2 for a test person's (pipelines.held_out; a
    held-out person is no class: label -1, no sample on any side);
    `enrolment` bool [N]: True for a held-out person's enrolment recordings
    (the others of theirs are probes). Left out, every person is trained.
    `subjects` [N]: who each recording shows (pipelines.recording.identity:
    its subject where the data names one, else its person; left out: its
    person).
    """

    config: object
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
    groups: list
    files: list
    columns: tuple | None = None
    persons: list | None = None
    held_out: np.ndarray | None = None
    enrolment: np.ndarray | None = None
    subjects: list | None = None

    def __post_init__(self):
        if self.persons is None:
            self.persons = [self.class_names[label] for label in self.labels]
        if self.held_out is None:
            self.held_out = np.zeros(len(self.recordings), np.int8)
        if self.enrolment is None:
            self.enrolment = np.zeros(len(self.recordings), bool)
        self.subjects = [person if subject is None else subject
                         for subject, person in zip(self.subjects or [None] * len(self.persons), self.persons)]

    @property
    def num_people(self):
        return len(self.class_names)

    def held_out_people(self, kind):
        """The held-out people of `kind` ("valid" or "test"): their person ids, in natural order."""
        code = kind_code(kind)
        return sorted({p for p, h in zip(self.persons, self.held_out) if h == code}, key=natural_key)

    def held_out_counts(self):
        """{"validation_people", "test_people", "enrolment_recordings", "probe_recordings"} of the held-out
        people (validation and test together for the recordings), or None without held-out people."""
        held = self.held_out != TRAINED
        if not held.any():
            return None
        return {"validation_people": len(self.held_out_people("valid")),
                "test_people": len(self.held_out_people("test")),
                "enrolment_recordings": int((held & self.enrolment).sum()),
                "probe_recordings": int((held & ~self.enrolment).sum())}

    def verification_samples(self, kind):
        """The samples of the held-out people of `kind` ("valid" or "test"), or with kind "trained" the
        validation split's recordings of the trained people (each person's first half of them, at least one, in
        cache order, enrolling and the rest probing): one per recording and per distinct non-empty subset of the
        run's sensors it can show (what a condition of `conditions` leaves of what it recorded, `held`),
        recordings in cache order, subsets in `conditions` order. A dict of arrays [n]: "rows" int64 (recording
        index), "columns" int64 (condition index), "persons" str, "enrolment" bool, "held" str (the subset's
        condition name), "recordings" str (recording ids)."""
        held = self.held()
        if kind == "trained":
            chosen = (self.assignment == SPLIT_IDS["valid"]).any(axis=1) & (self.held_out == TRAINED)
            enrolment = _first_halves([p if c else None for p, c in zip(self.persons, chosen)])
        else:
            chosen, enrolment = self.held_out == kind_code(kind), self.enrolment
        rows, columns = np.nonzero(distinct_copies(held) & chosen[:, None])
        rows, columns = rows.astype(np.int64), columns.astype(np.int64)
        return {"rows": rows, "columns": columns,
                "persons": np.array([self.persons[row] for row in rows], str),
                "enrolment": enrolment[rows].astype(bool),
                "held": np.array([condition_name(held[r, c], self.modalities) for r, c in zip(rows, columns)], str),
                "recordings": np.array([self.recordings[row] for row in rows], str)}

    def verification_batches(self, kind, batch_size):
        """The `verification_samples(kind)` samples, in that order, batched: inputs dicts of the data contract
        (as `batches` gives them, the same noise fill under missing_fill "noise"), without labels."""
        chosen = self.verification_samples(kind)
        read = cache.example_reader(self.cache_path)
        conditions = tf.constant(self.conditions, tf.float32)
        sample = self.sample_function(False)
        ids = tf.data.Dataset.from_tensor_slices((chosen["rows"], chosen["columns"])).batch(FIT_READ_BATCH)
        data = ids.map(lambda rows, columns: (read(rows), columns)).unbatch().map(
            lambda example, column: sample(example, tf.gather(conditions, column))[0],
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        if self.config.missing_fill == "noise":
            modalities, seed = self.modalities, self.config.seed
            data = data.map(lambda inputs: ablation.fill_missing_with_noise(inputs, modalities, seed),
                            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return without_autotune(data.batch(batch_size).prefetch(tf.data.AUTOTUNE))

    def count(self, split):
        return int((self.assignment == SPLIT_IDS[split]).sum())

    def held(self):
        """float32 [N, C, M]: what each sample holds, the sensors its recording has AND its ablation keeps."""
        return self.recorded[:, None, :] * self.conditions[None, :, :]

    def condition_counts(self, split):
        """{condition name: samples of `split` holding that condition} (by what each holds, `held`: a sample of a
        recording without thermal is never "complete")."""
        return {name: entry["arrived"] + entry["ablated"] for name, entry in self.condition_sources(split).items()}

    def condition_sources(self, split):
        """{condition name (what the samples hold): {"arrived": samples of `split` whose recording holds exactly
        that (the run removed nothing), "ablated": samples the run's ablation brought to it}}, in report order."""
        rows, columns = np.nonzero(self.assignment == SPLIT_IDS[split])
        held = self.held()[rows, columns]
        arrived = (held == self.recorded[rows]).all(axis=-1)
        sources = {}
        for bits, came in zip(held, arrived):
            entry = sources.setdefault(condition_name(bits, self.modalities), {"arrived": 0, "ablated": 0})
            entry["arrived" if came else "ablated"] += 1
        return {name: sources[name] for name in sorted(sources, key=condition_order)}

    def summary(self):
        """The split in one line, as a run logs it: classes, and per split its samples and their conditions (what
        each sample holds, `condition_counts`), and the held-out people (`held_out_counts`)."""
        counts = self.held_out_counts()
        held = "" if counts is None else (
            f"; held out: {counts['validation_people']} validation and {counts['test_people']} test people "
            f"({counts['enrolment_recordings']} enrolment and {counts['probe_recordings']} probe recordings)")
        return (f"{self.num_people} classes; train {self.count('train')} samples {self.condition_counts('train')}; "
                f"validation {self.count('valid')}; test {self.count('test')} samples "
                f"{self.condition_counts('test')}{held}")

    def people_left_out_of_test(self):
        """The people (class names, in class order) with training samples and no test sample: under "strict",
        those whose recordings form one group."""
        trained = set(self.labels[(self.assignment == SPLIT_IDS["train"]).any(axis=1)].tolist())
        tested = set(self.labels[(self.assignment == SPLIT_IDS["test"]).any(axis=1)].tolist())
        return [self.class_names[label] for label in sorted(trained - tested)]

    def test_sharing_a_file_with_training(self):
        """How many test samples hold a file (of a sensor the sample keeps) that a training sample of another
        recording holds: a shared file's leak, beside the paper protocol's copies of one recording on both sides.
        0 under "strict" and "folds" (such recordings are one group) and under a given split (refused)."""
        effective = self.recorded[:, None, :] * self.conditions[None, :, :]  # [N, C, M] presence of each copy

        def held(index, condition):
            return [self.files[index][m] for m, bit in zip(self.modalities, effective[index, condition])
                    if bit and m in self.files[index]]

        trained_by = {}
        for index, condition in zip(*np.nonzero(self.assignment == SPLIT_IDS["train"])):
            for path in held(index, condition):
                trained_by.setdefault(path, set()).add(index)
        return sum(any(trained_by.get(path, set()) - {index} for path in held(index, condition))
                   for index, condition in zip(*np.nonzero(self.assignment == SPLIT_IDS["test"])))

    def seen_in_training(self, modality):
        """How many of the recordings a single-sensor model of `modality` tests it also reads in training
        (`modality_rows`): the same recording (its other copies, under "paper") or another that holds the same
        `modality` file (a shared file)."""
        train, test = self.modality_rows(modality, "train"), self.modality_rows(modality, "test")
        trained_files = {self.files[index].get(modality) for index in np.flatnonzero(train)} - {None}
        shared = np.array([files.get(modality) in trained_files for files in self.files], bool)
        return int((test & (train | shared)).sum())

    def for_modality(self, modality):
        """This split reduced to one sensor, for that sensor's specialist (and reference): a SplitData on
        `modality` alone over the same cache, recordings, people and class list. Train (valid): each recording
        with a training (validation) sample that keeps `modality`, its copies merged into one; test: each
        recording with a test sample that holds `modality` alone (as evaluation counts it, by the sample's
        presence bits). So under a protocol that keeps a recording's copies on one side the specialist meets
        no recording on two sides, and under "paper" it leaks exactly as the run's model does. Its classes are the
        people with a recording of `modality` (in the run's order; `class_names`): a person never recorded by
        that sensor has no class there (their recordings' labels are -1, and no split reads them)."""
        if modality not in self.modalities:
            raise ValueError(f"modality: {modality!r} is not among the run's {list(self.modalities)}")
        column = self.modalities.index(modality)
        rows = {split: self._sensor_rows(column, split) for split in SPLITS}
        assignment = np.stack([np.where(rows[split], SPLIT_IDS[split], -1) for split in SPLITS], axis=1)
        cache_columns = self.columns or tuple(range(len(self.modalities)))
        people = np.unique(self.labels[(self.recorded[:, column] > 0) & (self.labels >= 0)])
        relabel = np.full(self.num_people + 1, -1, np.int64)  # the last entry: label -1 (a held-out person) stays -1
        relabel[people] = np.arange(len(people))
        return dataclasses.replace(
            self, config=self.config.replace(modalities=(modality,)), modalities=(modality,),
            shapes={modality: self.shapes[modality]}, recorded=self.recorded[:, column:column + 1],
            conditions=np.ones((len(SPLITS), 1), np.float32), assignment=assignment.astype(np.int32),
            columns=(cache_columns[column],), class_names=[self.class_names[p] for p in people],
            labels=relabel[self.labels])

    def sensor_alone(self, modality, split):
        """The recordings `for_modality` puts on `split` (each once) as samples that hold `modality` alone, over
        the run's modalities, labels and classes: a SplitData whose one condition keeps `modality` (the others
        blank, their steps missing), its samples on `split`. What the choice of a lone sensor's answer reads."""
        column = self.modalities.index(modality)
        rows = self._sensor_rows(column, split)
        return dataclasses.replace(self, conditions=np.eye(len(self.modalities), dtype=np.float32)[column][None],
                                   assignment=np.where(rows, SPLIT_IDS[split], -1)[:, None].astype(np.int32))

    def _sensor_rows(self, column, split):
        """bool [N]: the recordings `for_modality` puts on `split` (see there)."""
        effective = self.held()
        on_side = self.assignment == SPLIT_IDS[split]
        if split != "test":
            return (on_side & (effective[:, :, column] > 0)).any(axis=1)
        alone = np.eye(len(self.modalities), dtype=effective.dtype)[column]
        return (on_side & (effective == alone).all(axis=-1)).any(axis=1)

    def split_rows(self):
        """One dict per sample (split.csv): recording, copy (the ablation's condition), person, group, role,
        recorded and kept (the sensors the recording has and the sample holds, joined with "+"), people
        ("trained", "validation" or "test": whose recording). The trained people's samples first (role train,
        valid or test), then the held-out people's `verification_samples`, validation then test (role "enrol"
        or "probe")."""
        samples = [(index, condition, SPLITS[self.assignment[index, condition]])
                   for index, condition in zip(*np.nonzero(self.assignment >= 0))]
        for kind in KINDS:
            chosen = self.verification_samples(kind)
            samples += [(index, condition, "enrol" if enrol else "probe")
                        for index, condition, enrol in zip(chosen["rows"], chosen["columns"], chosen["enrolment"])]
        rows = []
        for index, condition, role in samples:
            kept = self.recorded[index] * self.conditions[condition]
            rows.append({
                "recording": self.recordings[index],
                "copy": condition_name(self.conditions[condition], self.modalities),
                "person": self.persons[index], "group": self.groups[index], "role": role,
                "recorded": "+".join(m for m, bit in zip(self.modalities, self.recorded[index]) if bit),
                "kept": "+".join(m for m, bit in zip(self.modalities, kept) if bit),
                "people": PEOPLE_NAMES[int(self.held_out[index])]})
        return rows

    @property
    def sequence_modalities(self):
        """The run's modalities with a time axis (step keys `<m>_mask`, `<m>_missing`; pipelines.step_masks)."""
        return step_masks.sequence_modalities(self.modalities, self.shapes)

    def samples(self, split, full=False):
        """Unbatched (inputs, label) examples of one split, in the data contract, in cache order (training
        batches come from pipelines.batching, which reads them by their ids).

        Each sequence modality gets `<m>_mask` (real steps, from the cache's
        `steps`) and `<m>_missing` (every real step of an absent modality);
        with `full`, also `<m>_full`, its tensor before the ablation (training
        with step dropout only). pipelines.step_masks.
        """
        split_id = SPLIT_IDS[split]
        conditions = tf.constant(self.conditions, tf.float32)
        assignment = tf.constant(self.assignment, tf.int32)
        sample = self.sample_function(full)
        recordings = cache.read_cache(self.cache_path)

        def copies(example):
            row = tf.gather(assignment, example["index"])
            chosen = tf.data.Dataset.from_tensor_slices((row, conditions)).filter(lambda a, _: a == split_id)
            return chosen.map(lambda _, present: sample(example, present))

        return recordings.flat_map(copies)

    def sample_function(self, full):
        """A function (cache example dict, presence condition float32 [M]) -> (inputs, label int32): one sample
        in the data contract, with the step masks of `samples` (and `<m>_full` with `full`)."""
        modalities, shapes = self.modalities, self.shapes
        labels = tf.constant(self.labels, tf.int32)
        recording_ids = tf.constant(self.recordings)

        columns = None if self.columns is None else tf.constant(self.columns, tf.int32)

        def sample(example, present):
            recorded, steps = example["recorded"], example["steps"]
            if columns is not None:  # a single-sensor view of a cache with more modalities
                recorded, steps = tf.gather(recorded, columns), tf.gather(steps, columns)
            inputs = {m: example[m] for m in modalities}
            inputs.update(present=recorded, recording=tf.gather(recording_ids, example["index"]))
            inputs = step_masks.with_step_masks(inputs, steps, modalities, shapes, full=full)
            ablated = step_masks.sync_missing(ablation.apply_presence(inputs, present, modalities), modalities)
            return ablated, tf.gather(labels, example["index"])

        return sample

    def modality_rows(self, modality, split):
        """Which recordings a single-sensor model of `modality` (the specialist, the reference) reads on a
        split: bool [N], the rows `for_modality` puts there. Under the paper protocol a recording may be on
        both sides."""
        return self._sensor_rows(self.modalities.index(modality), split)

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

    def fit_samples(self, seed):
        """Every training sample, unbatched, in an order fixed by `seed` and drawn across the whole training
        split (every person), read from the cache FIT_READ_BATCH at a time when reached (memory holds the ids and
        one such read): what a standardisation is fitted on (`ContractModel.adapt` takes the first `max_samples`
        of them)."""
        rows, columns, _ = self.training_samples()
        order = np.random.default_rng(seed).permutation(len(rows))
        read = cache.example_reader(self.cache_path)
        conditions = tf.constant(self.conditions, tf.float32)
        sample = self.sample_function(False)
        ids = tf.data.Dataset.from_tensor_slices((rows[order], columns[order])).batch(FIT_READ_BATCH)
        return ids.map(lambda rows, columns: (read(rows), columns)).unbatch().map(
            lambda example, column: sample(example, tf.gather(conditions, column)),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def training_samples(self):
        """The training samples' ids, in `samples("train")` order: (recording index int64 [n], condition index
        int64 [n], label int32 [n])."""
        rows, columns = np.nonzero(self.assignment == SPLIT_IDS["train"])
        return rows.astype(np.int64), columns.astype(np.int64), self.labels[rows].astype(np.int32)

    def training_sample_ids(self):
        """The training samples as ids, in `samples("train")` order: a dataset of ((recording index, condition
        index) int64, label int32), and the labels int32 [n]."""
        rows, columns, labels = self.training_samples()
        return tf.data.Dataset.from_tensor_slices(((rows, columns), labels)), labels


def check_given_split(assignment, labels, mapping, config):
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


def distinct_copies(held):
    """bool [N, C]: the copies of each recording worth a sample, of `held` [N, C, M] (what each copy holds): those
    holding some sensor and not identical to an earlier copy of the same recording (one that drops a sensor the
    recording never had)."""
    usable = held.any(axis=-1)
    for c in range(1, held.shape[1]):
        usable[:, c] &= ~(held[:, :c, :] == held[:, c:c + 1, :]).all(axis=-1).any(axis=1)
    return usable


def assign_samples(recorded, groups, people, given, conditions, num_trained, config, subjects=None, held=None):
    """The [N, C] split-id table of the ablated samples (see SplitData).

    `recorded` [N, M] marks the modalities each recording has; `groups`,
    `people`, `given`, `subjects` [N] are each recording's group key, person
    (class), the data's own split (or None) and subject (Recording.subject,
    read by the "folds" protocol; or None). The first `num_trained` conditions are the
    ablation's: their copies are split by the protocol. The rest (e.g.
    single-modality conditions, which the paper's ablation lacks) are
    evaluation-only: a recording's copies in them go to the test side when the
    recording has any test sample, and nowhere otherwise. `held` [N] (or None):
    each recording's held-out code (pipelines.held_out); a held-out person's
    recordings are on no side (-1 everywhere), and the protocol splits the
    others alone.
    """
    usable = distinct_copies(recorded[:, None, :] * conditions[None, :, :])
    dropped = int(usable.size - usable.sum())
    if dropped:
        logger.info("%d ablated copies dropped: they would repeat a copy or hold no modality", dropped)
    if held is not None:
        usable[np.asarray(held) != TRAINED] = False
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


def _first_halves(persons):
    """bool [N]: True for the first half (at least one) of each person's entries, in order; None entries
    (recordings left out) False."""
    counts, seen = collections.Counter(p for p in persons if p is not None), collections.Counter()
    first = np.zeros(len(persons), bool)
    for index, person in enumerate(persons):
        if person is not None:
            first[index] = seen[person] < max(1, counts[person] // 2)
            seen[person] += 1
    return first
