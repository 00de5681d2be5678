"""Corrupted test features: the test split's complete recordings decoded again from their files, corrupted, and
featurised as the clean cache was, into a feature cache of their own.

    view = corrupted_split(data, {"audio": ("noise",)}, severity=3, seed=0)   # a SplitData
    view.batches("test", 32, complete_only=True)                               # read as the clean split is

The recordings are those whose complete copy (every sensor present) is on the test side (`complete_test_rows`)
and, in a run with held-out people, every recording of its held-out test people (their verification, enrolment
and probes alike: `corrupted_rows`).
The corrupted modalities are decoded by pipelines.features through its one corruption hook
(`decode_recording(corrupt=...)`), the others copied from the clean cache (`clean_records`): frames
after decoding at their source resolution (uint8 round(255 x), `corrupt_frame` frame by frame, back as k / 255),
before the crop, the palette's inversion and the resize; audio as the whole decoded recording at the feature
sample rate, before the silence trim, the window and the log-mel or MFCCs (so the trim sees the noise a recording
made so would hold). The cache holds the clean cache's modalities and shapes and, as each record's
`index`, the recording's index in the clean cache, so a SplitData whose cache_path is this cache reads it with
the clean split's labels and assignment. It is keyed by (the clean cache's fingerprint, the corruption, the
severity, the seed, the recordings chosen), written once under its lock as the clean cache is (pipelines.sources)
and reused.

Every random draw comes from `corruption_rng(recording, modality, name, severity, seed)`, taken per recording:
the same bytes whatever the decoding threads, other values for another recording. Under several corruptions of a
modality (`EVERY_SENSOR`: every sensor corrupted at once) each recording's corruption of that modality is drawn
from `corruption_rng(recording, modality, EVERY_SENSOR, severity, seed)`, then applied as it is alone. Babble
mixes BABBLE_TALKERS of the cache's recordings' clean audio recordings, of speakers other than the probe's
(`SplitData.subjects`), drawn from the probe's generator; on a test split of one speaker, of the validation
recordings (never trained on).

`.npy` feature inputs and the dlib face vectors (visible_encoder "dlib") hold no signal to corrupt: a corruption
of such a modality is refused (`check_corruptible`: ValueError naming the corruption and the modality).
"""

import dataclasses
import hashlib
import json
import logging
import os

import numpy as np
import tensorflow as tf

from avtfuse import locks
from pipelines import audio, cache
from pipelines import features as feature_stage
from pipelines.corruptions import CORRUPTIONS
from pipelines.corruptions.audio import corrupt_audio
from pipelines.corruptions.frames import corrupt_frame
from pipelines.corruptions.seeding import corruption_rng
from pipelines.errors import ErrorPolicy
from pipelines.held_out import kind_code
from pipelines.image import UINT8_MAX, to_uint8
from pipelines.recording import Recording
from pipelines.split_data import SPLIT_IDS

logger = logging.getLogger(__name__)

EVERY_SENSOR = "every-sensor"  # the curve of every sensor corrupted at once
BABBLE_TALKERS = 4  # other speakers' recordings summed into one babble


def complete_test_rows(data):
    """int64 [n]: the clean cache indices of the recordings whose complete copy (every one of data.modalities
    present) is a test sample of `data` (a SplitData), in cache order."""
    complete = np.flatnonzero(data.conditions.all(axis=1))
    if not len(complete):
        return np.zeros(0, np.int64)
    on_test = data.assignment[:, complete[0]] == SPLIT_IDS["test"]
    return np.flatnonzero(on_test & data.recorded.all(axis=1)).astype(np.int64)


def corrupted_rows(data):
    """int64 [n]: the clean cache indices of the recordings a corrupted cache holds, in cache order: the complete
    test recordings and every recording of the held-out test people."""
    held = data.held_out == kind_code("test")
    return np.union1d(complete_test_rows(data), np.flatnonzero(held)).astype(np.int64)


def check_corruptible(data, choice):
    """ValueError naming the corruption and the modality when a corruption in `choice` ({modality: names}) falls
    on `.npy` features or dlib face vectors of the recordings `data`'s corrupted cache holds."""
    for modality, names in choice.items():
        encoded = modality == "visible" and data.config.features.visible_encoder == "dlib"
        if encoded or any(feature_stage.is_feature_file(data.files[row].get(modality))
                          for row in corrupted_rows(data)):
            what = "dlib face vectors (--visible-encoder dlib)" if encoded else ".npy features"
            raise ValueError(f"--corruptions {modality}/{names[0]}: the {modality} inputs are {what}, which cannot "
                             "be corrupted; corrupt media files, or leave that modality out")


