"""A run folder: its identity, its split, and the completion records of its stages.

    <run_dir>/identity.json   what the trained models depend on (settings less runtime, locations and
                              evaluation-only settings, plus the SHA-256 of the data's decoded contents)
    <run_dir>/config.json     the whole config of the last invocation
    <run_dir>/split.csv       one row per sample: recording, copy, person, group, role, recorded, kept
    <run_dir>/stages/S.json   stage S finished: {"key": its settings' digest, "outputs": what it returned}

Every file is written atomically; only the chief of several workers writes, holding the folder's lock
(`RunFolder.exclusive`; the lock and its holder lie in `<output_dir>/.locks/`, avtfuse.locks).
"""

import csv
import hashlib
import io
import json
import os
import shutil

from avtfuse import locks
from avtfuse.files import atomic_text, inside

SPLIT_FILE = "split.csv"
SPLIT_COLUMNS = ("recording", "copy", "person", "group", "role", "recorded", "kept", "people")
STAGES_FOLDER = "stages"


class RunMismatch(ValueError):
    """A run folder holds a run with other settings or other data."""


def read_json(path):
    with open(path) as handle:
        return json.load(handle)


def write_json(path, values):
    atomic_text(path, json.dumps(values, indent=2) + "\n")


def digest(values):
    """The SHA-256 hex digest of a JSON-ready value (keys sorted)."""
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def split_text(rows):
    """split.csv's text for `SplitData.split_rows()`."""
    text = io.StringIO()
    writer = csv.DictWriter(text, SPLIT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def read_split(run_dir):
    """The rows of a run folder's split.csv (dicts of strings)."""
    with open(os.path.join(run_dir, SPLIT_FILE), newline="") as handle:
        return list(csv.DictReader(handle))


class RunFolder:
    """One run folder (see the module docstring). chief: whether this process writes it."""

    def __init__(self, run_dir, chief=True):
        self.run_dir, self.chief = run_dir, chief

    def path(self, *parts):
        return os.path.join(self.run_dir, *parts)

    def exclusive(self):
        """A context holding the folder's lock; FolderInUse at once, naming the holder (pid, host, start time),
        while another run holds it (avtfuse.locks.exclusive)."""
        return locks.exclusive(self.run_dir, "run folder", "; wait for it to finish, or choose another run name")

    def remove(self, *parts):
        """Deletes a file or folder inside the run folder (nothing outside it)."""
        path = inside(self.path(*parts), self.run_dir)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)

    def open(self, identity, config_values):
        """Checks (or writes) identity.json and writes config.json; a folder whose identity differs raises
        RunMismatch. Another worker than the chief writes nothing: it checks the chief's folder."""
        identity = json.loads(json.dumps(identity))
        path = self.path("identity.json")
        if os.path.exists(path):
            earlier = read_json(path)
            if earlier != identity:
                what = "other data" if earlier.get("config") == identity["config"] else "other settings"
                raise RunMismatch(f"{self.run_dir} holds a run with {what} (see its identity.json); "
                                  "pass --fresh to replace it, or --run-name to start another")
        elif not self.chief:
            raise RunMismatch(f"{self.run_dir}: the chief's run folder is not there; every worker must see "
                              "--output-dir at the same path (one machine or a shared file system)")
        if self.chief:
            write_json(path, identity)
            write_json(self.path("config.json"), config_values)

    def keep_split(self, rows):
        """Writes split.csv, or checks that the one written earlier holds the same samples (RunMismatch if not)."""
        text = split_text(rows)
        path = self.path(SPLIT_FILE)
        if os.path.exists(path):
            with open(path, newline="") as handle:
                if handle.read() != text:
                    raise RunMismatch(f"{path}: the data now splits differently from the split this run trained "
                                      "on; pass --fresh to start again, or --run-name to start another")
        elif self.chief:
            atomic_text(path, text)

    def stage_record(self, name):
        """The completion record of stage `name` ({"key", "outputs"}), or None."""
        path = self.path(STAGES_FOLDER, f"{name}.json")
        return read_json(path) if os.path.exists(path) else None

    def is_done(self, name, key):
        record = self.stage_record(name)
        return record is not None and record["key"] == key

    def finish_stage(self, name, key, outputs):
        if self.chief:
            write_json(self.path(STAGES_FOLDER, f"{name}.json"), {"key": key, "outputs": outputs})

    def forget_stage(self, name):
        if self.chief:
            self.remove(STAGES_FOLDER, f"{name}.json")
