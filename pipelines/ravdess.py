"""Reader for the RAVDESS folder layout (Livingstone & Russo 2018).

Layout: `Actor_XX/` folders (XX = 01..24) anywhere within three levels of
`<root>`, so that the public zips may be unpacked side by side
(`<root>/Actor_01/`, `<root>/Audio_Speech_Actors_01-24/Actor_01/`,
`<root>/Video_Speech_Actor_01/Actor_01/`). Each file is named by seven
two-digit codes `MM-VV-EE-II-SS-RR-AA.ext`: modality (01 full-AV, 02
video-only, 03 audio-only; 04 thermal video, ours: RAVDESS has no thermal
camera, pipelines.synthetic_ravdess writes one), vocal channel (01 speech,
02 song), emotion (01..08, see EMOTIONS), intensity (01 normal, 02 strong;
neutral has only 01), statement (01 "Kids are talking by the door", 02 "Dogs
are sitting by the door"), repetition (01, 02) and actor (01..24; odd male,
even female). The files of a modality:

    audio    Actor_AA/03-VV-EE-II-SS-RR-AA.wav
    visible  Actor_AA/02-VV-EE-II-SS-RR-AA.(mp4|avi) (video-only), else
             Actor_AA/01-VV-EE-II-SS-RR-AA.(mp4|avi) (full-AV: its picture)
    thermal  Actor_AA/thermal/04-VV-EE-II-SS-RR-AA.(mp4|avi), looked at only
             when thermal is a run modality

One Recording per performance (vocal channel, emotion, intensity, statement,
repetition, actor), id "VV-EE-II-SS-RR-AA", with the files above; split is
None (RAVDESS has no official split) and subject is the actor number
("1".."24") whatever the label, so that the "folds" protocol can split by
actor. A performance missing one of the run's modalities keeps that modality
None.

Person and group depend on `label`:

- label="actor": person is the actor number ("1".."24"); the near-duplicates
  are the two repetitions of one take, so group = "AA-EE-II-SS" (actor,
  emotion, intensity, statement).
- label="emotion": person is the emotion name ("happy"); all of one actor's
  takes of one statement share a group, "AA-SS", so that no actor's statement
  straddles a strict split.

Under vocal_channel="all" speech and song with the same key share a group.

Files are found and checked here, not decoded. Hidden files (".*",
`__MACOSX/`), files other than .wav / .mp4 / .avi and files of a modality
outside the run are ignored (counted in a debug line). A DataError naming the
file, handed to the ErrorPolicy, marks a name that is not seven two-digit
codes, a code out of range (neutral at strong intensity included), a modality
code that does not fit the suffix and folder (03 needs .wav, 01/02 a video in
Actor_XX/, 04 a video in Actor_XX/thermal/), an actor code that disagrees
with its Actor_XX folder, a second file of one performance and modality code
(e.g. two copies of the tree, or an .mp4 and an .avi: the first path in
sorted order is kept), and an Actor_XX folder numbered outside 01..24.
"""

import logging
import operator
import os
import re

from avtfuse.contract import MODALITIES, canonical_modalities
from pipelines.errors import DataError, ErrorPolicy
from pipelines.recording import Recording

logger = logging.getLogger(__name__)

EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
LABELS = ("actor", "emotion")
VOCAL_CHANNELS = ("speech", "song", "all")
ACTORS = range(1, 25)
MAX_DEPTH = 3

# The seven codes of a file name: (field, largest value); every code starts at 01.
CODE_FIELDS = (
    ("modality", 4),
    ("vocal channel", 2),
    ("emotion", len(EMOTIONS)),
    ("intensity", 2),
    ("statement", 2),
    ("repetition", 2),
    ("actor", len(ACTORS)),
)
# Each modality's file suffixes and modality codes (best first); thermal files sit in Actor_XX/THERMAL_FOLDER/.
SUFFIXES = {"audio": (".wav",), "visible": (".mp4", ".avi"), "thermal": (".mp4", ".avi")}
MODALITY_CODES = {"audio": (3,), "visible": (2, 1), "thermal": (4,)}
THERMAL_FOLDER = "thermal"
_VOCAL_CODES = {"speech": 1, "song": 2}
_NEUTRAL, _STRONG = 1, 2