def corrupted_split(data, choice, severity, seed, workers=None):
    """`data` (a SplitData) reading the corrupted cache of its `corrupted_rows`: each modality of `choice`
    ({modality: corruption names, one per curve, several for EVERY_SENSOR}) corrupted at `severity` (1..5) with
    `seed`, the others clean. The cache is written when absent or not intact (`workers` decoding threads, default
    the CPU count: the bytes do not depend on them). ValueError for a modality the data lacks or one that cannot
    be corrupted (`check_corruptible`)."""
    missing = [m for m in choice if m not in data.modalities]
    if missing:
        raise ValueError(f"--corruptions: the run has no {missing[0]} sensor (it has {', '.join(data.modalities)})")
    check_corruptible(data, choice)
    rows = corrupted_rows(data)
    if not len(rows):
        raise ValueError("--corruptions: the test split holds no complete recording to corrupt")
    recordings = [Recording(data.recordings[row], data.persons[row], subject=data.subjects[row], **data.files[row])
                  for row in rows]
    path = cache.cache_path(data.config.cache_dir, _key(data, choice, severity, seed, recordings))
    with locks.waiting(path, "corrupted feature cache"):
        if not (cache.is_complete(path) and cache.is_intact(path)):
            _write(data, recordings, rows, choice, severity, seed, path, workers)
    return dataclasses.replace(data, cache_path=path)


def _key(data, choice, severity, seed, recordings):
    """The corrupted cache's name: the clean cache's fingerprint, the corruption, severity and seed, and a digest
    of the recordings chosen (with their speakers, whom babble reads) and of each corruption's level at `severity`
    (a retuned level is another cache)."""
    clean = os.path.basename(os.path.normpath(data.cache_path)).removesuffix(f"-v{cache.FORMAT_VERSION}")
    chosen = [[r.recording, r.subject] for r in recordings]
    label = "-".join(f"{m}-{'+'.join(names)}" for m, names in choice.items())
    levels = [CORRUPTIONS[m, name].level(severity) for m, names in choice.items() for name in names]
    digest = hashlib.sha256(json.dumps([chosen, label, levels]).encode()).hexdigest()[:12]
    return f"corrupted-{clean}-{label if len(label) <= 40 else EVERY_SENSOR}-severity{severity}-seed{seed}-{digest}"


def _write(data, recordings, rows, choice, severity, seed, path, workers):
    """Decodes the modalities of `choice` of `recordings` (clean cache indices `rows`) through the corruption hook
    and writes them, with the other modalities' features copied from the clean cache (`clean_records`), into the
    cache at `path`."""
    meta = cache.read_meta(data.cache_path)
    modalities, shapes = tuple(meta["shapes"]), {m: tuple(shape) for m, shape in meta["shapes"].items()}
    features = data.config.features
    corrupted = tuple(m for m in modalities if m in choice)
    babble = babble_pool(recordings, validation_recordings(data), features) \
        if "babble" in choice.get("audio", ()) else None
    hook = corruption_hook(choice, severity, seed, features, babble)
    policy = ErrorPolicy("raise")
    logger.info("decoding the %s of %d test recordings under %s at severity %d", " and ".join(corrupted),
                len(recordings), ", ".join(f"{m}/{'|'.join(names)}" for m, names in choice.items()), severity)

    def decoded():
        chosen = [r for r in recordings if any(r.path(m) for m in corrupted)]
        fresh = {recording.recording: result for recording, result in feature_stage.extract_features(
            chosen, corrupted, features, shapes, policy, frame=data.config.frame, workers=workers, corrupt=hook)}
        policy.report("recordings")  # a file that decoded clean and fails corrupted stops the stage
        for recording, clean in zip(recordings, clean_records(data.cache_path, rows, modalities)):
            clean.update(fresh.get(recording.recording, {}))
            yield recording, clean

    def describe(written):
        return dict(recordings=[r.recording for r in written], people=[r.person for r in written],
                    indices=[int(row) for row in rows], clean_cache=data.cache_path,
                    corruptions={m: list(names) for m, names in choice.items()}, severity=severity, seed=seed,
                    skipped=[])

    try:
        cache.write_cache(decoded(), path, modalities, shapes, describe, indices=[int(row) for row in rows])
    except Exception:
        cache.discard_partial(path)
        raise


