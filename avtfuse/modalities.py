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
