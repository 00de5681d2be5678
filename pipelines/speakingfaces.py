"""Reader for the real SpeakingFaces folder layout (session-2 command recordings).

Layout: `<root>/{train,valid,test}_data/sub_{S}/trial_{T}/<stream>/` with

- audio: `mic1_audio_cmd_trim/{S}_{T}_2_{pos}_{cmd}_{mic}.wav` (or `mic1_audio_cmd/`
  when the trimmed folder is absent);
- visible: `rgb_image_cmd_aligned/{S}_{T}_2_{pos}_{cmd}_{frame}_3.png` (aligned RGB);
- thermal: `thr_image_cmd/{S}_{T}_2_{pos}_{cmd}_{frame}_1.png`.

One Recording per (subject, trial, position, command), with one wav and one
chosen frame per camera; its group is (subject, trial, position), the
near-duplicates a strict split keeps on one side, and its split the folder
it lies in (train, valid or test: the `official` protocol). Files are found
and checked here, not decoded. A missing file is a bad recording, unless the
root's `not_recorded.csv` (rows `recording,modality`, written by the synthetic
set's `--natural-missing`) lists that cell: then the recording lacks that
modality, as an empty manifest cell says (a recording with none of the run's
modalities left is no recording of the run).
"""

import logging
import operator
import os
import re

from avtfuse.contract import MODALITIES, canonical_modalities
from pipelines.errors import DataError, DataErrors, ErrorPolicy
from pipelines.recording import Recording
from pipelines.synthetic.unrecorded import read_not_recorded

logger = logging.getLogger(__name__)

SPLIT_FOLDERS = ("train_data", "valid_data", "test_data")
SESSION = 2
AUDIO_FOLDERS = ("mic1_audio_cmd_trim", "mic1_audio_cmd")
IMAGE_STREAMS = {"visible": ("rgb_image_cmd_aligned", 3), "thermal": ("thr_image_cmd", 1)}
FRAME_CHOICES = ("middle", "first", "last")

_SUBJECT_DIR = re.compile(r"^sub_(\d+)$")
_TRIAL_DIR = re.compile(r"^trial_(\d+)$")
# S_T_session_pos_cmd_mic.wav
_AUDIO_FILE = re.compile(r"^(\d+)_(\d+)_(\d+)_(\d+)_(\d+)_(\d+)\.wav$", re.IGNORECASE)
# S_T_session_pos_cmd_frame_stream.png
_IMAGE_FILE = re.compile(r"^(\d+)_(\d+)_(\d+)_(\d+)_(\d+)_(\d+)_(\d+)\.png$", re.IGNORECASE)


def read_speakingfaces(
    root, modalities=MODALITIES, subjects=None, frame="middle", on_error="raise", policy=None
):
    """Finds the SpeakingFaces recordings under `root`.

    modalities: the run's modalities (others are left None in each Recording).
    subjects: None for all, else an iterable of int subject ids to keep.
    frame: which camera frame to use per recording: "middle" (lower middle
        for an even count), "first", "last", or an int frame number.
    on_error / policy: bad recordings raise DataError, or are skipped and
        counted; with `policy` given the caller reports the count.
    Returns Recordings (id "S_T_pos_cmd", person "S") sorted by S, T, pos, cmd.
    Raises DataError naming `root` when no split folder or no recording exists.
    """
    modalities = canonical_modalities(modalities)
    _check_frame(frame)
    wanted = _subject_ids(subjects)
    own_policy = policy is None
    if own_policy:
        policy = ErrorPolicy(on_error)
    root = os.fspath(root)

    trials = _find_trials(root, policy)
    if wanted is not None:
        absent = sorted(wanted - {trial[0] for trial in trials})
        if absent:
            policy.handle(DataError(root, f"requested subjects {absent} not found"))
        trials = [trial for trial in trials if trial[0] in wanted]

    keyed, not_recorded = [], read_not_recorded(root)
    for subject, trial, trial_dir, split in trials:
        keyed.extend(_read_trial(subject, trial, trial_dir, split, modalities, frame, policy, not_recorded))
    if own_policy or not keyed:
        policy.report("SpeakingFaces recordings")
    if not keyed:
        raise DataError(root, f"no SpeakingFaces recording found for modalities {list(modalities)}")
    keyed.sort(key=lambda item: item[0])
    recordings = [recording for _, recording in keyed]
    people = {r.person for r in recordings}
    logger.info(
        "SpeakingFaces: %d recordings of %d people in %s", len(recordings), len(people), root
    )
    return recordings


def _check_frame(frame):
    if isinstance(frame, bool) or not (frame in FRAME_CHOICES or isinstance(frame, int)):
        raise ValueError(
            f"frame must be one of {FRAME_CHOICES} or an int frame number, got {frame!r}"
        )


def _subject_ids(subjects):
    if subjects is None:
        return None
    try:
        ids = {operator.index(s) for s in subjects}
    except TypeError as error:
        raise ValueError(f"subjects must be an iterable of ints, got {subjects!r}") from error
    if not ids:
        raise ValueError("subjects is empty; pass None for all subjects")
    return ids


