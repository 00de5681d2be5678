"""Modality names shared by the library and the pipelines."""

MODALITIES = ("audio", "visible", "thermal")


def canonical_modalities(modalities):
    """Returns `modalities` as a tuple in canonical order (audio, visible, thermal).

    Accepts a sequence of names or a comma-separated string. Raises ValueError
    for an unknown, repeated or empty selection.
    """
    if isinstance(modalities, str):
        modalities = [m.strip() for m in modalities.split(",") if m.strip()]
    modalities = list(modalities)
    unknown = [m for m in modalities if m not in MODALITIES]
    if unknown:
        raise ValueError(f"modalities: unknown {unknown}; choose from {list(MODALITIES)}")
    if len(set(modalities)) != len(modalities):
        raise ValueError(f"modalities: repeated names in {modalities}")
    if not modalities:
        raise ValueError("modalities: at least one modality is needed")
    return tuple(m for m in MODALITIES if m in modalities)


def condition_name(present, modalities):
    """Names the missing-sensor condition of a presence vector.

    `present` is a sequence of 0/1 aligned with `modalities` (canonical order).
    Returns "complete" when all are present, "missing_<m>" when exactly one of
    several is missing, "only_<m>" when exactly one is present, otherwise
    "with_<m1>_<m2>" naming the present ones, and "none" when all are missing.
    """
    modalities = tuple(modalities)
    if len(present) != len(modalities):
        raise ValueError(f"present has {len(present)} entries for modalities {modalities}")
    kept = [m for m, p in zip(modalities, present) if p]
    lost = [m for m, p in zip(modalities, present) if not p]
    if not kept:
        return "none"
    if not lost:
        return "complete"
    if len(lost) == 1 and len(modalities) > 2:
        return f"missing_{lost[0]}"
    if len(kept) == 1:
        return f"only_{kept[0]}"
    return "with_" + "_".join(kept)
