"""STUB for the frames branch (the audio helper owns the real module): corruption seeding and descriptions.

`corruption_rng` seeds a NumPy generator from sha256 of the fields (recording, modality, corruption, severity,
seed) joined by "/", so every draw is a function of those fields alone.
"""

import dataclasses
import hashlib

import numpy as np

SEVERITIES = (1, 2, 3, 4, 5)


@dataclasses.dataclass(frozen=True)
class Corruption:
    """One corruption: its `levels` (one parameter per severity 1-5, in `unit`) and a line for the docs table."""

    name: str
    modality: str
    levels: tuple
    unit: str
    description: str


def corruption_rng(recording, modality, corruption, severity, seed):
    """np.random.Generator seeded by sha256 of "recording/modality/corruption/severity/seed"."""
    fields = "/".join(str(field) for field in (recording, modality, corruption, severity, seed))
    return np.random.default_rng(int.from_bytes(hashlib.sha256(fields.encode()).digest(), "little"))