_ACTOR_DIR = re.compile(r"^Actor_(\d+)$")
_CODES = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")


def read_ravdess(
    root, modalities=MODALITIES, label="actor", vocal_channel="speech", actors=None, policy=None, on_error="raise"
):
    """Finds the RAVDESS performances under `root`.

    modalities: the run's modalities (others are left None; thermal is read
        from the Actor_XX/thermal/ folders).
    label: "actor" (person "1".."24") or "emotion" (person an EMOTIONS name);
        it also sets the group (see the module docstring).
    vocal_channel: "speech" (VV=01), "song" (VV=02) or "all".
    actors: None for all, else an iterable of int actor numbers to keep.
    on_error / policy: bad files are DataErrors handed to the policy (raised
        together, or skipped and counted); with `policy` given the caller
        reports, unless no recording is left (then the reader reports first).
    Returns Recordings sorted by actor, then vocal channel, emotion, intensity,
    statement, repetition. Raises DataError naming `root` when no Actor_XX
    folder or no recording is found.
    """
    modalities = canonical_modalities(modalities)
    _check_choice("label", label, LABELS)
    _check_choice("vocal_channel", vocal_channel, VOCAL_CHANNELS)
    wanted = _actor_ids(actors)
    own_policy = policy is None
    if own_policy:
        policy = ErrorPolicy(on_error)
    root = os.fspath(root)

    files, ignored, outside = {}, 0, 0
    for actor, folder in _find_actor_folders(root, policy):
        if wanted is None or actor in wanted:
            folders = [(folder, ("audio", "visible"))]
            thermal = os.path.join(folder, THERMAL_FOLDER)
            if "thermal" in modalities and os.path.isdir(thermal):
                folders.append((thermal, ("thermal",)))
            for path, held in folders:
                other, skipped = _index_folder(path, actor, held, modalities, vocal_channel, files, policy)
                ignored, outside = ignored + other, outside + skipped
    logger.debug("RAVDESS: ignored %d other files and %d files of other modalities or vocal channels", ignored, outside)

    performances = sorted({key[:6] for key in files})
    recordings = [_recording(performance, files, modalities, label) for performance in performances]
    if wanted is not None:
        absent = sorted(wanted - {performance[0] for performance in performances})
        if absent:
            policy.handle(DataError(root, f"requested actors {absent} not found"))
    if own_policy or not recordings:
        policy.report("RAVDESS files")
    if not recordings:
        raise DataError(root, f"no RAVDESS {vocal_channel} recording found for modalities {list(modalities)}")
    present = {m: sum(r.path(m) is not None for r in recordings) for m in modalities}
    counts = "; ".join(f"{m} {n} with, {len(recordings) - n} without" for m, n in present.items())
    logger.info("RAVDESS recordings per modality: %s", counts)
    logger.info(
        "RAVDESS: %d recordings of %d %ss in %s", len(recordings), len({r.person for r in recordings}), label, root
    )
    return recordings


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def _actor_ids(actors):
    if actors is None:
        return None
    try:
        ids = {operator.index(a) for a in actors}
    except TypeError as error:
        raise ValueError(f"actors must be an iterable of ints, got {actors!r}") from error
    if not ids:
        raise ValueError("actors is empty; pass None for all actors")
    if not ids <= set(ACTORS):
        raise ValueError(f"actors must lie in 1..{len(ACTORS)}, got {sorted(ids - set(ACTORS))}")
    return ids


def _find_actor_folders(root, policy):
    """Returns sorted (actor, folder) for every Actor_XX folder within MAX_DEPTH levels of `root`."""
    if not os.path.isdir(root):
        raise DataError(root, "RAVDESS root is not a folder")
    found = []
    _walk(root, 1, found)
    if not found:
        raise DataError(root, f"no Actor_XX folder within {MAX_DEPTH} levels")
    folders = []
    for actor, folder in sorted(found):
        if actor in ACTORS:
            folders.append((actor, folder))
        else:
            policy.handle(DataError(folder, f"actor number out of range 01..{len(ACTORS):02d}; folder skipped"))
    return folders


