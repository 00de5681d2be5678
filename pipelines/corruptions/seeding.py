"""The contract every corruption shares: the severity scale, the record of one corruption, and its random source.

A corruption (`Corruption`) names one parameter per severity 1..5 (`levels`: an SNR in dB, an RT60 in s, ...);
everything random it does beyond that parameter (a noise colour, an offset, a room) comes from one NumPy generator,
`corruption_rng(recording, modality, corruption, severity, seed)`, seeded by a SHA-256 of those five fields (not
Python's `hash`, which is salted per process). So one recording meets the same corrupted input in any process,
thread or order, and every system is scored on the same bytes; another recording draws other values.
"""

import dataclasses
import hashlib
import json

import numpy as np

# The severity scale (ImageNet-C's convention): 1 mild .. 5 severe.
SEVERITIES = (1, 2, 3, 4, 5)


def check_severity(severity):
    """Returns `severity` as an int, or raises ValueError unless it is an integer in SEVERITIES."""
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)) or int(severity) not in SEVERITIES:
        raise ValueError(f"severity must be an integer in {SEVERITIES[0]}..{SEVERITIES[-1]}, got {severity!r}")
    return int(severity)


@dataclasses.dataclass(frozen=True)
class Corruption:
    """One corruption of one modality, as the docs table shows it.

    name: its key in its modality's table ("noise", "reverb", ...); modality: "audio", "visible" or "thermal";
    levels: its parameter at severities 1..5 (one number each, in `unit`); unit: what a level measures
    ("dB SNR", "s RT60", ...); description: one sentence on what it models and how it is applied.
    """

    name: str
    modality: str
    levels: tuple
    unit: str
    description: str

    def __post_init__(self):
        if len(self.levels) != len(SEVERITIES):
            raise ValueError(f"levels of corruption {self.name!r} must hold one value per severity "
                             f"({len(SEVERITIES)}), got {len(self.levels)}")

    def level(self, severity):
        """The parameter at `severity` (1..5); ValueError for another severity."""
        return self.levels[check_severity(severity) - 1]


def corruption_rng(recording, modality, corruption, severity, seed):
    """np.random.Generator for one (recording id, modality, corruption name, severity 1..5, integer seed).

    The fields are encoded as a JSON list (unambiguous whatever characters a recording id holds) and hashed with
    SHA-256; the 256-bit digest seeds `np.random.default_rng`.
    """
    for argument, value in (("recording", recording), ("modality", modality), ("corruption", corruption)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{argument} must be a non-empty string, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    fields = json.dumps([recording, modality, corruption, check_severity(severity), int(seed)])
    return np.random.default_rng(int.from_bytes(hashlib.sha256(fields.encode("utf-8")).digest(), "big"))
