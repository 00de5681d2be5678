"""The enrolment gallery of one trained model: who is enrolled, from which recordings and sensors, and how a probe
embedding scores against them (NumPy only; no backend is imported).

A person is enrolled under a sensor subset by the mean of the L2-normalised embeddings of their enrolment
recordings embedded under that subset, and a probe is scored by the cosine similarity of its embedding to that
mean (as the run's verification stage does, `avtfuse.evaluation.verification`). Subsets carry the condition
names of `avtfuse.contract.subsets` ("complete", "missing_thermal", "with_audio_visible", "only_audio", ...).

The file is one NumPy `.npz` archive, written atomically, holding three arrays:

- `header`: a 0-d unicode string, the JSON header below;
- `embeddings`: float32 [R, D], every enrolment recording's embedding under every subset it was embedded with, in
  the header's order (people, then their recordings, then each recording's `subsets`);
- `means`: float32 [M, D], each person's mean of the L2-normalised embeddings of one subset, in the header's order
  (people, then their `subsets`).

The header: {"format": "avtfuse gallery", "version": 1, "model_identity": {...} (what the model that made it says
it is), "embedding_kind": the model's embedding the gallery holds, "modalities": [sensors of the model],
"embedding_width": D (null while nobody is enrolled), "calibration": {probe subset: {"threshold", "slope",
"offset", ...}} (the run's `results.json["verification"]["calibration"]`), "people": [{"person", "recordings":
[{"source", "subsets": [...]}], "subsets": [...]}]}.
"""

import json
import math
import os
import zipfile

import numpy as np

from avtfuse.contract import canonical_modalities, subsets
from avtfuse.evaluation import verification_metrics as measures
from avtfuse.files import atomic_write
from pipelines.recording import natural_key

FORMAT = "avtfuse gallery"
VERSION = 1
ARRAYS = ("header", "embeddings", "means")


class GalleryError(ValueError):
    """A refused gallery file or operation; the one-line message names the file, the person or the argument."""


def _identity_text(identity):
    """A model identity as one line of JSON with sorted keys (what two identities are compared by)."""
    return json.dumps(identity, sort_keys=True)


