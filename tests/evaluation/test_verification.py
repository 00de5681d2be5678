"""The verification scoring (avtfuse.evaluation.verification) on fake held-out people: each score against a NumPy
loop, score fusion, AS-norm, the 7 x 7 tables, the validation people's thresholds read on the test people, open-set
identification, a user's trial list, and the markdown."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from avtfuse.evaluation import verification
from avtfuse.evaluation.config import VerificationConfig
from avtfuse.evaluation.verification_report import verification_markdown
from avtfuse.models.avtnet import AVTNet, AVTNetConfig

MODALITIES = ("audio", "visible", "thermal")
SUBSETS = verification.subsets(MODALITIES)


def people_samples(people, recordings_per_person=5, enrolment=2, spread=0.3, seed=0, lacking=None):
    """Embedded samples of `people`: each recording one sample per subset of the sensors it has (`lacking`:
    {recording id: a sensor it lacks}); the vector of a subset is the person's centre for each sensor held,
    summed, plus noise."""
    rng = np.random.default_rng(seed)
    centres = {(person, m): rng.normal(size=8) for person in people for m in MODALITIES}
    rows = []
    for person in people:
        for take in range(recordings_per_person):
            recording = f"{person}-r{take}"
            missing = (lacking or {}).get(recording)
            for name, held in SUBSETS.items():
                if missing in held:
                    continue
                vector = sum(centres[person, m] for m in held) + spread * rng.normal(size=8)
                rows.append((person, take < enrolment, name, recording, vector))
    persons, enrol, held, recordings, vectors = zip(*rows)
    samples = {"persons": np.array(persons), "enrolment": np.array(enrol), "held": np.array(held),
               "recordings": np.array(recordings)}
    return verification.Embedded.of(samples, {"joint": np.array(vectors, np.float32),
                                              "audio": np.array(vectors, np.float32)[:, ::-1].copy()})


def unit(vector):
    return vector / np.linalg.norm(vector)


def test_pair_scores_are_cosines_to_the_mean_of_normalised_enrolment_embeddings():
    embedded = people_samples(["10", "2", "1"])
    trials = verification.pair_trials(embedded, "joint", "complete", "only_audio")
    assert trials.enrolled == ["1", "2", "10"]  # natural order
    for i, row in enumerate(trials.probe_rows):
        assert embedded.held[row] == "only_audio" and not embedded.enrolment[row]
        for j, person in enumerate(trials.enrolled):
            enrolled = [unit(embedded.vectors["joint"][k]) for k in range(len(embedded.persons))
                        if embedded.persons[k] == person and embedded.enrolment[k] and embedded.held[k] == "complete"]
            expected = unit(np.mean(enrolled, axis=0)) @ unit(embedded.vectors["joint"][row])
            assert trials.scores[i, j] == pytest.approx(expected, abs=1e-5)
            assert trials.targets[i, j] == (embedded.persons[row] == person)
    # 3 probes per person, each against 3 people
    assert trials.scores.shape == (9, 3) and trials.targets.sum() == 9


def test_score_fusion_averages_the_single_sensor_scores_of_the_shared_sensors():
    embedded = people_samples(["a", "b", "c"], seed=1)
    trials = verification.fused_trials(embedded, "joint", "complete", "missing_visible", SUBSETS)
    vectors, persons = embedded.vectors["joint"], embedded.persons

    def single(recording, sensor, enrolment):
        name = f"only_{sensor}"
        return [unit(vectors[k]) for k in range(len(persons)) if embedded.recordings[k] == recording
                and embedded.held[k] == name and embedded.enrolment[k] == enrolment]

    for i, row in enumerate(trials.probe_rows):
        for j, person in enumerate(trials.enrolled):
            scores = []
            for sensor in ("audio", "thermal"):  # the sensors complete and missing_visible share
                model = np.mean([v for r in sorted(set(embedded.recordings[persons == person]))
                                 for v in single(r, sensor, True)], axis=0)
                scores.append(unit(model) @ single(embedded.recordings[row], sensor, False)[0])
            assert trials.scores[i, j] == pytest.approx(np.mean(scores), abs=1e-5)
    assert verification.fused_trials(embedded, "joint", "only_audio", "only_visible", SUBSETS) is None


def test_as_norm_against_a_numpy_loop():
    embedded = people_samples(["a", "b", "c"], seed=2)
    cohort = np.random.default_rng(3).normal(size=(6, 8))
    trials = verification.pair_trials(embedded, "joint", "complete", "complete")
    normed = verification.as_normed(trials, embedded, "joint", "complete", cohort, top_k=4)
    cohort_unit = np.array([unit(c) for c in cohort])
    _, models = verification.enrol(embedded, "joint", "complete")
    for i, row in enumerate(trials.probe_rows):
        probe_top = np.sort(cohort_unit @ unit(embedded.vectors["joint"][row]))[-4:]
        for j in range(len(trials.enrolled)):
            model_top = np.sort(cohort_unit @ unit(models[j]))[-4:]
            score = trials.scores[i, j]
            expected = 0.5 * ((score - model_top.mean()) / model_top.std() + (score - probe_top.mean()) / probe_top.std())
            assert normed.scores[i, j] == pytest.approx(expected, rel=1e-4, abs=1e-5)


def test_verify_gives_every_pair_the_thresholds_of_the_validation_people_and_open_set_identification():
    valid = people_samples(["v1", "v2", "v3"], seed=4)
    test = people_samples(["t1", "t2", "t3", "t4"], seed=5, lacking={"t1-r4": "thermal"})
    outputs, rows, curves = verification.verify(valid, test, MODALITIES, VerificationConfig(as_norm_top_k=3),
                                                cohort=np.random.default_rng(6).normal(size=(5, 8)))
    assert len(outputs["pairs"]) == 49 and outputs["subsets"][0] == "complete"
    complete = outputs["pairs"]["complete|complete"]
    # 4 people x 3 probes against 4 people; t1's probe without thermal is no complete probe
    assert (complete["target_trials"], complete["non_target_trials"]) == (11, 33)
    assert complete["eer"] == 0.0 and complete["as_norm"]["eer"] == 0.0  # well-separated people
    shared_none = [key for key, value in outputs["score_fusion"].items() if value is None]
    assert "only_audio|only_visible" in shared_none and "complete|only_audio" not in shared_none
    # the audio embedding's subsets: those holding audio
    assert list(outputs["individual"]) == ["audio"] and len(outputs["individual"]["audio"]) == 4
    assert "only_visible" not in outputs["individual"]["audio"]
    assert set(outputs["calibration"]) == set(SUBSETS)
    calibrated = outputs["calibration"]["only_thermal"]
    assert 0.0 <= calibrated["test_far"] <= 1.0 and calibrated["cllr"] is not None
    # the threshold of the validation people enrolled with the probe's own sensors, as a gallery scores
    scores, targets = verification.pair_trials(valid, "joint", "only_thermal", "only_thermal").flat()
    assert calibrated["threshold"] == verification.measures.threshold_at_far(scores, targets, 0.01)
    assert calibrated["validation_trials"] == len(targets)
    assert outputs["open_set"]["enrolled_people"] == ["t1", "t2"]
    assert outputs["open_set"]["unknown_people"] == ["t3", "t4"]
    identified = outputs["open_set"]["complete"]
    assert identified["rank1"] == 1.0 and identified["unknown_probes"] == 6
    # every test trial of both scorers in the CSV rows; DET curves of complete, score fusion and each sensor
    assert sum(1 for row in rows if row[0] == "joint") == sum(
        (value["target_trials"] + value["non_target_trials"]) for value in outputs["pairs"].values() if value)
    assert set(curves) == {"joint complete", "score fusion complete", "joint only_audio", "joint only_visible",
                           "joint only_thermal"}
    markdown = verification_markdown(outputs)
    assert "| complete | 0.00 |" in markdown and "only_audio | —" not in markdown.split("score fusion")[0]
    assert markdown.count("\n| complete |") >= 3


def test_a_user_trial_list_is_scored_and_its_bad_lines_named(tmp_path):
    embedded = people_samples(["a", "b"], seed=7)
    listed = tmp_path / "trials.txt"
    pairs = list(itertools.combinations(sorted(set(embedded.recordings)), 2))
    listed.write_text("".join(f"{int(e.split('-')[0] == p.split('-')[0])} {e} {p}\n" for e, p in pairs) + "\n")
    result = verification.listed_trials(str(listed), embedded, "joint", SUBSETS)
    assert result["trials"] == len(pairs) and result["measures"]["eer"] == 0.0
    assert result["measures"]["target_trials"] == 20
    listed.write_text("1 a-r0 a-r1\n2 a-r0 b-r1\n")
    with pytest.raises(ValueError, match=r"trials.txt:2: expected 'label enrolment probe'"):
        verification.listed_trials(str(listed), embedded, "joint", SUBSETS)
    listed.write_text("1 a-r0 nobody\n")
    with pytest.raises(ValueError, match="1 recordings are no held-out person's: nobody"):
        verification.listed_trials(str(listed), embedded, "joint", SUBSETS)


def test_score_fusion_reads_the_specialists_single_sensor_embeddings_when_given():
    embedded = people_samples(["a", "b", "c"], seed=1)
    specialists = people_samples(["a", "b", "c"], seed=8)  # the same recordings, other embeddings
    singles = {}
    for sensor in MODALITIES:
        alone = specialists.held == f"only_{sensor}"
        singles[sensor] = verification.Embedded(
            specialists.persons[alone], specialists.enrolment[alone], specialists.held[alone],
            specialists.recordings[alone], {"own": specialists.vectors["joint"][alone]})
    mixed = np.char.startswith(embedded.held, "only_")
    hybrid = verification.Embedded(embedded.persons, embedded.enrolment, embedded.held, embedded.recordings,
                                   {"joint": np.where(mixed[:, None], specialists.vectors["joint"],
                                                      embedded.vectors["joint"])})
    given = verification.fused_trials(embedded, "joint", "complete", "missing_audio", SUBSETS, singles)
    expected = verification.fused_trials(hybrid, "joint", "complete", "missing_audio", SUBSETS)
    assert np.allclose(given.scores, expected.scores, atol=1e-6)
    assert not np.allclose(given.scores, verification.fused_trials(
        embedded, "joint", "complete", "missing_audio", SUBSETS).scores, atol=1e-3)


def test_embed_traces_the_backbone_once_and_gives_its_eager_embeddings_in_order():
    """The traced embedder (one per backbone) against the backbone called eagerly, over batches of two sizes."""
    backbone = AVTNet(AVTNetConfig(modalities=("audio", "thermal"), audio_shape=(16, 8), image_size=(16, 16),
                                   thermal_channels=1, image_filters=8, token_dim=16, hidden_dim=32, ff_dim=32,
                                   embedding_dim=16))
    rng = np.random.default_rng(1)
    batches = [{"audio": rng.normal(size=(n, 16, 8)).astype(np.float32),
                "thermal": rng.random((n, 16, 16, 1)).astype(np.float32),
                "present": np.ones((n, 2), np.float32), "recording": np.array([f"r{i}" for i in range(n)])}
               for n in (4, 3)]
    vectors = verification.embed(backbone, (tf.nest.map_structure(tf.constant, batch) for batch in batches))
    eager = [backbone.embeddings(backbone(batch, training=False)) for batch in batches]
    assert list(vectors) == list(eager[0])  # the first name is the one the tables score
    for name, value in vectors.items():
        np.testing.assert_allclose(value, np.concatenate([np.asarray(e[name]) for e in eager]), rtol=1e-5,
                                   atol=1e-6)
    assert verification.embedder(backbone) is verification.embedder(backbone)
