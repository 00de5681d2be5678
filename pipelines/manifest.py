"""Bring-your-own data: a CSV manifest with one row per recording.

Header: `person,recording,audio,visible,thermal` (extra columns are ignored).
Paths are relative to the CSV's folder, or absolute; an empty cell means that
modality was not recorded. Files are found and checked here, not decoded.
"""

import csv
import logging
import os

from avtfuse.contract import MODALITIES, canonical_modalities
from pipelines.errors import DataError, ErrorPolicy
from pipelines.recording import Recording

logger = logging.getLogger(__name__)

ID_COLUMNS = ("person", "recording")
COLUMNS = ID_COLUMNS + MODALITIES
SUFFIXES = {
    "audio": (".wav", ".flac"),
    "visible": (".png", ".jpg", ".jpeg", ".tif", ".tiff"),
    "thermal": (".png", ".jpg", ".jpeg", ".tif", ".tiff"),
}


def read_manifest(csv_path, modalities=MODALITIES, on_error="raise", policy=None):
    """Reads a manifest CSV into Recordings.

    Only the run's `modalities` are kept (the others are None); the columns
    `person`, `recording` and one per run modality are required. Paths come
    back absolute. Bad rows raise DataError naming the CSV and line number, or
    (on_error="skip") are skipped and counted; with `policy` given the caller
    reports the count. Raises DataError for a missing CSV or one without rows.
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
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = [name.strip() for name in next(reader, [])]
        if not header:
            raise DataError(csv_path, "manifest is empty (no header line)")
        missing = [c for c in ID_COLUMNS + modalities if c not in header]
        if missing:
            raise DataError(csv_path, f"missing required columns {missing} in header {header}")
        rows = 0
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            rows += 1
            where = f"{csv_path}, line {reader.line_num}"
            try:
                recording = _parse_row(cells, header, modalities, folder, where)
                if recording.recording in first_line:
                    raise DataError(
                        where,
                        f"duplicate recording id {recording.recording!r} "
                        f"(first on line {first_line[recording.recording]})",
                    )
            except DataError as error:
                policy.handle(error)
                continue
            first_line[recording.recording] = reader.line_num
            recordings.append(recording)
    if own_policy:
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


def _parse_row(cells, header, modalities, folder, where):
    """Returns the Recording of one CSV row; DataError naming `where` if it is bad."""
    if len(cells) != len(header):
        raise DataError(where, f"malformed row: {len(cells)} fields, header has {len(header)}")
    row = {name: cell.strip() for name, cell in zip(header, cells)}
    for column in ID_COLUMNS:
        if not row[column]:
            raise DataError(where, f"empty {column} id")
    paths = {}
    for modality in modalities:
        if not row[modality]:
            continue
        path = os.path.normpath(os.path.join(folder, os.path.expanduser(row[modality])))
        if not path.lower().endswith(SUFFIXES[modality]):
            raise DataError(
                where, f"{modality} file {path} must end with one of {list(SUFFIXES[modality])}"
            )
        if not os.path.isfile(path):
            raise DataError(where, f"{modality} file {path} does not exist")
        paths[modality] = path
    if not paths:
        raise DataError(where, f"no file for any of the run's modalities {list(modalities)}")
    return Recording(recording=row["recording"], person=row["person"], **paths)


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
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for r in recordings:
            paths = [
                "" if r.path(m) is None else os.path.relpath(os.path.abspath(r.path(m)), folder)
                for m in MODALITIES
            ]
            writer.writerow([r.person, r.recording, *paths])
    return csv_path
