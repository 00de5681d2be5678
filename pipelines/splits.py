"""Train/test/valid splits of (ablated) samples: by sample (the paper), by recording group (strict), as given, or by
subject folds.

`split_samples` returns one int8 split id per sample, the index of its split
in `avtfuse.contract.SPLITS`: TRAIN = 0, TEST = 1, VALID = 2. Validation is a
split of its own, never the test split: validation chooses, test is read once.

- "paper": samples, not groups, are drawn at random, as the seed paper did:
  round(n * test_fraction) go to test, then round(n * validation_fraction) of
  the rest go to valid. The ablated copies of one recording (and near-duplicate
  recordings) may therefore land on several sides: the paper's leak, kept so
  that its numbers can be reproduced.
- "strict": whole recording groups go to one side, chosen per person. A person
  with g groups gets n_test = clip(round(g * test_fraction), 1, g - 1) test
  groups and, when validation_fraction > 0 and g - n_test - 1 >= 1,
  n_valid = clip(round(g * validation_fraction), 1, g - n_test - 1) valid
  groups (else none: a person with two groups has one train and one test
  group and no validation group); the rest train. No group is on two sides,
  and a group may hold one person only. A person with one group (all of its
  recordings share files or a group) trains and is left out of the test
  split (logged); every other person is on the train and test sides.
- "official" and "manifest": each sample's side is the data's own split name
  (`given`: train, valid or test; validation, val and dev mean valid; any
  case). Every sample needs one, and a group may not sit on two sides. These
  protocols do not check that each person is on the train side.
- "folds": the subjects (who was recorded: RAVDESS's actors, passed as
  `subjects`), in natural order of their ids ("2" before "10"), are cut into
  six blocks of N // 6 (N >= 6); fold k (1..5) tests block k, validates on
  block k + 1 and trains on the rest, with the N - 6 * (N // 6) last
  subjects. For RAVDESS's 24 actors these are SA-fusion's folds: fold k tests
  actors 4k-3..4k and validates on 4k+1..4k+4 (actors 21-24 always train).
  With validation_fraction == 0 there is no validation block: block k + 1
  trains too (CFN-SR's folds: test 4k-3..4k, train the other 20 actors).
  No subject, and no group, is on two sides. The class (`people`) must not be
  the subject, or a fold would test classes it never trained. The fractions
  are not used otherwise; the fold's subjects per side are logged.

Rounding is Python's `round` (half to even). The fractions are of the whole:
test_fraction in (0, 1), validation_fraction in [0, 1), their sum below 1.
An empty train or test split is an error; so is an empty valid split under
"paper" and "strict" unless validation_fraction == 0; under "official" and
"manifest" an empty valid split is returned as it is (the caller warns).

Assignments are deterministic for a seed. Under "strict" each person draws
from a generator seeded by (seed, person id), so a person's groups land on the
same sides whatever the order of the samples and whoever else is in the data;
under "paper" the draw is over the samples sorted (stably) by group and
person, so reordering the recordings does not change any recording's sides.

Recordings that name the same file (one enrolment photo for many voice
clips) are joined into one group under "strict" and "folds"
(`join_shared_files`), so that no file is on two sides; under "official" and
"manifest" a file on two sides of the given split is an error
(`check_files_on_one_side`); "paper" allows it (pipelines.split_data counts
the test samples that share a file with a training sample).

Errors are `SplitError` (a ValueError) with a one-line message that names the
argument or the offending ids, all of them of a kind at once (the first ten,
then how many more).
"""

import hashlib
import logging
import math
import numbers

import numpy as np

from avtfuse.contract import PROTOCOLS, SPLITS
from pipelines.recording import natural_key

logger = logging.getLogger(__name__)

PAPER_TEST_FRACTION = 2729 / 13893  # the paper: 11,164 train / 2,729 test samples

TRAIN = SPLITS.index("train")
TEST = SPLITS.index("test")
VALID = SPLITS.index("valid")

# Split names the data may use, lower-cased, to their split.
SPLIT_ALIASES = {
    "train": "train", "test": "test",
    "valid": "valid", "validation": "valid", "val": "valid", "dev": "valid",
}

LISTED = 10  # offending ids named in one message; the rest are counted
FOLDS = 5  # folds of the "folds" protocol; its subjects form FOLDS + 1 blocks


class SplitError(ValueError):
    """A split cannot be made as asked: bad arguments, inputs or data."""


