"""The verification stage of a run with held-out people (the registry's "avtnet" run holds people 5-8 out): the
verification section, the 7 x 7 table, the trials CSV, the DET figure, the validation people's EER per epoch, and a
given trial list read by a rerun that re-runs the evaluation stages alone."""

import csv
import json
import shutil

import tensorflow as tf

from experiments import avtnet


def test_the_run_reports_people_it_never_trained_on(registry):
    run = registry.run("avtnet")
    section = run.results()["verification"]
    assert section["validation_people"] == ["5", "6"] and section["test_people"] == ["7", "8"]
    assert len(section["subsets"]) == 7 and len(section["pairs"]) == 49
    complete = section["pairs"]["complete|complete"]
    # 2 test people, 20 probes each (5 of their 6 recording groups), against both enrolled people
    assert (complete["target_trials"], complete["non_target_trials"]) == (40, 40)
    assert complete["eer"] < 0.4, complete  # people never trained on, told apart well above chance (0.5)
    assert section["as_norm_top_k"] == 2 and 0.0 <= complete["as_norm"]["eer"] <= 0.5  # against the 4 trained people
    assert complete["as_norm"]["target_trials"] == 40
    assert section["score_fusion"]["only_audio|only_thermal"] is None
    assert list(section["individual"]) == ["audio", "visible", "thermal"]  # AVTNet prop's individual embeddings
    assert list(section["individual"]["thermal"]) == ["complete", "missing_visible", "missing_audio", "only_thermal"]
    with open(run.run_dir / "evaluation" / "verification_trials.csv") as handle:
        rows = list(csv.DictReader(handle))
    scored = [row for row in rows if row["scored_by"] == "joint"]
    assert len(scored) == sum(v["target_trials"] + v["non_target_trials"] for v in section["pairs"].values() if v)
    assert {row["probe_person"] for row in rows} == {"7", "8"}
    assert (run.run_dir / "verification_det.png").stat().st_size > 10_000
    assert "## Verification: people the model never trained on" in (run.run_dir / "results.md").read_text()
    with open(run.run_dir / "split.csv") as handle:
        roles = {(row["person"], row["role"], row["people"]) for row in csv.DictReader(handle)}
    assert ("5", "enrol", "validation") in roles and ("8", "probe", "test") in roles
    assert not any(role in ("train", "valid", "test") for person, role, _ in roles if person in "5678")


def test_the_validation_people_eer_is_logged_every_epoch(registry):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(registry.run("avtnet").run_dir / "tensorboard" / "embeddings" / "validation"))
    events.Reload()
    values = [float(tf.make_ndarray(event.tensor_proto)) for event in events.Tensors("epoch_people_eer")]
    assert len(values) == 3 and all(0.0 <= value <= 0.5 for value in values), values


def test_a_given_trial_list_is_scored_by_rerunning_the_evaluation_alone(registry, tmp_path):
    run = registry.run("avtnet")
    copy = tmp_path / "runs" / run.run_dir.name
    shutil.copytree(run.run_dir, copy)
    with open(copy / "split.csv") as handle:
        probes = sorted({(row["person"], row["recording"]) for row in csv.DictReader(handle) if row["role"] == "probe"
                         and row["people"] == "test"})
    trials = tmp_path / "trials.txt"
    listed = [(a, b) for a in probes[:3] for b in probes[-3:]] + [(probes[0], probes[1])]
    trials.write_text("".join(f"{int(a[0] == b[0])} {a[1]} {b[1]}\n" for a, b in listed))
    flags = list(run.flags)
    flags[flags.index("--output-dir") + 1] = str(tmp_path / "runs")
    avtnet.main([*flags, "--trials", str(trials)])
    section = json.loads((copy / "results.json").read_text())["verification"]
    assert section["trial_list"]["trials"] == len(listed)
    assert section["trial_list"]["measures"]["target_trials"] == sum(a[0] == b[0] for a, b in listed)
    stages = {path.stem: json.loads(path.read_text()) for path in (copy / "stages").iterdir()}
    assert stages["fused"] == json.loads((run.run_dir / "stages" / "fused.json").read_text())  # not retrained