def _numbered_dirs(folder, pattern):
    """Yields (number, path) for sub-folders of `folder` whose names match `pattern`."""
    with os.scandir(folder) as entries:
        for entry in entries:
            match = pattern.match(entry.name)
            if match and entry.is_dir():
                yield int(match.group(1)), entry.path


def _find_trials(root, policy):
    """Returns sorted (subject, trial, folder, split name) over all split folders present."""
    if not os.path.isdir(root):
        raise DataError(root, "SpeakingFaces root is not a folder")
    splits = [s for s in SPLIT_FOLDERS if os.path.isdir(os.path.join(root, s))]
    if not splits:
        raise DataError(root, f"none of the split folders {list(SPLIT_FOLDERS)} exists")
    trials, split_of = {}, {}
    for split in splits:
        for subject, subject_dir in _numbered_dirs(os.path.join(root, split), _SUBJECT_DIR):
            for trial, trial_dir in _numbered_dirs(subject_dir, _TRIAL_DIR):
                if (subject, trial) in trials:
                    reason = f"duplicate of {trials[subject, trial]}; trial skipped"
                    policy.handle(DataError(trial_dir, reason))
                    continue
                trials[subject, trial] = trial_dir
                split_of[subject, trial] = split.removesuffix("_data")
    return [(s, t, trials[s, t], split_of[s, t]) for s, t in sorted(trials)]


def _stream_folder(trial_dir, modality):
    """Returns the folder holding `modality`'s files; DataError if it is absent."""
    names = AUDIO_FOLDERS if modality == "audio" else (IMAGE_STREAMS[modality][0],)
    for name in names:
        folder = os.path.join(trial_dir, name)
        if os.path.isdir(folder):
            return folder
    fallback = f" (nor {', '.join(names[1:])})" if len(names) > 1 else ""
    raise DataError(
        os.path.join(trial_dir, names[0]), f"missing {modality} folder{fallback}; trial skipped"
    )


def _index_files(folder, subject, trial, modality):
    """Maps (pos, cmd) to {number: path}: mic numbers for audio, frame numbers for cameras.

    Only session-2 files of this subject and trial (and, for cameras, this
    stream) count; any other file is ignored.
    """
    pattern = _AUDIO_FILE if modality == "audio" else _IMAGE_FILE
    index = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            match = pattern.match(entry.name)
            if not match or not entry.is_file():
                continue
            s, t, session, pos, cmd, number, *stream = (int(g) for g in match.groups())
            if (s, t, session) != (subject, trial, SESSION):
                continue
            if stream and stream[0] != IMAGE_STREAMS[modality][1]:
                continue
            index.setdefault((pos, cmd), {})[number] = entry.path
    return index


def _pick_frame(frames, frame):
    """Chooses a frame number from the sorted list `frames`; None if an int frame is absent."""
    if frame == "first":
        return frames[0]
    if frame == "last":
        return frames[-1]
    if frame == "middle":
        return frames[(len(frames) - 1) // 2]
    return frame if frame in frames else None


def _expected_path(folder, subject, trial, pos, cmd, modality, frame):
    prefix = f"{subject}_{trial}_{SESSION}_{pos}_{cmd}"
    if modality == "audio":
        return os.path.join(folder, f"{prefix}_*.wav")
    number = frame if isinstance(frame, int) else "*"
    return os.path.join(folder, f"{prefix}_{number}_{IMAGE_STREAMS[modality][1]}.png")


def _read_trial(subject, trial, trial_dir, split, modalities, frame, policy, not_recorded=frozenset()):
    """Returns [((S, T, pos, cmd), Recording)] for one trial folder; `not_recorded`: the (recording id,
    modality) cells the tree lists as not recorded."""
    folders, indexes = {}, {}
    for modality in modalities:
        try:
            folders[modality] = _stream_folder(trial_dir, modality)
        except DataError as error:
            policy.handle(error)
            return []
        indexes[modality] = _index_files(folders[modality], subject, trial, modality)

    keyed = []
    for pos, cmd in sorted(set().union(*indexes.values())):
        paths, missing, recording_id = {}, [], f"{subject}_{trial}_{pos}_{cmd}"
        for modality in modalities:
            if (recording_id, modality) in not_recorded:
                continue
            numbered = indexes[modality].get((pos, cmd), {})
            if not numbered:
                chosen = None
            elif modality == "audio":
                chosen = min(numbered)  # the lowest mic number
            else:
                chosen = _pick_frame(sorted(numbered), frame)
            if chosen is None:
                expected = _expected_path(
                    folders[modality], subject, trial, pos, cmd, modality, frame
                )
                what = "wav" if modality == "audio" else "frame"
                missing.append(DataError(expected, f"missing {modality} {what}; recording skipped"))
            else:
                paths[modality] = numbered[chosen]
        if not paths and not missing:  # every sensor of the run listed as not recorded
            continue
        recording = Recording(recording=recording_id, person=str(subject), **paths,
                              group=f"{subject}_{trial}_{pos}", split=split)
        if missing:  # the files found are still checked when decoded, each problem listed
            policy.handle(DataErrors.of(missing), found=recording)
        else:
            keyed.append(((subject, trial, pos, cmd), recording))
    return keyed
