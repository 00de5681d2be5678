"""python -m experiments.recognize on the registry's "avtnet" run: its held-out test people enrolled from their
enrolment recordings' files through a manifest, their probes identified and verified, the scores against a NumPy
reference over the Recognizer's embeddings, and every refusal one line with exit status 1."""

import csv
import json

import numpy as np
import pytest

from avtfuse.recognition.recognizer import Recognizer
from experiments import recognize


def call(capsys, *args):
    """(exit status, JSON records on stdout, error lines on stderr) of one command."""
    with pytest.raises(SystemExit) as exit_status:
        recognize.main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return exit_status.value.code, [json.loads(line) for line in out.splitlines() if line.strip()], \
        [line for line in err.splitlines() if line.strip()]


def write_manifest(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["person", "recording", "audio", "visible", "thermal"])
        writer.writerows([[person, recording, files.get("audio", ""), files.get("visible", ""),
                           files.get("thermal", "")] for person, recording, files in rows])
    return path


@pytest.fixture(scope="module")
def people(registry):
    """(the run, {role: [(person, recording, files)]} of its held-out test people's recordings)."""
    run = registry.run("avtnet")
    data = run.data()
    test_people = data.held_out_people("test")
    roles = {"enrol": [], "probe": []}
    for row, person in enumerate(data.persons):
        if person in test_people:
            roles["enrol" if data.enrolment[row] else "probe"].append((person, data.recordings[row], data.files[row]))
    return run, roles


def test_enrol_identify_and_verify_score_as_the_gallery_reference(people, capsys, tmp_path):
    run, roles = people
    gallery = tmp_path / "people.npz"
    status, records, errors = call(capsys, "enrol", "--model", run.saved_model, "--gallery", gallery, "--manifest",
                                   write_manifest(tmp_path / "enrol.csv", roles["enrol"]))
    assert status == 0 and not errors
    enrolled = sorted({person for person, _, _ in roles["enrol"]})
    assert sorted(record["enrolled"] for record in records) == enrolled
    assert all("complete" in record["subsets"] and "only_audio" in record["subsets"] for record in records)
    status, listed, _ = call(capsys, "list", "--model", run.saved_model, "--gallery", gallery)
    assert status == 0 and [entry["person"] for entry in listed] == enrolled

    recognizer = Recognizer(run.saved_model)
    means = {}  # {person: {subset: [unit embeddings]}}
    for person, _, files in roles["enrol"]:
        for subset, vector in recognizer.embed(recognizer.decode(files))["embeddings"].items():
            means.setdefault(person, {}).setdefault(subset, []).append(vector / np.linalg.norm(vector))
    status, answers, errors = call(capsys, "identify", "--model", run.saved_model, "--gallery", gallery,
                                   "--manifest", write_manifest(tmp_path / "probes.csv", roles["probe"][:6]))
    assert status == 0 and not errors and len(answers) == 6
    for answer, (person, recording, files) in zip(answers, roles["probe"]):
        assert answer["recording"] == recording and answer["listed_person"] == person
        probe = recognizer.embed(recognizer.decode(files))["embeddings"][answer["probe_subset"]]
        reference = {}  # cosine of the probe and the mean of the person's unit enrolment embeddings
        for who, vectors in means.items():
            mean = np.mean(vectors[answer["probe_subset"]], axis=0)
            reference[who] = float(mean @ probe / np.linalg.norm(mean) / np.linalg.norm(probe))
        top = answer["candidates"][0]
        assert top["person"] == max(reference, key=reference.get)
        assert top["score"] == pytest.approx(reference[top["person"]], abs=1e-5)
        assert answer["threshold_from"] == "calibration" and answer["threshold"] == pytest.approx(
            recognizer.calibration[answer["probe_subset"]]["threshold"])
        assert answer["unknown"] == (top["score"] < answer["threshold"])
    person, recording, files = roles["probe"][0]
    status, [verdict], _ = call(capsys, "verify", "--model", run.saved_model, "--gallery", gallery, "--person", person,
                                "--audio", files["audio"], "--threshold", "-1")
    assert status == 0 and verdict["probe_subset"] == "only_audio" and verdict["accepted"] is True
    assert verdict["threshold_from"] == "override" and verdict["enrolment_subset"] == "only_audio"


def test_bad_files_and_a_gallery_refusal_are_one_line_each(people, registry, capsys, tmp_path):
    run, roles = people
    other = registry.run("avtnet-specialists").saved_model  # audio + thermal: another model
    capsys.readouterr()
    gallery = tmp_path / "people.npz"
    person, recording, files = roles["enrol"][0]
    truncated = tmp_path / "short.wav"
    truncated.write_bytes(open(files["audio"], "rb").read()[:60])
    rows = [(person, recording, files), (person, "gone", dict(files, visible=str(tmp_path / "gone.png"))),
            (person, "short", dict(files, audio=str(truncated)))]
    status, records, errors = call(capsys, "enrol", "--model", run.saved_model, "--gallery", gallery, "--manifest",
                                   write_manifest(tmp_path / "enrol.csv", rows))
    assert status == 1 and not records and not gallery.exists()  # a person with a bad recording is not enrolled
    assert any("gone.png" in line for line in errors) and any("short.wav" in line for line in errors)
    assert not any("Traceback" in line for line in errors)
    status, _, _ = call(capsys, "enrol", "--model", run.saved_model, "--gallery", gallery, "--person", person,
                        "--audio", files["audio"])
    assert status == 0
    status, _, errors = call(capsys, "enrol", "--model", run.saved_model, "--gallery", gallery, "--person", person,
                             "--audio", files["audio"])
    assert status == 1 and len(errors) == 1 and "already enrolled" in errors[0]
    assert call(capsys, "enrol", "--model", run.saved_model, "--gallery", gallery, "--person", person, "--audio",
                files["audio"], "--replace")[0] == 0
    status, _, errors = call(capsys, "identify", "--model", other, "--gallery", gallery, "--audio", files["audio"])
    assert status == 1 and len(errors) == 1 and str(gallery) in errors[0]
    assert call(capsys, "remove", "--model", run.saved_model, "--gallery", gallery, "--person", person)[0] == 0
    assert call(capsys, "list", "--model", run.saved_model, "--gallery", gallery)[1] == []