def _walk(folder, depth, found):
    """Appends (actor, path) for Actor_XX folders below `folder`; does not descend into them."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith((".", "__MACOSX")) or not entry.is_dir():
                continue
            match = _ACTOR_DIR.match(entry.name)
            if match:
                found.append((int(match.group(1)), entry.path))
            elif depth < MAX_DEPTH:
                _walk(entry.path, depth + 1, found)


def _index_folder(folder, actor, held, modalities, vocal_channel, files, policy):
    """Adds the files of an Actor_XX folder (or of its thermal/ folder) to `files`, keyed (actor, VV, EE, II, SS,
    RR, MM); `held`: the modalities the folder holds.

    Returns (other, outside): the counts of files ignored for their name and of
    files of a modality or vocal channel outside the run.
    """
    modality_of = {suffix: modality for modality in held for suffix in SUFFIXES[modality]}
    other = outside = 0
    with os.scandir(folder) as entries:
        entries = sorted(entries, key=lambda entry: entry.name)
    for entry in entries:
        suffix = os.path.splitext(entry.name)[1].lower()
        if entry.name == THERMAL_FOLDER and entry.is_dir():
            continue
        if entry.name.startswith(".") or suffix not in modality_of or not entry.is_file():
            other += 1
            continue
        if modality_of[suffix] not in modalities:
            outside += 1
            continue
        try:
            codes = _parse(entry.path, suffix, modality_of[suffix], actor)
        except DataError as error:
            policy.handle(error)
            continue
        if vocal_channel != "all" and codes[1] != _VOCAL_CODES[vocal_channel]:
            outside += 1
            continue
        key = (codes[6], *codes[1:6], codes[0])
        if key in files:
            policy.handle(DataError(entry.path, f"duplicate of {files[key]}; file ignored"))
            continue
        files[key] = entry.path
    return other, outside


def _parse(path, suffix, modality, folder_actor):
    """The seven int codes of a `modality` file; DataError naming `path` when they are malformed or inconsistent."""
    match = _CODES.match(os.path.splitext(os.path.basename(path))[0])
    if not match:
        raise DataError(path, "file name does not parse as seven two-digit codes MM-VV-EE-II-SS-RR-AA")
    codes = tuple(int(code) for code in match.groups())
    for (field, largest), code in zip(CODE_FIELDS, codes):
        if not 1 <= code <= largest:
            raise DataError(path, f"{field} code {code:02d} out of range 01..{largest:02d}")
    if codes[2] == _NEUTRAL and codes[3] == _STRONG:
        raise DataError(path, "intensity code 02 (strong) out of range for neutral, which has only 01")
    if codes[0] not in MODALITY_CODES[modality]:
        allowed = " or ".join(f"{c:02d}" for c in MODALITY_CODES[modality])
        where = f"Actor_XX/{THERMAL_FOLDER}/" if modality == "thermal" else "Actor_XX/"
        raise DataError(path, f"modality code {codes[0]:02d} in a {suffix} file in {where}, which needs {allowed}")
    if codes[6] != folder_actor:
        raise DataError(path, f"actor code {codes[6]:02d} disagrees with its folder Actor_{folder_actor:02d}")
    return codes


def _recording(performance, files, modalities, label):
    """The Recording of one performance (actor, vocal, emotion, intensity, statement, repetition)."""
    actor, vocal, emotion, intensity, statement, repetition = performance
    paths = {m: next((files[(*performance, c)] for c in MODALITY_CODES[m] if (*performance, c) in files), None)
             for m in modalities}
    if label == "actor":
        person, group = str(actor), f"{actor:02d}-{emotion:02d}-{intensity:02d}-{statement:02d}"
    else:
        person, group = EMOTIONS[emotion - 1], f"{actor:02d}-{statement:02d}"
    code = "-".join(f"{c:02d}" for c in (vocal, emotion, intensity, statement, repetition, actor))
    return Recording(recording=code, person=person, group=group, subject=str(actor), **paths)
