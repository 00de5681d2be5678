"""Where a run's recordings come from and how they are decoded: the built-in synthetic set (written on first use)
or the user's data (a SpeakingFaces tree, a RAVDESS folder, a manifest), checked and decoded once into the
feature cache."""

import logging
import os
import typing

from avtfuse import locks
from avtfuse.contract import MODALITIES
from pipelines import cache, palette_choice
from pipelines import features as feature_stage
from pipelines.errors import DataError
from pipelines.recording import check_shared_files
from pipelines.synthetic import SYNTHETIC_SETS, ravdess as synthetic_ravdess, speakingfaces as synthetic

logger = logging.getLogger(__name__)


class CachedFeatures(typing.NamedTuple):
    """What `cached_features` gives: the recordings, the modalities some recording has, the cache's path and the
    FeatureConfig the cache was decoded with (its thermal palette settled)."""

    recordings: list
    modalities: tuple
    path: str
    features: object


def cached_features(config, policy):
    """The recordings of `config.source` decoded into the feature cache (written when it is not complete and
    intact), their problems handed to `policy`: a CachedFeatures. A thermal palette "auto" is settled first, from
    a sample of the thermal frames (pipelines.palette_choice), and the cache is keyed and decoded with the palette
    chosen.
    Under the cache's lock: a process that finds another writing it waits, then reads what that one wrote."""
    recordings = check_shared_files(load_recordings(config, policy), config.modalities, policy)
    modalities = recorded_modalities(recordings, config.modalities)
    refused = [found for found, _ in policy.refused]  # their files' problems are listed too: part of the key
    source = synthetic_source(config) if config.source is None else config.source
    config = config.replace(features=palette_choice.settle_palette(recordings, modalities, config.features,
                                                                   config.frame, source))
    key = feature_stage.fingerprint(recordings + refused, modalities, config.features, config.frame)
    path = cache.cache_path(config.cache_dir, f"features-{key}")
    with locks.waiting(path, "feature cache"):
        if not (cache.is_complete(path) and cache.is_intact(path)):
            logger.info("checking and decoding %d recordings", len(recordings))
            write_features(recordings, modalities, config, policy, path)
            return CachedFeatures(recordings, modalities, path, config.features)
    logger.info("using the cached features in %s", path)
    for item in cache.read_meta(path)["skipped"]:  # the problems found when the cache was written
        policy.merge([DataError(file, reason) for file, reason in item])
    policy.report("recordings")
    return CachedFeatures(recordings, modalities, path, config.features)


def synthetic_source(config):
    """The folder of the built-in synthetic set `config.synthetic`, written under cache_dir on first use.

    Keyed by synthetic_subjects, seed, natural_missing (recordings written without a sensor, named in the
    folder when any) and the generator's fingerprint (a changed generator writes a new set); a `complete` marker
    is written last, under the set's lock (a process that finds another writing it waits for it).
    The synthetic RAVDESS has actors 1..synthetic_subjects and thermal videos.
    """
    generator = SYNTHETIC_SETS[config.synthetic]
    layout = "" if config.synthetic == "speakingfaces" else f"-{config.synthetic}"
    unrecorded = "-natural-missing-" + "-".join(f"{share:g}" for share in config.natural_missing) \
        if any(config.natural_missing) else ""
    source = os.path.join(config.cache_dir, f"synthetic{layout}-{config.synthetic_subjects}-seed{config.seed}"
                                            f"{unrecorded}-{generator.generator_fingerprint()}")
    complete = os.path.join(source, "complete")
    if os.path.exists(complete):
        return source
    with locks.waiting(source, "synthetic set"):
        if not os.path.exists(complete):  # not written meanwhile by the process waited for
            logger.info("writing the built-in synthetic %s set to %s", config.synthetic, source)
            people = range(1, config.synthetic_subjects + 1)
            shares = dict(zip(MODALITIES, config.natural_missing))
            if config.synthetic == "ravdess":
                synthetic_ravdess.write_ravdess(source, actors=people, seed=config.seed, thermal=True,
                                                natural_missing=shares)
            else:
                synthetic.write_speakingfaces(source, subjects=people, seed=config.seed, natural_missing=shares)
            open(complete, "w").close()
    return source


def load_recordings(config, policy):
    """Reads the recordings of `config.source` (or writes the synthetic default first)."""
    from pipelines import manifest, ravdess, speakingfaces

    source = synthetic_source(config) if config.source is None else config.source
    if not os.path.exists(source):
        raise FileNotFoundError(f"--data {source}: no such file or folder")
    if not os.path.isdir(source):
        recordings = manifest.read_manifest(source, modalities=config.modalities, policy=policy)
        return recordings if config.subjects is None else manifest.pick_subjects(recordings, config.subjects, source)
    if any(os.path.isdir(os.path.join(source, folder)) for folder in speakingfaces.SPLIT_FOLDERS):
        return speakingfaces.read_speakingfaces(
            source, modalities=config.modalities, subjects=config.subjects, frame=config.frame, policy=policy)
    return ravdess.read_ravdess(source, modalities=config.modalities, label=config.label, actors=config.subjects,
                                policy=policy)


def recorded_modalities(recordings, modalities):
    """The run's modalities that at least one recording has; logs those that none has."""
    kept = tuple(m for m in modalities if any(r.path(m) for r in recordings))
    absent = [m for m in modalities if m not in kept]
    if absent:
        logger.warning("no recording has %s: the run uses %s", " or ".join(absent), ", ".join(kept))
    return kept


def write_features(recordings, modalities, config, policy, path):
    """Decodes every recording into the cache at `path`; raises InputErrors (and keeps no cache) when a file is
    bad and config.on_error is "raise"."""
    shapes = feature_stage.data_shapes(recordings, modalities, config.features)

    def checked():
        yield from feature_stage.extract_features(recordings, modalities, config.features, shapes, policy,
                                                  frame=config.frame)
        refused = [found for found, _ in policy.refused]  # checked in every run modality, recorded or not
        feature_stage.check_refused(policy, config.modalities, config.features,
                                    feature_stage.data_shapes(recordings + refused, config.modalities,
                                                              config.features),
                                    frame=config.frame)
        policy.report("recordings")  # raises every problem at once under on_error="raise"

    def describe(written):
        if not written:
            raise DataError(config.source or path, "no usable recording")
        return dict(recordings=[r.recording for r in written], people=[r.person for r in written],
                    groups=[r.group_key for r in written], splits=[r.split for r in written],
                    recorded=[[int(bool(r.path(m))) for m in modalities] for r in written],
                    skipped=[[[e.path, e.reason] for e in item] for item in policy.items])

    try:
        cache.write_cache(checked(), path, modalities, shapes, describe)
    except Exception:
        cache.discard_partial(path)
        raise
