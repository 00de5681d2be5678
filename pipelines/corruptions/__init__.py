"""Corruptions of recordings at severities 1..5 (ImageNet-C's convention), for the degraded robustness axis.

Each modality's table maps a name to its `Corruption` (pipelines.corruptions.seeding: the parameter at each
severity, its unit and what it models); CORRUPTIONS gathers every table, keyed by (modality, name). Every random
draw comes from `seeding.corruption_rng(recording, modality, corruption, severity, seed)`. A run names the ones
its test split is evaluated under by their keys "modality/name" (`--corruptions`, `parse_corruptions`).
"""

from pipelines.corruptions.audio import AUDIO_CORRUPTIONS
from pipelines.corruptions.frames import FRAME_CORRUPTIONS

# Every modality's table.
TABLES = (AUDIO_CORRUPTIONS, *FRAME_CORRUPTIONS.values())

CORRUPTIONS = {(corruption.modality, corruption.name): corruption
               for table in TABLES for corruption in table.values()}


# The key naming a corruption on the command line and in results: "modality/name".
KEYS = tuple(f"{modality}/{name}" for modality, name in CORRUPTIONS)


def parse_corruptions(value):
    """Corruptions as `--corruptions` names them, "all", "none" or "modality/name,..." (or a sequence of keys), as a
    tuple of distinct KEYS in KEYS order (empty for "none" or nothing); ValueError naming the first unknown key."""
    names = value.split(",") if isinstance(value, str) else list(value)
    names = [str(name).strip().lower() for name in names if str(name).strip()]
    if names in ([], ["none"]):
        return ()
    if names == ["all"]:
        return KEYS
    unknown = [name for name in names if name not in KEYS]
    if unknown:
        raise ValueError(f"unknown corruption {unknown[0]!r}: use all, none or modality/name keys from "
                         f"{', '.join(KEYS)}")
    return tuple(key for key in KEYS if key in names)
