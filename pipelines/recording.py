"""One recording: a person and up to one file per modality."""

import dataclasses
import os

from avtfuse.contract import MODALITIES
from pipelines.errors import DataError


@dataclasses.dataclass(frozen=True)
class Recording:
    """A recording of one person.

    `recording` is a unique id (kept by every ablated copy, so that strict
    splits keep copies together); `person` is the raw person id as the data
    names it; `audio`, `visible`, `thermal` are file paths (media, or `.npy`
    pre-extracted features), or None where that modality was not recorded.
    `group`: recordings that are near-duplicates of each other (SpeakingFaces:
    one trial and position; RAVDESS: one actor's statement) share a group, and
    a strict split keeps a group on one side; None = the recording alone.
    `split`: the data's own assignment ("train", "valid" or "test"; the
    `official` and `manifest` protocols use it), or None. `subject`: who was
    recorded, where the data names it (RAVDESS: the actor number, whatever the
    label); the `folds` protocol splits by it, so it must differ from
    `person` (the class); None = not known.
    """

    recording: str
    person: str
    audio: str | None = None
    visible: str | None = None
    thermal: str | None = None
    group: str | None = None
    split: str | None = None
    subject: str | None = None

    @property
    def group_key(self):
        """The id a strict split keeps on one side: the group, else the recording."""
        return self.group if self.group is not None else self.recording

    def path(self, modality):
        if modality not in MODALITIES:
            raise ValueError(f"unknown modality {modality!r}")
        return getattr(self, modality)


def assign_labels(people):
    """Renumbers people 0..P-1 in natural sorted order of their ids ("2" before "10").

    `people`: each recording's person id. Returns (labels, mapping): a list of
    int labels aligned with `people` and a dict from person id to label.
    Raises ValueError for no recordings.
    """
    if not people:
        raise ValueError("no recordings: the data set is empty")
    mapping = {p: i for i, p in enumerate(sorted(set(people), key=natural_key))}
    return [mapping[p] for p in people], mapping


def identity(recording):
    """Who a recording shows: its subject where the data names one, else its person (the class)."""
    return recording.subject if recording.subject is not None else recording.person


def run_files(recording, modalities):
    """The real paths (symbolic links resolved) of a recording's files of `modalities`, {modality: path}."""
    return {m: os.path.realpath(recording.path(m)) for m in modalities if recording.path(m)}


def check_shared_files(recordings, modalities, policy):
    """The recordings less those with a file of a run modality that a recording of another person (`identity`)
    already names, each handed to `policy` naming both recording ids. Recordings of one person may share files
    (one enrolment photo for many voice clips): the split protocols decide what that means
    (pipelines.split_data)."""
    owner, kept = {}, []
    for rec in recordings:
        paths = run_files(rec, modalities).values()
        shared = next((p for p in paths if p in owner and identity(owner[p]) != identity(rec)), None)
        if shared is not None:
            first = owner[shared]
            policy.handle(DataError(shared, f"used by recordings {first.recording!r} and {rec.recording!r} of two "
                                            f"people ({identity(first)!r} and {identity(rec)!r}); a file may be "
                                            "shared by recordings of one person only"))
            continue
        for path in paths:
            owner.setdefault(path, rec)
        kept.append(rec)
    return kept


def natural_key(text):
    """A sort key of ids in natural order: numbers by value ("2" before "10") before other text."""
    return (0, int(text), "") if str(text).isdigit() else (1, 0, str(text))