def split_samples(groups, people, protocol="paper", test_fraction=PAPER_TEST_FRACTION, validation_fraction=0.1,
                  seed=0, given=None, subjects=None, fold=1):
    """Returns an int8 array with one split id (TRAIN, TEST or VALID) per sample.

    groups: per-sample group key (str): the ablated copies of one recording,
    and near-duplicate recordings, share a key. people: per-sample person id
    (the class). given: per-sample split names, read by "official" and
    "manifest". subjects: per-sample subject id (who was recorded), and fold:
    1..FOLDS, read by "folds". Other protocols ignore them. See the module
    docstring for each protocol's rules. Raises SplitError.
    """
    if protocol not in PROTOCOLS:
        raise SplitError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    _check_fractions(test_fraction, validation_fraction)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise SplitError(f"seed must be a non-negative integer, got {seed!r}")
    groups = _strings("groups", groups)
    people = _strings("people", people)
    if len(groups) != len(people):
        raise SplitError(f"groups has {len(groups)} entries but people has {len(people)}")
    if len(groups) == 0:
        raise SplitError("groups: no samples to split")
    if protocol == "paper":
        return _split_paper(groups, people, test_fraction, validation_fraction, int(seed))
    if protocol == "strict":
        return _split_strict(groups, people, test_fraction, validation_fraction, int(seed))
    if protocol == "folds":
        return _split_folds(groups, people, subjects, fold, validation=validation_fraction > 0)
    return _split_given(groups, given, protocol)