def clean_records(path, rows, modalities):
    """Yields, for each clean cache index of `rows`, its record as a features.Decoded: {modality: float32 array}
    of its recorded modalities, `steps` their stored step counts (written back as they were read)."""
    read = cache.example_reader(path)(tf.constant(np.asarray(rows, np.int64)))
    recorded, steps = read["recorded"].numpy(), read["steps"].numpy()
    for i in range(len(rows)):
        present = [m for j, m in enumerate(modalities) if recorded[i, j]]
        yield feature_stage.Decoded({m: read[m][i].numpy() for m in present},
                                    steps={m: int(steps[i, modalities.index(m)]) for m in present})


def validation_recordings(data):
    """The Recordings with audio whose every copy is on the validation side of `data`'s split: never trained on,
    never tested (babble's fallback talkers)."""
    audio = list(data.modalities).index("audio") if "audio" in data.modalities else None
    if audio is None:
        return []
    sides = data.assignment
    rows = np.flatnonzero((sides == SPLIT_IDS["valid"]).any(axis=1) & ~(sides == SPLIT_IDS["train"]).any(axis=1)
                          & ~(sides == SPLIT_IDS["test"]).any(axis=1) & data.recorded[:, audio].astype(bool))
    return [Recording(data.recordings[row], data.persons[row], subject=data.subjects[row], **data.files[row])
            for row in rows]


def babble_pool(recordings, fallback, features):
    """What babble mixes: {"test": [(subject, float32 [N] the whole clean audio recording at
    features.sample_rate)] of `recordings` with audio, "validation": the same of `fallback` (the validation
    recordings), read only when the test recordings hold a single speaker."""
    def recorded(chosen):
        return [(r.subject, audio.load_recording(r.audio, features.sample_rate,
                                                 max_seconds=features.max_audio_seconds))
                for r in chosen if r.audio]

    single = len({r.subject for r in recordings if r.audio}) < 2
    return {"test": recorded(recordings), "validation": recorded(fallback) if single else []}


def babble_talkers(subject, pool, rng):
    """The waveforms of up to BABBLE_TALKERS recordings whose speaker is not `subject`, drawn without replacement
    from rng: of the pool's test recordings, or, where they hold no other speaker (a test split of one person),
    of its validation recordings. ValueError when neither holds another speaker."""
    for side in ("test", "validation"):
        others = [waveform for speaker, waveform in pool[side] if speaker != subject]
        if others:
            chosen = rng.choice(len(others), size=min(BABBLE_TALKERS, len(others)), replace=False)
            return [others[index] for index in chosen]
    raise ValueError(f"babble: neither the test nor the validation recordings hold a speaker other than {subject!r}")


def corruption_hook(choice, severity, seed, features, babble=None):
    """pipelines.features' corruption hook: (recording, modality) -> None for a modality not in `choice`, else a
    function of that file's whole decoded audio recording (float32 [N] at features.sample_rate) or frames (float32
    [T, H, W, C] in [0, 1]) returning them corrupted, its draws from the recording's corruption_rng. babble: the
    `babble_pool` (needed when "babble" is among the audio corruptions)."""

    def hook(recording, modality):
        names = choice.get(modality)
        if not names:
            return None
        name = names[0] if len(names) == 1 else names[int(corruption_rng(
            recording.recording, modality, EVERY_SENSOR, severity, seed).integers(len(names)))]
        rng = corruption_rng(recording.recording, modality, name, severity, seed)
        if modality == "audio":
            def corrupt(samples):
                talkers = babble_talkers(recording.subject, babble, rng) if name == "babble" else None
                return corrupt_audio(samples, features.sample_rate, name, severity, rng, babble=talkers)
            return corrupt

        def corrupt(frames):
            levels = to_uint8(frames, recording.recording)
            corrupted = [corrupt_frame(frame, modality, name, severity, rng, palette=features.thermal_palette)
                         for frame in levels]
            return np.stack(corrupted).astype(np.float32) / UINT8_MAX
        return corrupt

    return hook
