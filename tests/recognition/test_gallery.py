"""Tests for avtfuse.recognition.gallery against plain NumPy loops written here."""

import ast
import importlib.util
import json
import os
import re

import numpy as np
import pytest

from avtfuse.contract import MODALITIES, subsets
from avtfuse.evaluation.verification_metrics import LogisticCalibration
from avtfuse.recognition.gallery import Gallery, GalleryError

SUBSETS = subsets(MODALITIES)
IDENTITY = {"identity_sha256": "ab" * 32, "system": "avtnet", "variant": "prop", "saved_model": "12:345"}
CALIBRATION = {"complete": {"threshold": 0.5, "target_far": 0.01, "slope": 8.0, "offset": -3.0},
               "only_audio": {"threshold": 0.3, "target_far": 0.01, "slope": 5.0, "offset": -1.0},
               "missing_thermal": {"threshold": 0.4, "target_far": 0.01, "slope": None, "offset": None}}
WIDTH = 6


def recording(rng, source, sensors):
    """An enrolment recording holding `sensors`: a random embedding under every non-empty subset of them."""
    return {"source": source, "embeddings": {name: rng.normal(size=WIDTH).astype(np.float32)
                                             for name, held in SUBSETS.items() if set(held) <= set(sensors)}}


def reference_mean(vectors):
    """Mean of the rows after dividing each by its Euclidean length, by a loop."""
    return sum(np.asarray(v, np.float64) / np.sqrt(sum(float(x) ** 2 for x in v)) for v in vectors) / len(vectors)


def reference_cosine(model, probe):
    return float(np.dot(model, probe) / (np.linalg.norm(model) * np.linalg.norm(probe)))


@pytest.fixture
def enrolled():
    """(gallery, rng, {person: recordings}): ann with every sensor twice, bob with audio+visible and audio alone,
    cy with visible+thermal."""
    rng = np.random.default_rng(7)
    gallery = Gallery.new(IDENTITY, "joint", CALIBRATION, MODALITIES)
    given = {"ann": [recording(rng, "ann1.wav+ann1.jpg+ann1.tiff", MODALITIES),
                     recording(rng, "ann2.wav+ann2.jpg+ann2.tiff", MODALITIES)],
             "bob": [recording(rng, "bob1.wav+bob1.jpg", ("audio", "visible")),
                     recording(rng, "bob2.wav", ("audio",))],
             "cy": [recording(rng, "cy1.jpg+cy1.tiff", ("visible", "thermal"))]}
    for person, recordings in given.items():
        gallery.enrol(person, recordings)
    return gallery, rng, given


def module_imports(name, seen=None):
    """Every module imported at module level by `name` and, recursively, by the project modules (avtfuse,
    pipelines) it imports: what importing it loads, without importing it (a subprocess would take seconds)."""
    seen = set() if seen is None else seen
    tree = ast.parse(open(importlib.util.find_spec(name).origin).read())
    for node in tree.body:
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
            [node.module] if isinstance(node, ast.ImportFrom) else []
        for imported in names:
            if imported not in seen:
                seen.add(imported)
                if imported.split(".")[0] in ("avtfuse", "pipelines"):
                    parts = imported.split(".")  # a package's __init__ runs before its module
                    for depth in range(1, len(parts) + 1):
                        module_imports(".".join(parts[:depth]), seen)
    return seen


def test_no_backend_is_imported():
    loaded = module_imports("avtfuse.recognition.gallery")
    assert {"avtfuse.evaluation.verification_metrics", "avtfuse.contract", "numpy"} <= loaded
    assert not {m.split(".")[0] for m in loaded} & {"tensorflow", "keras", "jax", "torch"}
    assert "tensorflow" in {m.split(".")[0] for m in module_imports("avtfuse.evaluation.verification")}  # it can fail


def test_means_and_scores_match_a_loop(enrolled):
    gallery, rng, given = enrolled
    for person, recordings in given.items():
        for subset, mean in gallery.enrolment(person).items():
            vectors = [r["embeddings"][subset] for r in recordings if subset in r["embeddings"]]
            np.testing.assert_allclose(mean, reference_mean(vectors), rtol=1e-6, atol=1e-7)
    probe = rng.normal(size=WIDTH)
    scored = gallery.scores(probe, "only_audio")
    assert list(scored) == ["ann", "bob", "cy"]
    for person in ("ann", "bob"):  # both enrolled with audio alone
        vectors = [r["embeddings"]["only_audio"] for r in given[person] if "only_audio" in r["embeddings"]]
        assert scored[person]["enrolment_subset"] == "only_audio"
        assert scored[person]["score"] == pytest.approx(reference_cosine(reference_mean(vectors), probe), abs=1e-6)
    assert len(gallery.enrolment("bob")) == 3  # audio+visible, audio alone, visible alone
    assert gallery.people()[1] == {"person": "bob", "subsets": ["missing_thermal", "only_audio", "only_visible"],
                                   "recordings": [{"source": "bob1.wav+bob1.jpg",
                                                   "subsets": ["missing_thermal", "only_audio", "only_visible"]},
                                                  {"source": "bob2.wav", "subsets": ["only_audio"]}]}


