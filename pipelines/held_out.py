"""People the model never trains on (`--held-out-people`): which people are held out, as validation people and
test people, and which of each held-out person's recordings enrol them (the others are probes).

- The choice: with a count N, the data's people in natural order of their ids
  ("2" before "10") are permuted by numpy's default_rng(seed) and the first N
  are held out; with a list, the listed people are. In natural order of their
  ids, the first max(2, N // 2) held-out people are validation people, the
  others test people. At least 2 people must stay trained.
- Enrolment: each held-out person's recording groups (the groups the split
  keeps on one side) are drawn in an order of their own (default_rng of
  (seed, person), as the strict split draws a person's groups) and taken into
  enrolment, whole, until they hold at least K (`--enrol-per-person`)
  recordings; the other groups are probes. So a person's enrolment and probe
  recordings never share a group, and a held-out person needs K + 1 groups.

Errors are ValueErrors with a one-line message naming the flag and every
offending person.
"""

import numpy as np

from pipelines.recording import natural_key
from pipelines.splits import person_seed

FLAG = "--held-out-people"
TRAINED, VALIDATION, TEST = 0, 1, 2  # SplitData.held_out: what a recording's person is
KINDS = {"valid": VALIDATION, "test": TEST}  # a held-out kind (as the splits name it) to its code
PEOPLE_NAMES = {TRAINED: "trained", VALIDATION: "validation", TEST: "test"}  # split.csv's `people` column
MIN_VALIDATION = 2  # validation people at least
MIN_HELD_OUT = 4  # held-out people at least: MIN_VALIDATION validation + 2 test people
MIN_TRAINED = 2  # people left to train at least


def kind_code(kind):
    """The SplitData.held_out code of a held-out kind, "valid" or "test"; ValueError naming `kind` otherwise."""
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {list(KINDS)}, got {kind!r}")
    return KINDS[kind]


def choose_people(people, held_out, seed):
    """(validation people, test people), each a list of person ids in natural order.

    people: every recording's person id (any order, repeats allowed). held_out:
    a count N (>= MIN_HELD_OUT) or a tuple of person ids. seed: the data seed.
    ValueError naming --held-out-people for listed people the data lacks and
    for fewer than MIN_TRAINED people left to train.
    """
    everyone = sorted(set(people), key=natural_key)
    if isinstance(held_out, int):
        pool, count = everyone, held_out
    else:
        unknown = sorted(set(held_out) - set(everyone), key=natural_key)
        if unknown:
            raise ValueError(f"{FLAG}: {', '.join(map(repr, unknown))} {'is' if len(unknown) == 1 else 'are'} not a "
                             f"person of the data (its people: {_listing(everyone)})")
        pool, count = sorted(set(held_out), key=natural_key), len(set(held_out))
    if len(everyone) - count < MIN_TRAINED:
        raise ValueError(f"{FLAG}: holding out {count} of the data's {len(everyone)} people leaves "
                         f"{len(everyone) - count} to train; at least {MIN_TRAINED} must train")
    drawn = [pool[i] for i in np.random.default_rng(seed).permutation(len(pool))[:count]]
    chosen = sorted(drawn, key=natural_key)
    validation = max(MIN_VALIDATION, count // 2)
    return chosen[:validation], chosen[validation:]


def roles(people, validation, test):
    """int8 [N]: each recording's person as TRAINED, VALIDATION or TEST (`people`: every recording's person id)."""
    code = {**dict.fromkeys(validation, VALIDATION), **dict.fromkeys(test, TEST)}
    return np.array([code.get(person, TRAINED) for person in people], np.int8)


def check_class_is_person(people, subjects):
    """ValueError naming --held-out-people when a class holds recordings of several subjects (who was recorded,
    where the data names it): held-out classes would then not be people never seen."""
    seen = {}
    for person, subject in zip(people, subjects):
        if subject is not None:
            seen.setdefault(person, set()).add(subject)
    mixed = sorted((person for person, own in seen.items() if len(own) > 1), key=natural_key)
    if mixed:
        raise ValueError(f"{FLAG}: the class must be the person, but class {mixed[0]!r} holds recordings of "
                         f"{len(seen[mixed[0]])} subjects (e.g. --label emotion); use the person as the class "
                         "(--label actor)")


def enrolment(people, groups, held, seed, per_person):
    """bool [N]: the enrolment recordings of the held-out people (`held` [N] > 0; see the module docstring).

    people, groups: every recording's person id and group key. per_person:
    K, the recordings each held-out person enrols at least. ValueError naming
    every held-out person with fewer than K + 1 groups, with their counts.
    """
    people, groups = np.asarray(people, str), np.asarray(groups, str)
    held = np.asarray(held)
    chosen = sorted(set(people[held > 0].tolist()), key=natural_key)
    own_groups = {person: np.unique(groups[people == person]) for person in chosen}
    short = [f"{person!r} ({len(keys)})" for person, keys in own_groups.items() if len(keys) < per_person + 1]
    if short:
        raise ValueError(f"{FLAG}: each held-out person needs {per_person + 1} recording groups (--enrol-per-person "
                         f"{per_person} to enrol, one to probe); recording groups of {', '.join(short)}")
    enrolled = np.zeros(len(people), bool)
    for person, keys in own_groups.items():
        own = people == person
        for key in keys[np.random.default_rng(person_seed(seed, person)).permutation(len(keys))]:
            if (enrolled & own).sum() >= per_person:
                break
            enrolled |= own & (groups == key)
    return enrolled


def _listing(names, shown=10):
    text = ", ".join(map(repr, names[:shown]))
    return text if len(names) <= shown else f"{text} and {len(names) - shown} more"
