"""Bring-your-own data: a CSV manifest (UTF-8) with one row per recording.

Header: `person,recording,audio,visible,thermal`, optionally `split` (train,
valid or test: the `manifest` protocol), `group` (recordings that must stay
on one side of a strict split) and `subject` (who was recorded, when the class
is something else, e.g. an emotion: the `folds` protocol splits by it); other
columns are ignored. Paths are relative to the CSV's folder, or absolute; an
empty cell means that modality was not
recorded. A cell may name a media file (audio: anything libsndfile reads;
cameras: an image, a video, or a folder of frame images, read in the natural
order of their names) or a `.npy` file of pre-extracted features ([D] or
[T, D] per recording: a features manifest). Files are found and checked
here, not decoded.
"""

import csv
import io
import logging
import os

from avtfuse.contract import MODALITIES, canonical_modalities
from pipelines.audio import AUDIO_SUFFIXES
from pipelines.errors import DataError, DataErrors, ErrorPolicy
from pipelines.features import FEATURE_SUFFIX, is_feature_file
from pipelines.image import IMAGE_SUFFIXES
from pipelines.recording import Recording
from pipelines.video import VIDEO_SUFFIXES

logger = logging.getLogger(__name__)

ID_COLUMNS = ("person", "recording")
OPTIONAL_COLUMNS = ("split", "group", "subject")
COLUMNS = ID_COLUMNS + MODALITIES
SUFFIXES = {
    "audio": (*AUDIO_SUFFIXES, FEATURE_SUFFIX),
    "visible": (*IMAGE_SUFFIXES, *VIDEO_SUFFIXES, FEATURE_SUFFIX),
    "thermal": (*IMAGE_SUFFIXES, *VIDEO_SUFFIXES, FEATURE_SUFFIX),
}