def test_nearest_subset_fallback(enrolled):
    gallery, rng, given = enrolled
    probe = rng.normal(size=WIDTH)
    scored = gallery.scores(probe, "complete")
    # bob lacks thermal: audio+visible shares two sensors; cy lacks audio: visible+thermal shares two
    assert [scored[p]["enrolment_subset"] for p in ("ann", "bob", "cy")] == ["complete", "missing_thermal",
                                                                          "missing_audio"]
    assert [scored[p]["shared_sensors"] for p in ("ann", "bob", "cy")] == [3, 2, 2]
    mean = reference_mean([given["cy"][0]["embeddings"]["missing_audio"]])
    assert scored["cy"]["score"] == pytest.approx(reference_cosine(mean, probe), abs=1e-6)
    # audio+thermal: bob shares audio with two subsets of one sensor shared, the larger (audio+visible) wins;
    # cy shares thermal, the larger subset again
    scored = gallery.scores(probe, "missing_visible")
    assert scored["bob"]["enrolment_subset"] == "missing_thermal" and scored["bob"]["shared_sensors"] == 1
    assert scored["cy"]["enrolment_subset"] == "missing_audio"
    # audio alone against cy (no audio at all): no shared sensor, the largest subset, reported as such
    scored = gallery.scores(probe, "only_audio")
    assert scored["cy"] == {**scored["cy"], "enrolment_subset": "missing_audio", "shared_sensors": 0}
    # equal share and size: report order (only_visible before only_thermal)
    gallery.enrol("dee", [recording(rng, "dee1.jpg", ("visible",)), recording(rng, "dee2.tiff", ("thermal",))])
    assert gallery.scores(probe, "missing_visible")["dee"]["enrolment_subset"] == "only_thermal"
    assert gallery.scores(probe, "only_audio")["dee"]["enrolment_subset"] == "only_visible"


def test_identify_ranks_and_calibrates(enrolled):
    gallery, rng, given = enrolled
    probe = given["ann"][0]["embeddings"]["complete"] + 0.01 * rng.normal(size=WIDTH)
    scored = gallery.scores(probe, "complete")
    result = gallery.identify(probe, "complete", top_k=2)
    order = sorted(scored, key=lambda p: scored[p]["score"], reverse=True)
    assert [c["person"] for c in result["candidates"]] == order[:2] and order[0] == "ann"
    assert [c["rank"] for c in result["candidates"]] == [1, 2]
    best = result["candidates"][0]
    expected = LogisticCalibration(8.0, -3.0).probability([scored["ann"]["score"]])[0]
    assert best["probability"] == pytest.approx(expected, rel=1e-12)
    assert best["accepted"] is (scored["ann"]["score"] >= 0.5) is True
    assert result["person"] == "ann" and result["unknown"] is False and result["threshold"] == 0.5
    assert result["threshold_from"] == "calibration"
    json.dumps(result, allow_nan=False)
    # a threshold above every score: unknown, no person, the ranking still given
    high = max(s["score"] for s in scored.values()) + 1e-3
    unknown = gallery.identify(probe, "complete", top_k=5, threshold=high)
    assert unknown["person"] is None and unknown["unknown"] is True and unknown["threshold_from"] == "override"
    assert [c["accepted"] for c in unknown["candidates"]] == [False, False, False]
    assert len(unknown["candidates"]) == 3
    # calibration without slope: no probability; a subset with no calibration: no decision
    no_slope = gallery.identify(probe, "missing_thermal")
    assert no_slope["candidates"][0]["probability"] is None and no_slope["threshold"] == 0.4
    undecided = gallery.identify(probe, "only_visible")
    assert undecided["threshold"] is None and undecided["unknown"] is None and undecided["person"] is None
    assert all(c["accepted"] is None and c["probability"] is None for c in undecided["candidates"])


