"""One recording: a person and up to one file per modality."""

import dataclasses

from avtfuse.contract import MODALITIES


@dataclasses.dataclass(frozen=True)
class Recording:
    """A recording of one person.

    `recording` is a unique id (kept by every ablated copy, so that strict
    splits keep copies together); `person` is the raw person id as the data
    names it; `audio`, `visible`, `thermal` are file paths, or None where that
    modality was not recorded.
    """

    recording: str
    person: str
    audio: str | None = None
    visible: str | None = None
    thermal: str | None = None

    def path(self, modality):
        if modality not in MODALITIES:
            raise ValueError(f"unknown modality {modality!r}")
        return getattr(self, modality)


def assign_labels(recordings):
    """Renumbers people 0..P-1 in sorted order of their ids.

    Returns (labels, mapping): a list of int labels aligned with `recordings`
    and a dict from person id to label. Raises ValueError for no recordings.
    """
    if not recordings:
        raise ValueError("no recordings: the data set is empty")
    people = sorted({r.person for r in recordings}, key=_natural_key)
    mapping = {p: i for i, p in enumerate(people)}
    return [mapping[r.person] for r in recordings], mapping


def _natural_key(text):
    return (0, int(text), "") if str(text).isdigit() else (1, 0, str(text))