def read_manifest(csv_path, modalities=MODALITIES, on_error="raise", policy=None):
    """Reads a manifest CSV into Recordings.

    Only the run's `modalities` are kept (the others are None); the columns
    `person`, `recording` and one per run modality are required. Paths come
    back absolute. Every bad row is handed to the error policy as a DataError
    naming the CSV and line number: with `policy` given the caller reports
    them; otherwise they are raised together as InputErrors (or, with
    on_error="skip", left out and counted). Raises DataError for a missing,
    non-UTF-8 or empty CSV.
    """
    modalities = canonical_modalities(modalities)
    own_policy = policy is None
    if own_policy:
        policy = ErrorPolicy(on_error)
    csv_path = os.fspath(csv_path)
    if not os.path.isfile(csv_path):
        raise DataError(csv_path, "manifest CSV does not exist")
    folder = os.path.dirname(os.path.abspath(csv_path))

    recordings, first_line = [], {}
    with open(csv_path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise DataError(csv_path, f"not UTF-8 text (byte 0x{raw[error.start]:02x} on line {line}); "
                                  "save the manifest as UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = [name.strip() for name in next(reader, [])]
    if not header:
        raise DataError(csv_path, "manifest is empty (no header line)")
    missing = [c for c in ID_COLUMNS + modalities if c not in header]
    if missing:
        raise DataError(csv_path, f"missing required columns {missing} in header {header}")
    rows = 0
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader, None)
        except csv.Error as error:
            rows += 1
            policy.handle(DataError(f"{csv_path}, line {start}", f"unreadable row: {error}"))
            continue
        if cells is None:
            break
        if not any(cell.strip() for cell in cells):
            continue
        rows += 1
        where = f"{csv_path}, line {start}"
        try:
            recording, problems = _parse_row(cells, header, modalities, folder, where)
            if recording.recording in first_line:
                raise DataError(
                    where,
                    f"duplicate recording id {recording.recording!r} "
                    f"(first on line {first_line[recording.recording]})",
                )
        except DataError as error:
            policy.handle(error)
            continue
        first_line[recording.recording] = start
        if problems:  # the row's files that were found are still checked when decoded, each problem listed
            policy.handle(DataErrors.of(problems), found=recording)
            continue
        recordings.append(recording)
    recordings = _one_kind_per_column(recordings, modalities, policy)
    if own_policy or not recordings:
        policy.report("manifest rows")
    if not rows:
        raise DataError(csv_path, "manifest has no data rows")
    if not recordings:
        raise DataError(csv_path, f"none of the {rows} manifest rows is usable")
    people = {r.person for r in recordings}
    logger.info(
        "manifest: %d recordings of %d people in %s", len(recordings), len(people), csv_path
    )
    return recordings


def pick_subjects(recordings, subjects, csv_path):
    """The recordings whose `subject` cell is one of the numbers `subjects` (--subjects); ValueError naming
    --subjects when the manifest has no `subject` column, or when none of its rows is of those subjects."""
    if all(r.subject is None for r in recordings):
        raise ValueError(f"--subjects: {csv_path} has no subject column to pick rows by; give the manifest a "
                         "subject column, or list only the wanted recordings in it")
    wanted = {str(number) for number in subjects}
    kept = [r for r in recordings if r.subject is not None and r.subject.lstrip("0") in wanted]
    if not kept:
        raise ValueError(f"--subjects: no row of {csv_path} is of subjects {', '.join(sorted(wanted, key=int))}")
    return kept


def _one_kind_per_column(recordings, modalities, policy):
    """The recordings less those whose file is of the minority kind (`.npy` features or media) in a modality's
    column, each handed to `policy`: a modality's inputs are all features or all media."""
    kept = []
    kinds = {m: [is_feature_file(r.path(m)) for r in recordings if r.path(m)] for m in modalities}
    features = {m: 2 * sum(k) > len(k) for m, k in kinds.items()}
    for rec in recordings:
        odd = [m for m in modalities if rec.path(m) and is_feature_file(rec.path(m)) != features[m]]
        if odd:
            policy.handle(DataErrors.of(
                DataError(rec.path(m), f"the {m} column holds {'.npy features' if features[m] else 'media'} files; "
                                       "a modality's files are all features or all media") for m in odd))
        else:
            kept.append(rec)
    return kept


def _parse_row(cells, header, modalities, folder, where):
    """(the Recording of one CSV row with the files found, the DataErrors of its cells naming a file that is not
    there or not of its modality); DataError naming `where` when the row itself is bad."""
    if len(cells) != len(header):
        raise DataError(where, f"malformed row: {len(cells)} fields, header has {len(header)}")
    if any("\x00" in cell for cell in cells):
        raise DataError(where, "unreadable row: it holds a NUL byte")
    row = {name: cell.strip() for name, cell in zip(header, cells)}
    for column in ID_COLUMNS:
        if not row[column]:
            raise DataError(where, f"empty {column} id")
    paths, problems = {}, []
    for modality in modalities:
        if not row[modality]:
            continue
        path = os.path.normpath(os.path.join(folder, os.path.expanduser(row[modality])))
        if modality != "audio" and os.path.isdir(path):
            if not any(os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES for name in os.listdir(path)):
                problems.append(DataError(where, f"{modality} folder {path} holds no frame image "
                                                 f"({', '.join(IMAGE_SUFFIXES)})"))
            else:
                paths[modality] = path
        elif not path.lower().endswith(SUFFIXES[modality]):
            problems.append(DataError(where, f"{modality} file {path} must end with one of "
                                             f"{list(SUFFIXES[modality])}"))
        elif not os.path.isfile(path):
            problems.append(DataError(where, f"{modality} file {path} does not exist"))
        else:
            paths[modality] = path
    if not paths and not problems:
        raise DataError(where, f"no file for any of the run's modalities {list(modalities)}")
    optional = {column: row.get(column) or None for column in OPTIONAL_COLUMNS}
    return Recording(recording=row["recording"], person=row["person"], **paths, **optional), problems


def write_manifest(recordings, csv_path):
    """Writes Recordings as a manifest CSV with paths relative to its folder.

    Creates the CSV's folder if needed and returns `csv_path`. Raises
    ValueError for no recordings (a manifest needs at least one row).
    """
    recordings = list(recordings)
    if not recordings:
        raise ValueError(f"write_manifest: no recordings to write to {csv_path}")
    csv_path = os.fspath(csv_path)
    folder = os.path.dirname(os.path.abspath(csv_path))
    os.makedirs(folder, exist_ok=True)
    optional = [c for c in OPTIONAL_COLUMNS if any(getattr(r, c) is not None for r in recordings)]
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS + tuple(optional))
        for r in recordings:
            paths = [
                "" if r.path(m) is None else os.path.relpath(os.path.abspath(r.path(m)), folder)
                for m in MODALITIES
            ]
            writer.writerow([r.person, r.recording, *paths, *(getattr(r, c) or "" for c in optional)])
    return csv_path