def test_verify(enrolled):
    gallery, rng, given = enrolled
    probe = rng.normal(size=WIDTH)
    score = gallery.scores(probe, "only_audio")["bob"]["score"]
    result = gallery.verify(probe, "only_audio", "bob", threshold=score)
    assert result["accepted"] is True and result["score"] == score and result["threshold_from"] == "override"
    assert gallery.verify(probe, "only_audio", "bob", threshold=np.nextafter(score, 1.0))["accepted"] is False
    calibrated = gallery.verify(probe, "only_audio", "bob")
    assert calibrated["accepted"] is (score >= 0.3) and calibrated["threshold"] == 0.3
    assert calibrated["probability"] == pytest.approx(LogisticCalibration(5.0, -1.0).probability([score])[0])
    assert set(calibrated) == {"person", "probe_subset", "score", "enrolment_subset", "shared_sensors",
                               "probability", "accepted", "threshold", "threshold_from"}


def test_reenrol_replaces_and_remove(enrolled):
    gallery, rng, _ = enrolled
    with pytest.raises(GalleryError, match="'bob' is already enrolled"):
        gallery.enrol("bob", [recording(rng, "new.wav", ("audio",))])
    assert len(gallery.people()[1]["recordings"]) == 2  # the refusal changed nothing
    fresh = recording(rng, "new.wav", ("audio",))
    gallery.enrol("bob", [fresh], replace=True)
    bob = gallery.people()[1]
    assert bob["recordings"] == [{"source": "new.wav", "subsets": ["only_audio"]}] and bob["subsets"] == ["only_audio"]
    np.testing.assert_allclose(gallery.enrolment("bob")["only_audio"],
                               reference_mean([fresh["embeddings"]["only_audio"]]), rtol=1e-6)
    gallery.remove("cy")
    assert [p["person"] for p in gallery.people()] == ["ann", "bob"]
    with pytest.raises(GalleryError, match=r"'cy' is not enrolled; enrolled: \['ann', 'bob'\]"):
        gallery.remove("cy")
    with pytest.raises(GalleryError, match="'zed' is not enrolled"):
        gallery.verify(np.ones(WIDTH), "complete", "zed")


def test_bad_input_is_refused(enrolled):
    gallery, rng, _ = enrolled
    with pytest.raises(GalleryError, match="enrol 'eve': recordings\\[0\\]: unknown sensor subset 'audio'"):
        gallery.enrol("eve", [{"source": "e.wav", "embeddings": {"audio": np.ones(WIDTH)}}])
    with pytest.raises(GalleryError, match=r"recordings\[1\]\['embeddings'\]\['only_audio'\]: embedding of width 3"):
        gallery.enrol("eve", [recording(rng, "e1.wav", ("audio",)),
                              {"source": "e2.wav", "embeddings": {"only_audio": np.ones(3)}}])
    assert "eve" not in [p["person"] for p in gallery.people()]
    with pytest.raises(GalleryError, match="embedding: NaN"):
        gallery.scores(np.full(WIDTH, np.nan), "complete")
    with pytest.raises(GalleryError, match="subset: unknown sensor subset 'audio'"):
        gallery.identify(np.ones(WIDTH), "audio")
    with pytest.raises(GalleryError, match="top_k"):
        gallery.identify(np.ones(WIDTH), "complete", top_k=0)
    with pytest.raises(GalleryError, match="calibration\\['only_audio'\\]: expected a dict with a 'threshold'"):
        Gallery.new(IDENTITY, "joint", {"only_audio": {"slope": 1.0, "offset": 0.0}}, MODALITIES)
    with pytest.raises(GalleryError, match="calibration\\['complete'\\]: 'slope' and 'offset' come together"):
        Gallery.new(IDENTITY, "joint", {"complete": {"threshold": 0.2, "slope": 1.0}}, MODALITIES)
    with pytest.raises(GalleryError, match="identify: nobody is enrolled"):
        Gallery.new(IDENTITY, "joint", {}, MODALITIES).identify(np.ones(WIDTH), "complete")


def saved_arrays(path):
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files}


