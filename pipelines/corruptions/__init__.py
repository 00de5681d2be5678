"""Corruptions of recordings at severities 1..5 (ImageNet-C's convention), for the degraded robustness axis.

Each modality's table maps a name to its `Corruption` (pipelines.corruptions.seeding: the parameter at each
severity, its unit and what it models); CORRUPTIONS gathers every table, keyed by (modality, name). Every random
draw comes from `seeding.corruption_rng(recording, modality, corruption, severity, seed)`.
"""

from pipelines.corruptions.audio import AUDIO_CORRUPTIONS
from pipelines.corruptions.frames import FRAME_CORRUPTIONS

# Every modality's table.
TABLES = (AUDIO_CORRUPTIONS, *FRAME_CORRUPTIONS.values())

CORRUPTIONS = {(corruption.modality, corruption.name): corruption
               for table in TABLES for corruption in table.values()}
