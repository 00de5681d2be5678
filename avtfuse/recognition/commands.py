"""What `python -m experiments.recognize` does: enrol people into a gallery, identify or verify recordings.

Each command takes its recordings from files named on the command line (one recording) or from a manifest CSV
(pipelines.manifest: `person,recording,audio,visible,thermal`, paths relative to the CSV; enrol reads each row's
person, identify and verify report it beside the answer). Every bad file or row is one error line and is left out;
the others are still answered (`Outcome.errors`, the exit status 1).
"""

import dataclasses
import functools
import os

from avtfuse.contract import MODALITIES
from avtfuse.files import file_stamp
from avtfuse.recognition.gallery import Gallery, GalleryError
from avtfuse.recognition.recognizer import Recognizer
from pipelines.errors import DataError, ErrorPolicy
from pipelines.manifest import read_manifest


@dataclasses.dataclass
class Outcome:
    """`records`: JSON-ready dicts, one per answered recording (or per enrolled person); `errors`: one line per bad
    file or row."""

    records: list = dataclasses.field(default_factory=list)
    errors: list = dataclasses.field(default_factory=list)


def recognizer_of(model):
    """The Recognizer of an exported model folder, loaded once per process while the folder is unchanged."""
    folder = os.path.abspath(model)
    return _loaded(folder, file_stamp(os.path.join(folder, "saved_model.pb")))


@functools.lru_cache(maxsize=4)
def _loaded(folder, stamp):
    """Recognizer(folder); `stamp` (saved_model.pb's size and time) keys the cache, so a re-export loads anew."""
    return Recognizer(folder)


def requests(recognizer, files=None, manifest=None):
    """[(recording id, person or None, {modality: path})] and the bad rows' error lines, from `files`
    ({modality: path} of one recording) or a `manifest` CSV (its columns for the model's sensors)."""
    if (files is None) == (manifest is None):
        raise ValueError("give the files of one recording (--audio/--visible/--thermal) or --manifest, not both")
    if manifest is None:
        given = {m: path for m, path in files.items() if path}
        name = " ".join(os.path.basename(path) for path in given.values()) or "the recording"
        return [(name, None, given)], []
    policy = ErrorPolicy("skip", log=False)
    try:
        rows = read_manifest(manifest, recognizer.modalities, policy=policy)
    except DataError as error:
        return [], [str(error)] + [str(e) for e in policy.skipped]
    return [(row.recording, row.person, {m: row.path(m) for m in MODALITIES if row.path(m)}) for row in rows], \
        [str(error) for error in policy.skipped]


def open_gallery(recognizer, path, create=False):
    """The gallery at `path` made by `recognizer`'s model (a new one when `create` and there is none)."""
    if create and not os.path.exists(path):
        return Gallery.new(recognizer.identity, "person_embedding", recognizer.calibration, recognizer.modalities)
    return Gallery.load(path, model_identity=recognizer.identity)


def enrol(model, gallery_path, person=None, files=None, manifest=None, replace=False):
    """Enrols `person` from one recording's `files`, or each person of a manifest from their rows; writes the
    gallery (created when absent). A person with a recording that cannot be decoded is not enrolled; a manifest
    row the reader refuses (a missing file, a bad cell) is left out. Each has its error line."""
    if manifest is None and not person:
        raise ValueError("--person: name the person the recording enrols")
    recognizer = recognizer_of(model)
    wanted, errors = requests(recognizer, files, manifest)
    outcome = Outcome(errors=errors)
    gallery = open_gallery(recognizer, gallery_path, create=True)
    by_person, failed = {}, set()
    for recording, listed, given in wanted:
        who = person or listed
        try:
            embedded = recognizer.embed(recognizer.decode(given), given)
        except DataError as error:
            outcome.errors.append(str(error))
            failed.add(who)
            continue
        by_person.setdefault(who, []).append({"source": recording, "embeddings": embedded["embeddings"]})
    for who, recordings in by_person.items():
        if who in failed:
            outcome.errors.append(f"{who}: not enrolled (a recording of theirs is bad)")
            continue
        try:
            gallery.enrol(who, recordings, replace=replace)
        except GalleryError as error:
            outcome.errors.append(f"{gallery_path}: {error}")
            continue
        outcome.records.append({"enrolled": who, "recordings": len(recordings),
                                "subsets": list(gallery.enrolment(who))})
    if outcome.records:
        gallery.save(gallery_path)
    return outcome


def score(model, gallery_path, claimed=None, files=None, manifest=None, top_k=3, threshold=None):
    """Identifies each recording among the gallery's people (top `top_k`), or, with `claimed`, verifies that it
    is that person; accept/reject at the probe subset's calibrated threshold (or `threshold`)."""
    recognizer = recognizer_of(model)
    gallery = open_gallery(recognizer, gallery_path)
    wanted, errors = requests(recognizer, files, manifest)
    outcome = Outcome(errors=errors)
    for recording, listed, given in wanted:
        try:
            embedded = recognizer.embed(recognizer.decode(given), given)
        except DataError as error:
            outcome.errors.append(str(error))
            continue
        vector = embedded["embeddings"][embedded["held"]]
        answer = gallery.verify(vector, embedded["held"], claimed, threshold) if claimed else \
            gallery.identify(vector, embedded["held"], top_k, threshold)
        outcome.records.append({"recording": recording, **({"listed_person": listed} if listed else {}), **answer})
    return outcome


def listing(model, gallery_path):
    """One record per enrolled person: their recordings and subsets."""
    return Outcome(records=open_gallery(recognizer_of(model), gallery_path).people())


def remove(model, gallery_path, person):
    """Removes `person` from the gallery and writes it."""
    gallery = open_gallery(recognizer_of(model), gallery_path)
    gallery.remove(person)
    gallery.save(gallery_path)
    return Outcome(records=[{"removed": person}])