def join_shared_files(groups, files):
    """Each recording's group key with the recordings that name the same file joined into one group (union-find
    over the group keys and the files): the "strict" and "folds" protocols keep it on one side, so that no file
    is on two sides of the split.

    groups: per-recording group key (str). files: per-recording iterable of its files' real paths. Returns a
    list of str: a joined group is keyed by the smallest of its recordings' group keys. Logs how many
    recordings were joined into how many groups.
    """
    parent = list(range(len(groups)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first = {}
    for i, (group, paths) in enumerate(zip(groups, files)):
        for key in [("group", group), *(("file", path) for path in paths)]:
            a, b = root(i), root(first.setdefault(key, i))
            parent[max(a, b)] = min(a, b)
    roots = [root(i) for i in range(len(groups))]
    members = {}
    for i, r in enumerate(roots):
        members.setdefault(r, []).append(i)
    key_of = {r: min(str(groups[i]) for i in own) for r, own in members.items()}
    joined = [own for own in members.values() if len({str(groups[i]) for i in own}) > 1]
    if joined:
        logger.info("shared files: %d recordings (of %d groups) merged into %s, each kept on one side",
                    sum(len(own) for own in joined), sum(len({str(groups[i]) for i in own}) for own in joined),
                    _plural(len(joined), "group", "groups"))
    return [key_of[r] for r in roots]


def check_files_on_one_side(recordings, files, sides, protocol):
    """SplitError naming, for each file on two sides of a given split ("official", "manifest"), the file and two
    of its recordings with their sides, in one line.

    recordings: per-recording id; files: per-recording iterable of real paths; sides: per-recording split name
    (a recording's copies share its given side)."""
    first, leaks = {}, {}
    for recording, paths, side in zip(recordings, files, sides):
        for path in paths:
            other, other_side = first.setdefault(path, (recording, side))
            if other_side != side and path not in leaks:
                leaks[path] = (path, other, other_side, recording, side)
    if leaks:
        named = [f"{path} (recording {a!r} {side_a}, recording {b!r} {side_b})"
                 for path, a, side_a, b, side_b in leaks.values()]
        raise SplitError(
            f"{protocol} protocol: {_plural(len(leaks), 'file is', 'files are')} on two sides of the given split (a "
            f"file shared by recordings on different sides leaks between the splits): {_listing(named)}")


def describe(split_ids):
    """Counts the samples of each split: {"train": n, "test": n, "valid": n}.

    Ids outside 0..2 (e.g. -1 for a copy used nowhere) are not counted.
    """
    ids = np.asarray(split_ids).ravel()
    return {name: int(np.count_nonzero(ids == index)) for index, name in enumerate(SPLITS)}


def _check_fractions(test_fraction, validation_fraction):
    problems = []
    if not 0.0 < test_fraction < 1.0:
        problems.append(f"test_fraction must be in (0, 1), got {test_fraction}")
    if not 0.0 <= validation_fraction < 1.0:
        problems.append(f"validation_fraction must be in [0, 1), got {validation_fraction}")
    if not problems and not test_fraction + validation_fraction < 1.0:
        problems.append(f"test_fraction + validation_fraction must be below 1, got "
                        f"{test_fraction} + {validation_fraction} = {test_fraction + validation_fraction}")
    if problems:
        raise SplitError("; ".join(problems))


def _strings(name, values):
    if values is None:
        raise SplitError(f"{name}: one entry per sample is needed, got None")
    values = np.asarray(values)
    if values.ndim != 1:
        raise SplitError(f"{name} must be 1-D (one entry per sample), got shape {values.shape}")
    return values.astype(str)


def _listing(items):
    """Joins the first LISTED items and says how many more there are."""
    items = list(items)
    shown = ", ".join(items[:LISTED])
    return shown if len(items) <= LISTED else f"{shown} and {len(items) - LISTED} more"


def _count(total, fraction):
    """round(total * fraction), Python's round (half to even), as an int."""
    return round(total * float(fraction))


def _plural(count, one, many):
    return f"{count} {one if count == 1 else many}"


def _split_paper(groups, people, test_fraction, validation_fraction, seed):
    count = len(groups)
    test_count = _count(count, test_fraction)
    valid_count = min(_count(count, validation_fraction), count - test_count)
    problems = []
    if count - test_count - valid_count <= 0:
        problems.append(f"the train split is empty (test and valid take all {count} samples)")
    if test_count == 0:
        problems.append(f"the test split is empty (test_fraction={test_fraction} of {count} samples rounds to 0)")
    if _count(count, validation_fraction) == 0 and validation_fraction > 0:
        problems.append(f"the valid split is empty (validation_fraction={validation_fraction} of {count} samples "
                        "rounds to 0; set validation_fraction=0 to train without validation)")
    if problems:
        raise SplitError("paper protocol: " + "; ".join(problems))
    order = np.lexsort((people, groups))  # stable: the draw does not depend on the order of the recordings
    drawn = order[np.random.default_rng(seed).permutation(count)]
    split_ids = np.full(count, TRAIN, dtype=np.int8)
    split_ids[drawn[:test_count]] = TEST
    split_ids[drawn[test_count:test_count + valid_count]] = VALID
    return split_ids


def person_seed(seed, person):
    """The seed of a draw of one person's own: [seed, a 64-bit hash of the person id] (numpy default_rng)."""
    digest = hashlib.blake2b(person.encode("utf-8"), digest_size=8).digest()
    return [seed, int.from_bytes(digest, "little")]


def _owner_of_groups(groups, owners, protocol, noun):
    """(group_keys, group_index, owner_keys, owner_of_group) for groups each of one owner (a person or subject);
    SplitError naming every group with samples of several owners. `noun`: (one, many), e.g. ("person", "people")."""
    group_keys, group_index = np.unique(groups, return_inverse=True)
    owner_keys, owner_index = np.unique(owners, return_inverse=True)
    pairs = np.unique(np.stack([group_index, owner_index], axis=1), axis=0)  # (group, owner), sorted
    owners_per_group = np.bincount(pairs[:, 0], minlength=len(group_keys))
    mixed = np.flatnonzero(owners_per_group > 1)
    if mixed.size:
        named = []
        for g in mixed:
            names = sorted((str(owner_keys[p]) for p in pairs[pairs[:, 0] == g, 1]), key=natural_key)
            named.append(f"{str(group_keys[g])!r} ({noun[1]} {', '.join(repr(p) for p in names)})")
        raise SplitError(
            f"{protocol} protocol: {_plural(mixed.size, 'recording group holds', 'recording groups hold')} samples "
            f"of more than one {noun[0]} (a group stays on one side, so it must be one {noun[0]}'s): "
            f"{_listing(named)}")
    return group_keys, group_index, owner_keys, pairs[:, 1]  # pairs: one row per group, in group order


def _split_strict(groups, people, test_fraction, validation_fraction, seed):
    group_keys, group_index, person_keys, person_of_group = _owner_of_groups(
        groups, people, "strict", ("person", "people"))
    groups_per_person = np.bincount(person_of_group, minlength=len(person_keys))
    single = sorted((str(person_keys[p]) for p in np.flatnonzero(groups_per_person < 2)), key=natural_key)
    if len(single) == len(person_keys):
        raise SplitError(
            f"strict protocol: the test split is empty: every person's recordings form one recording group (each "
            f"person needs two, one for training and one for testing): {_listing(repr(p) for p in single)}")
    if single:
        logger.warning("strict protocol: %s one recording group (one recording, or recordings joined by a group "
                       "or shared files): they train and are left out of the test split: %s",
                       _plural(len(single), "person has", "people have"), _listing(repr(p) for p in single))
    side_of_group = np.full(len(group_keys), TRAIN, dtype=np.int8)
    for p, person in enumerate(person_keys):
        own = np.flatnonzero(person_of_group == p)  # sorted by group key: independent of the sample order
        total = len(own)
        if total < 2:
            continue  # one group: it trains
        test_count = min(max(_count(total, test_fraction), 1), total - 1)
        room = total - test_count - 1
        valid_count = min(max(_count(total, validation_fraction), 1), room) \
            if validation_fraction > 0 and room >= 1 else 0
        drawn = own[np.random.default_rng(person_seed(seed, str(person))).permutation(total)]
        side_of_group[drawn[:test_count]] = TEST
        side_of_group[drawn[test_count:test_count + valid_count]] = VALID
    split_ids = side_of_group[group_index]
    if validation_fraction > 0 and not (split_ids == VALID).any():
        raise SplitError(
            "strict protocol: the valid split is empty: no person has the 3 recording groups it takes "
            "(one each for train, valid and test); set validation_fraction=0 to train without validation")
    return split_ids


def _split_folds(groups, people, subjects, fold, validation=True):
    if isinstance(fold, bool) or not isinstance(fold, numbers.Integral) or not 1 <= fold <= FOLDS:
        raise SplitError(f"fold must be an integer in 1..{FOLDS}, got {fold!r}")
    if subjects is None or any(subject is None for subject in subjects):
        raise SplitError("folds protocol: every sample needs its subject (who was recorded, e.g. the RAVDESS actor); "
                         "these samples have none")
    subjects = _strings("subjects", subjects)
    if len(subjects) != len(groups):
        raise SplitError(f"subjects has {len(subjects)} entries but groups has {len(groups)}")
    if (subjects == people).all():
        raise SplitError("folds protocol: the class is the subject (e.g. --label actor), so a fold would test "
                         "classes it never trained; use --protocol folds with another label (--label emotion)")
    _owner_of_groups(groups, subjects, "folds", ("subject", "subjects"))
    keys = sorted(set(subjects.tolist()), key=natural_key)
    size = len(keys) // (FOLDS + 1)
    if size == 0:
        raise SplitError(f"folds protocol: {_plural(len(keys), 'subject', 'subjects')} ({_listing(keys)}); the "
                         f"{FOLDS + 1} blocks of the folds need at least {FOLDS + 1}")
    side = dict.fromkeys(keys, TRAIN)
    side.update(dict.fromkeys(keys[(fold - 1) * size:fold * size], TEST))
    if validation:
        side.update(dict.fromkeys(keys[fold * size:(fold + 1) * size], VALID))
    named = {index: ",".join(key for key in keys if side[key] == index) for index in (TEST, VALID, TRAIN)}
    logger.info("folds protocol, fold %d of %d: test subjects %s; valid %s; train %s", fold, FOLDS, named[TEST],
                named[VALID], named[TRAIN])
    return np.array([side[subject] for subject in subjects.tolist()], np.int8)


def _split_name(value):
    """The canonical split of one given name, None when missing, or ("unknown", name) when unknown."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    if not text:
        return None
    return SPLIT_ALIASES.get(text.lower(), ("unknown", text))


def _split_given(groups, given, protocol):
    count = len(groups)
    if given is None:
        names = [None] * count
    else:
        given = np.asarray(given, dtype=object)
        if given.ndim != 1:
            raise SplitError(f"given must be 1-D (one split name per sample), got shape {given.shape}")
        if len(given) != count:
            raise SplitError(f"given has {len(given)} entries but groups has {count}")
        names = [_split_name(value) for value in given.tolist()]
    missing = [i for i, name in enumerate(names) if name is None]
    if missing:
        raise SplitError(
            f"{protocol} protocol: {_plural(len(missing), 'sample has', 'samples have')} no split name "
            f"(the data's train/valid/test assignment, passed as given); the first is in group "
            f"{str(groups[missing[0]])!r}")
    unknown = {}
    for name in names:
        if isinstance(name, tuple):
            unknown[name[1]] = unknown.get(name[1], 0) + 1
    if unknown:
        named = [f"{text!r} ({_plural(n, 'sample', 'samples')})" for text, n in sorted(unknown.items())]
        raise SplitError(
            f"{protocol} protocol: unknown split names {_listing(named)}; use train, test or valid "
            f"(validation, val and dev also mean valid)")
    split_ids = np.array([SPLITS.index(name) for name in names], dtype=np.int8)
    group_keys, group_index = np.unique(groups, return_inverse=True)
    sides = np.zeros((len(group_keys), len(SPLITS)), dtype=bool)
    sides[group_index, split_ids] = True
    leaking = np.flatnonzero(sides.sum(axis=1) > 1)
    if leaking.size:
        named = [f"{str(group_keys[g])!r} ({', '.join(n for n, on in zip(SPLITS, sides[g]) if on)})"
                 for g in leaking]
        raise SplitError(
            f"{protocol} protocol: {_plural(leaking.size, 'recording group is', 'recording groups are')} on more "
            f"than one side of the given split (a leak between the splits): {_listing(named)}")
    counts = describe(split_ids)
    empty = [name for name in ("train", "test") if not counts[name]]
    if empty:
        given_counts = ", ".join(f"{name}: {n}" for name, n in counts.items() if n)
        raise SplitError(
            f"{protocol} protocol: " + "; ".join(f"the {name} split is empty" for name in empty)
            + f" (the given split names count {given_counts})")
    return split_ids