def test_save_load_round_trip(enrolled, tmp_path):
    gallery, rng, _ = enrolled
    path = gallery.save(tmp_path / "people" / "gallery.npz")
    assert os.listdir(tmp_path / "people") == ["gallery.npz"]  # no partial file left
    loaded = Gallery.load(path, model_identity=dict(IDENTITY), embedding_width=WIDTH)
    assert loaded.people() == gallery.people() and loaded.calibration == gallery.calibration
    assert (loaded.model_identity, loaded.embedding_kind, loaded.modalities) == (IDENTITY, "joint", MODALITIES)
    for person in ("ann", "bob", "cy"):
        for subset, mean in gallery.enrolment(person).items():
            assert loaded.enrolment(person)[subset].tobytes() == mean.tobytes()
    again = loaded.save(tmp_path / "again.npz")
    first, second = saved_arrays(path), saved_arrays(again)
    assert first["embeddings"].shape == (2 * 7 + 3 + 1 + 3, WIDTH) and first["means"].dtype == np.float32
    for name in ("header", "embeddings", "means"):
        assert first[name].dtype == second[name].dtype and first[name].tobytes() == second[name].tobytes()
    probe = rng.normal(size=WIDTH)
    assert loaded.identify(probe, "complete") == gallery.identify(probe, "complete")
    header = json.loads(str(first["header"]))
    assert header["format"] == "avtfuse gallery" and header["version"] == 1 and header["embedding_width"] == WIDTH
    empty = Gallery.load(Gallery.new(IDENTITY, "joint", {}, ("audio",), WIDTH).save(tmp_path / "empty.npz"), None)
    assert empty.people() == [] and empty.subsets == {"complete": ("audio",)} and empty.embedding_width == WIDTH


def write_archive(path, header, **arrays):
    with open(path, "wb") as handle:
        np.savez(handle, header=np.array(json.dumps(header)), **arrays)
    return str(path)


def refused(path, reason):
    """A regular expression matching the whole one-line message naming `path`."""
    return f"^{re.escape(str(path))}: {reason}$"


def test_load_refusals_name_the_file(enrolled, tmp_path):
    gallery, _, _ = enrolled
    path = str(gallery.save(tmp_path / "gallery.npz"))
    with pytest.raises(GalleryError, match=refused(tmp_path / "absent.npz", "no such gallery file")):
        Gallery.load(tmp_path / "absent.npz", IDENTITY)
    text = tmp_path / "notes.npz"
    text.write_text("not an archive\n")
    with pytest.raises(GalleryError, match=refused(text, r"not a gallery file \(not a NumPy .npz archive\)")):
        Gallery.load(text, IDENTITY)
    other = tmp_path / "other.npz"
    np.savez(other, weights=np.ones(3))
    with pytest.raises(GalleryError,
                       match=refused(other, r"not a gallery file \(no header, embeddings, means array\)")):
        Gallery.load(other, IDENTITY)
    arrays = saved_arrays(path)
    header = json.loads(str(arrays["header"]))
    foreign = write_archive(tmp_path / "foreign.npz", {**header, "format": "something else"},
                            embeddings=arrays["embeddings"], means=arrays["means"])
    with pytest.raises(GalleryError, match=refused(foreign, r"not a gallery file \(no 'avtfuse gallery' header\)")):
        Gallery.load(foreign, IDENTITY)
    future = write_archive(tmp_path / "future.npz", {**header, "version": 2}, embeddings=arrays["embeddings"],
                           means=arrays["means"])
    with pytest.raises(GalleryError, match=refused(future, "gallery format version 2; this avtfuse reads version 1")):
        Gallery.load(future, IDENTITY)
    stranger = {**IDENTITY, "identity_sha256": "cd" * 32}
    with pytest.raises(GalleryError) as other_model:
        Gallery.load(path, stranger)
    message = str(other_model.value)
    assert message.startswith(f"{path}: gallery made for model ") and "\n" not in message
    assert json.dumps(IDENTITY, sort_keys=True) in message and json.dumps(stranger, sort_keys=True) in message
    with pytest.raises(GalleryError, match=refused(path, f"gallery embeddings of width {WIDTH}, this model's are 8")):
        Gallery.load(path, IDENTITY, embedding_width=8)
    cut = write_archive(tmp_path / "cut.npz", header, embeddings=arrays["embeddings"][:-1], means=arrays["means"])
    with pytest.raises(GalleryError,
                       match=refused(cut, r"the header lists more embeddings than the arrays hold \(at 'cy'\)")):
        Gallery.load(cut, IDENTITY)
    narrow = write_archive(tmp_path / "narrow.npz", header, embeddings=arrays["embeddings"],
                           means=arrays["means"][:, 1:])
    with pytest.raises(GalleryError, match=refused(narrow, r"not a consistent gallery: arrays of shapes .*, header "
                                                           f"width {WIDTH}")):
        Gallery.load(narrow, IDENTITY)
    nobody = write_archive(tmp_path / "nobody.npz", {**header, "people": [{**header["people"][0], "subsets": []}]},
                           embeddings=arrays["embeddings"], means=arrays["means"])
    with pytest.raises(GalleryError, match=refused(nobody, "'ann' is listed with no embedding")):
        Gallery.load(nobody, IDENTITY)
    assert Gallery.load(path, None).people() == gallery.people()  # None: identity not checked