def _json_ready(value, what):
    """`value` as JSON gives it back (tuples become lists), or a GalleryError naming `what`."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise GalleryError(f"{what}: expected JSON-ready values ({error})") from None


def _calibrated(entry, subset):
    """A calibration entry {"threshold", "slope", "offset", ...} checked: a finite threshold, and slope and offset
    both finite numbers or both absent/None."""
    if not isinstance(entry, dict) or entry.get("threshold") is None:
        raise GalleryError(f"calibration[{subset!r}]: expected a dict with a 'threshold', got {entry!r}")
    numbers = {key: entry.get(key) for key in ("threshold", "slope", "offset")}
    if (numbers["slope"] is None) != (numbers["offset"] is None):
        raise GalleryError(f"calibration[{subset!r}]: 'slope' and 'offset' come together, got {numbers}")
    for key, value in numbers.items():
        if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise GalleryError(f"calibration[{subset!r}]: {key} must be a finite number, got {value!r}")
    return entry


class Gallery:
    """The people enrolled for one model (`new` or `load`; `enrol`, `remove`, `people`; `scores`, `identify`,
    `verify`; `save`)."""

    def __init__(self, model_identity, embedding_kind, calibration, modalities, embedding_width=None):
        """Use `new` or `load`."""
        if not isinstance(model_identity, dict) or not model_identity:
            raise GalleryError(f"model_identity: expected a non-empty dict, got {model_identity!r}")
        if not isinstance(embedding_kind, str) or not embedding_kind:
            raise GalleryError(f"embedding_kind: expected a non-empty name, got {embedding_kind!r}")
        try:
            self.modalities = canonical_modalities(modalities)
        except ValueError as error:
            raise GalleryError(str(error)) from None
        self.subsets = subsets(self.modalities)
        if not isinstance(calibration, dict):
            raise GalleryError(f"calibration: expected {{probe subset: {{'threshold', ...}}}}, got {calibration!r}")
        for subset, entry in calibration.items():
            self._subset(subset, "calibration")
            _calibrated(entry, subset)
        if embedding_width is not None and (isinstance(embedding_width, bool)
                                            or not isinstance(embedding_width, (int, np.integer))
                                            or embedding_width < 1):
            raise GalleryError(f"embedding_width: expected a positive whole number, got {embedding_width!r}")
        self.model_identity = _json_ready(model_identity, "model_identity")
        self.embedding_kind = embedding_kind
        self.calibration = _json_ready({s: calibration[s] for s in self.subsets if s in calibration}, "calibration")
        self.embedding_width = None if embedding_width is None else int(embedding_width)
        self._people = {}  # person: {"recordings": [...], "embeddings": float32 [n, D], "means": {subset: [D]}}

    @classmethod
    def new(cls, model_identity, embedding_kind, calibration, modalities, embedding_width=None):
        """An empty gallery for one model. model_identity: a JSON-ready dict naming the model; embedding_kind: the
        model's embedding the gallery holds (e.g. "joint"); calibration: {probe subset: {"threshold", "slope",
        "offset", ...}} (a subset may be absent; slope and offset may be None); modalities: the model's sensors;
        embedding_width: D, or None to take it from the first enrolment."""
        return cls(model_identity, embedding_kind, calibration, modalities, embedding_width)

    # ----- enrolment -------------------------------------------------------------------------------------------

    def enrol(self, person, recordings, replace=False):
        """Enrols `person` from `recordings`: [{"source": str, "embeddings": {subset: float [D]}}], each recording
        embedded under the subsets of the sensors it holds. Stores every embedding, and per subset the mean of the
        L2-normalised embeddings of the recordings holding it. An enrolled person is refused unless `replace`
        (then their old enrolment is dropped). Nothing changes when a recording is refused."""
        if not isinstance(person, str) or not person.strip():
            raise GalleryError(f"person: expected a non-empty name, got {person!r}")
        if person in self._people and not replace:
            raise GalleryError(f"enrol: {person!r} is already enrolled; re-enrol them with replace=True")
        if not isinstance(recordings, (list, tuple)) or not recordings:
            raise GalleryError(f"enrol {person!r}: expected a non-empty list of recordings, got {recordings!r}")
        width = self.embedding_width
        listed, rows, by_subset = [], [], {}
        for index, recording in enumerate(recordings):
            what = f"enrol {person!r}: recordings[{index}]"
            if not isinstance(recording, dict) or not isinstance(recording.get("source"), str) \
                    or not isinstance(recording.get("embeddings"), dict) or not recording["embeddings"]:
                raise GalleryError(f"{what}: expected {{'source': str, 'embeddings': {{subset: float [D]}}}} "
                                   f"with at least one subset")
            for subset in recording["embeddings"]:
                self._subset(subset, what)
            held = [subset for subset in self.subsets if subset in recording["embeddings"]]
            for subset in held:
                vector = self._vector(recording["embeddings"][subset], f"{what}['embeddings'][{subset!r}]", width)
                width = vector.shape[0]
                rows.append(vector)
                by_subset.setdefault(subset, []).append(vector)
            listed.append({"source": recording["source"], "subsets": held})
        means = {subset: measures.unit_rows(np.stack(by_subset[subset])).mean(axis=0).astype(np.float32)
                 for subset in self.subsets if subset in by_subset}
        self.embedding_width = width
        self._people[person] = {"recordings": listed, "embeddings": np.stack(rows), "means": means}

    def remove(self, person):
        """Removes an enrolled person (refused for an unknown one, naming those enrolled)."""
        self._known(person, "remove")
        del self._people[person]

    def people(self):
        """[{"person", "recordings": [{"source", "subsets"}], "subsets": the enrolled subsets}] in natural order."""
        return [{"person": person, "recordings": [dict(r, subsets=list(r["subsets"])) for r in entry["recordings"]],
                 "subsets": list(entry["means"])} for person, entry in self._sorted()]

    def enrolment(self, person):
        """{subset: float32 [D]}: the person's mean of L2-normalised embeddings per enrolled subset."""
        return dict(self._known(person, "enrolment")["means"])

    # ----- scoring ---------------------------------------------------------------------------------------------

    def scores(self, embedding, subset):
        """{person: {"score": cosine, "enrolment_subset", "shared_sensors"}} of a probe embedding float [D] held
        under `subset`, against every enrolled person (natural order): their mean for that subset, or, when they
        have none, for the enrolled subset sharing the most sensors with the probe (ties: the larger subset, then
        report order; a person sharing no sensor with the probe is still scored, with "shared_sensors" 0)."""
        self._subset(subset, "subset")
        probe = self._vector(embedding, "embedding", self.embedding_width)
        chosen = [(person, self._enrolment_subset(entry["means"], subset)) for person, entry in self._sorted()]
        if not chosen:
            return {}
        models = np.stack([self._people[person]["means"][enrolled] for person, enrolled in chosen])
        cosines = measures.cosine_scores(models, probe[None, :])[0]
        held = set(self.subsets[subset])
        return {person: {"score": float(cosine), "enrolment_subset": enrolled,
                         "shared_sensors": len(held & set(self.subsets[enrolled]))}
                for (person, enrolled), cosine in zip(chosen, cosines)}

    def identify(self, embedding, subset, top_k=5, threshold=None):
        """Open-set identification of a probe embedding float [D] held under `subset`:

        {"probe_subset", "threshold": the probe subset's calibrated threshold, or `threshold` when given (None
        when neither), "threshold_from": "calibration" | "override" | None, "person": the best-scoring person when
        accepted, else None, "unknown": True when the best score is below the threshold (None without a
        threshold), "candidates": the top_k people by score (ties: natural order), each {"rank" (1 = best),
        "person", "score", "enrolment_subset", "shared_sensors", "probability": calibrated same-person probability
        at prior 0.5 (None without the probe subset's slope and offset), "accepted": score >= threshold (None
        without a threshold)}}. Refused while nobody is enrolled."""
        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
            raise GalleryError(f"top_k: expected a whole number >= 1, got {top_k!r}")
        scored = self.scores(embedding, subset)
        if not scored:
            raise GalleryError("identify: nobody is enrolled in the gallery")
        limit, source = self._threshold(subset, threshold)
        ranked = sorted(scored, key=lambda person: -scored[person]["score"])  # stable: ties keep natural order
        candidates = [{"rank": rank, **self._decision(person, scored[person], subset, limit)}
                      for rank, person in enumerate(ranked[:int(top_k)], 1)]
        best = candidates[0]
        return {"probe_subset": subset, "threshold": limit, "threshold_from": source,
                "person": best["person"] if best["accepted"] else None,
                "unknown": None if limit is None else not best["accepted"], "candidates": candidates}

    def verify(self, embedding, subset, person, threshold=None):
        """Verification of a claimed, enrolled person by a probe embedding float [D] held under `subset`:
        {"person", "probe_subset", "score", "enrolment_subset", "shared_sensors", "probability", "accepted",
        "threshold", "threshold_from"} (as in `identify`)."""
        self._known(person, "verify")
        scored = self.scores(embedding, subset)[person]
        limit, source = self._threshold(subset, threshold)
        return {**self._decision(person, scored, subset, limit), "probe_subset": subset, "threshold": limit,
                "threshold_from": source}

    # ----- file ------------------------------------------------------------------------------------------------

    def save(self, path):
        """Writes the gallery to `path` (one .npz, atomically; the module docstring gives the format); returns
        `path`."""
        width = self.embedding_width or 0
        ordered = self._sorted()
        header = {"format": FORMAT, "version": VERSION, "model_identity": self.model_identity,
                  "embedding_kind": self.embedding_kind, "modalities": list(self.modalities),
                  "embedding_width": self.embedding_width, "calibration": self.calibration,
                  "people": self.people()}
        embeddings = np.concatenate([np.zeros((0, width), np.float32)] + [e["embeddings"] for _, e in ordered])
        means = np.stack([mean for _, e in ordered for mean in e["means"].values()]) if ordered \
            else np.zeros((0, width), np.float32)

        def write(temporary):
            with open(temporary, "wb") as handle:
                np.savez(handle, header=np.array(json.dumps(header)), embeddings=embeddings, means=means)

        return atomic_write(path, write)

    @classmethod
    def load(cls, path, model_identity, embedding_width=None):
        """The gallery saved at `path`, refused (GalleryError naming the file) when the file is missing, is no
        gallery, has a format version this code does not read, was made for a model other than `model_identity`
        (None: not checked, e.g. to list the people), or holds embeddings of a width other than
        `embedding_width` (None: not checked)."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise GalleryError(f"{path}: no such gallery file")
        arrays, header = _read(path)
        if header.get("version") != VERSION:
            raise GalleryError(f"{path}: gallery format version {header.get('version')!r}; this avtfuse reads "
                               f"version {VERSION}")
        if model_identity is not None and _identity_text(header.get("model_identity")) != _identity_text(
                _json_ready(model_identity, "model_identity")):
            raise GalleryError(f"{path}: gallery made for model {_identity_text(header.get('model_identity'))}, "
                               f"not for this model {_identity_text(model_identity)}")
        width = header.get("embedding_width")
        shapes = {name: arrays[name].shape for name in ("embeddings", "means")}
        if any(len(shape) != 2 or shape[1] != (width or 0) for shape in shapes.values()):
            raise GalleryError(f"{path}: not a consistent gallery: arrays of shapes {shapes}, header width {width}")
        if embedding_width is not None and width is not None and width != embedding_width:
            raise GalleryError(f"{path}: gallery embeddings of width {width}, this model's are {embedding_width}")
        try:
            gallery = cls(header["model_identity"], header["embedding_kind"], header["calibration"],
                          header["modalities"], width)
            gallery._restore(header["people"], arrays["embeddings"], arrays["means"])
        except GalleryError as error:
            raise GalleryError(f"{path}: {error}") from None
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise GalleryError(f"{path}: not a consistent gallery ({type(error).__name__}: {error})") from None
        return gallery

    def _restore(self, people, embeddings, means):
        """Fills the people from a header's "people" and the stored arrays (kept bit for bit)."""
        if embeddings.dtype != np.float32 or means.dtype != np.float32:
            raise GalleryError(f"expected float32 arrays, got embeddings {embeddings.dtype}, means {means.dtype}")
        row, mean_row = 0, 0
        for entry in people:
            recordings = [{"source": str(r["source"]), "subsets": [self._subset(s, "people") for s in r["subsets"]]}
                          for r in entry["recordings"]]
            count = sum(len(r["subsets"]) for r in recordings)
            enrolled = [self._subset(s, "people") for s in entry["subsets"]]
            if not count or not enrolled:
                raise GalleryError(f"{entry['person']!r} is listed with no embedding")
            if row + count > len(embeddings) or mean_row + len(enrolled) > len(means):
                raise GalleryError(f"the header lists more embeddings than the arrays hold (at {entry['person']!r})")
            self._people[str(entry["person"])] = {
                "recordings": recordings, "embeddings": embeddings[row:row + count],
                "means": dict(zip(enrolled, means[mean_row:mean_row + len(enrolled)]))}
            row, mean_row = row + count, mean_row + len(enrolled)
        if self._people and self.embedding_width is None:
            raise GalleryError("people are listed but the header has no embedding width")
        if row != len(embeddings) or mean_row != len(means):
            raise GalleryError(f"the arrays hold {len(embeddings)} embeddings and {len(means)} means, the header "
                               f"lists {row} and {mean_row}")

    # ----- helpers ---------------------------------------------------------------------------------------------

    def _sorted(self):
        """[(person, entry)] in natural order."""
        return [(person, self._people[person]) for person in sorted(self._people, key=natural_key)]

    def _known(self, person, what):
        """The entry of an enrolled person, or a GalleryError naming them and those enrolled."""
        if person not in self._people:
            known = [name for name, _ in self._sorted()]
            raise GalleryError(f"{what}: {person!r} is not enrolled; enrolled: {known}")
        return self._people[person]

    def _subset(self, subset, what):
        """`subset` unchanged, or a GalleryError unless it names a sensor subset of the model's modalities."""
        if subset not in self.subsets:
            raise GalleryError(f"{what}: unknown sensor subset {subset!r}; the subsets of {list(self.modalities)} "
                               f"are {list(self.subsets)}")
        return subset

    def _vector(self, embedding, what, width):
        """float32 [D] of an embedding, or a GalleryError naming `what` unless it is finite, 1-D and `width` wide
        (None: any width)."""
        vector = np.asarray(embedding, dtype=np.float32)
        if vector.ndim != 1 or vector.size == 0:
            raise GalleryError(f"{what}: expected one embedding of shape [D], got shape {vector.shape}")
        if width is not None and vector.shape[0] != width:
            raise GalleryError(f"{what}: embedding of width {vector.shape[0]}, the gallery's are {width}")
        if not np.all(np.isfinite(vector)):
            raise GalleryError(f"{what}: NaN or infinite value in the embedding")
        return vector

    def _enrolment_subset(self, means, probe):
        """The probe subset when enrolled, else the enrolled subset sharing the most sensors with it (ties: the
        larger subset, then report order)."""
        if probe in means:
            return probe
        held, order = set(self.subsets[probe]), list(self.subsets)
        return max(means, key=lambda name: (len(held & set(self.subsets[name])), len(self.subsets[name]),
                                            -order.index(name)))

    def _threshold(self, subset, override):
        """(threshold or None, "override" | "calibration" | None) of a probe subset."""
        if override is not None:
            if isinstance(override, bool) or not isinstance(override, (int, float, np.floating, np.integer)) \
                    or not math.isfinite(override):
                raise GalleryError(f"threshold: expected a finite number, got {override!r}")
            return float(override), "override"
        if subset in self.calibration:
            return float(self.calibration[subset]["threshold"]), "calibration"
        return None, None

    def _decision(self, person, scored, subset, threshold):
        """{"person", "score", "enrolment_subset", "shared_sensors", "probability", "accepted"} of one score."""
        entry = self.calibration.get(subset, {})
        probability = None
        if entry.get("slope") is not None:
            probability = float(measures.LogisticCalibration.from_dict(entry).probability([scored["score"]])[0])
        return {"person": person, **scored, "probability": probability,
                "accepted": None if threshold is None else bool(scored["score"] >= threshold)}


def _read(path):
    """({name: array} of ARRAYS, header dict) of a gallery file, or a GalleryError naming it when it is no
    gallery."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        raise GalleryError(f"{path}: not a gallery file (not a NumPy .npz archive)") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise GalleryError(f"{path}: not a gallery file (a single NumPy array, not an .npz archive)")
    with archive:
        missing = [name for name in ARRAYS if name not in archive.files]
        if missing:
            raise GalleryError(f"{path}: not a gallery file (no {', '.join(missing)} array)")
        try:
            arrays = {name: archive[name] for name in ARRAYS}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile):
            raise GalleryError(f"{path}: not a gallery file (an unreadable array)") from None
    try:
        header = json.loads(str(arrays["header"].item()))
    except (ValueError, TypeError):
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise GalleryError(f"{path}: not a gallery file (no {FORMAT!r} header)")
    return arrays, header
