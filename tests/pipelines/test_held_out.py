"""People never trained on (--held-out-people): the choice of validation and test people, their enrolment and probe
recordings, the split without them, their verification samples and split.csv rows, and every refusal."""

import argparse
import itertools

import numpy as np
import pytest

from avtfuse.contract import MODALITIES, condition_name
from avtfuse.flags import add_flags, experiment_kwargs
from avtfuse.models import SYSTEMS
from avtfuse.runs import build_experiment
from pipelines import cache, held_out
from pipelines.dataset import DataConfig, prepare
from pipelines.manifest import write_manifest
from pipelines.recording import Recording
from pipelines.split_data import SPLIT_IDS
from pipelines.synthetic.speakingfaces import write_speakingfaces
from tests.pipelines.conftest import TINY

PEOPLE = [str(p) for p in range(1, 21)]


def one_line(error):
    assert "\n" not in str(error.value)
    return str(error.value)


@pytest.mark.parametrize("count, validation", [(4, 2), (5, 2), (7, 3), (10, 5)])
def test_a_count_draws_people_by_the_seed(count, validation):
    people = [p for p in PEOPLE for _ in range(3)][::-1]  # repeats, any order
    chosen = {seed: held_out.choose_people(people, count, seed) for seed in range(6)}
    for seed, (valid, test) in chosen.items():
        assert (valid, test) == held_out.choose_people(people, count, seed)  # deterministic
        assert len(valid) == validation and len(test) == count - validation
        everyone = sorted(set(PEOPLE), key=int)
        drawn = [everyone[i] for i in np.random.default_rng(seed).permutation(len(everyone))[:count]]
        assert valid + test == sorted(drawn, key=int)  # natural order: the first ones validate
    assert len({tuple(v + t) for v, t in chosen.values()}) > 1  # another seed, other people


def test_a_list_holds_out_those_people():
    valid, test = held_out.choose_people(PEOPLE, ("10", "2", "7", "3", "19"), seed=3)
    assert valid == ["2", "3"] and test == ["7", "10", "19"]


def test_the_flag_reads_a_count_or_a_list_and_joins_the_identity():
    parser = argparse.ArgumentParser()
    add_flags(parser, SYSTEMS["avtnet"])
    read = [experiment_kwargs(parser.parse_args(argv), SYSTEMS["avtnet"])["data"] for argv in (
        [], ["--held-out-people", "16"], ["--held-out-people", "3,7,11,b", "--enrol-per-person", "2"])]
    assert read[0]["held_out_people"] == 0 and read[0]["enrol_per_person"] == 3
    assert read[1]["held_out_people"] == 16
    assert read[2]["held_out_people"] == ("3", "7", "11", "b") and read[2]["enrol_per_person"] == 2
    identities = [build_experiment("avtnet", data=data).identity() for data in read]
    assert identities[0] != identities[1] != identities[2]
    listed = DataConfig(held_out_people=["3", "7", "11", "b"])
    assert DataConfig.from_dict(listed.to_dict()) == listed and listed.held_out_people == ("3", "7", "11", "b")


@pytest.mark.parametrize("settings, message", [
    ({"held_out_people": 3}, "--held-out-people: expected at least 4 people (2 validation and 2 test people), got 3"),
    ({"held_out_people": ("1", "2", "3")}, "--held-out-people: expected at least 4 people"),
    ({"held_out_people": ("1", "2", "2", "3")}, "--held-out-people: expected distinct, non-empty person ids"),
    ({"held_out_people": -1}, "--held-out-people: expected a count or a list of person ids, got -1"),
    ({"held_out_people": 4, "protocol": "folds", "label": "emotion"},
     "--held-out-people: the class must be the person; --protocol folds"),
    ({"held_out_people": 4, "label": "emotion"},
     "--held-out-people: the class must be the person (--label actor), got --label emotion"),
    ({"held_out_people": 4, "enrol_per_person": 0}, "--enrol-per-person: expected an integer >= 1, got 0"),
])
def test_settings_are_refused_in_one_line(settings, message):
    with pytest.raises(ValueError) as error:
        DataConfig(**settings)
    assert one_line(error).startswith(message)


def test_the_data_must_hold_the_listed_people_and_two_trained_ones():
    with pytest.raises(ValueError) as error:
        held_out.choose_people(PEOPLE, ("3", "x", "7", "y"), seed=0)
    assert one_line(error).startswith("--held-out-people: 'x', 'y' are not a person of the data")
    with pytest.raises(ValueError) as error:
        held_out.choose_people(PEOPLE[:5], 4, seed=0)
    assert one_line(error) == "--held-out-people: holding out 4 of the data's 5 people leaves 1 to train; at least 2 " \
                              "must train"
    with pytest.raises(ValueError) as error:
        held_out.check_class_is_person(["happy", "happy", "sad"], ["1", "2", "1"])
    assert one_line(error).startswith("--held-out-people: the class must be the person, but class 'happy' holds "
                                      "recordings of 2 subjects")
    held_out.check_class_is_person(["1", "1", "2"], ["01", "01", None])  # one subject per class


def groups_of(sizes):
    """(people, groups) [N] of people with recording groups of the given sizes ({person: [size per group]})."""
    people, groups = [], []
    for person, own in sizes.items():
        for g, size in enumerate(own):
            people += [person] * size
            groups += [f"{person}-g{g}"] * size
    return people, groups


def test_enrolment_takes_whole_groups_until_k_recordings():
    sizes = {"a": [1, 1, 2, 3, 1], "b": [4, 1, 1, 1], "c": [2, 2, 2, 2, 2, 2], "t": [5, 5]}
    people, groups = groups_of(sizes)
    held = np.array([0 if p == "t" else 1 for p in people], np.int8)
    for seed, k in itertools.product(range(5), (1, 3)):
        enrolled = held_out.enrolment(people, groups, held, seed, k)
        assert np.array_equal(enrolled, held_out.enrolment(people, groups, held, seed, k))
        people_a, groups_a = np.array(people), np.array(groups)
        assert not enrolled[people_a == "t"].any()  # trained people enrol nothing
        for person in ("a", "b", "c"):
            own = people_a == person
            enrol_groups = set(groups_a[own & enrolled])
            probe_groups = set(groups_a[own & ~enrolled])
            assert enrol_groups and probe_groups and not enrol_groups & probe_groups
            assert enrolled[own].sum() >= k
            # no group more than needed: without the last group drawn it would hold fewer than k
            assert min(enrolled[own].sum() - (groups_a[own] == g).sum() for g in enrol_groups) < k


def test_too_few_groups_names_every_such_person():
    people, groups = groups_of({"a": [3, 3, 3], "b": [1, 1], "c": [1, 1, 1, 1], "t": [1]})
    held = np.array([0 if p == "t" else 2 for p in people], np.int8)
    with pytest.raises(ValueError) as error:
        held_out.enrolment(people, groups, held, 0, 3)
    assert one_line(error) == ("--held-out-people: each held-out person needs 4 recording groups (--enrol-per-person "
                               "3 to enrol, one to probe); recording groups of 'a' (3), 'b' (2)")


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    """8 people x 4 recording groups (trial, position) x 2 commands; every third recording without thermal."""
    root = tmp_path_factory.mktemp("held-out")
    written = write_speakingfaces(root / "sf", subjects=range(1, 9), trials=(1, 2), positions=(1, 2),
                                  commands=(1, 2), image_size=16, audio_seconds=0.5, frames_per_recording=1)
    recordings = [Recording(f"{r.subject}_{r.trial}_{r.position}_{r.command}", str(r.subject), r.audio, r.visible[0],
                            None if index % 3 == 0 else r.thermal[0], group=f"{r.subject}_{r.trial}_{r.position}")
                  for index, r in enumerate(written)]
    return str(write_manifest(recordings, root / "manifest.csv")), str(root / "cache")


def held_out_data(manifest, **settings):
    source, cache_dir = manifest
    return prepare(DataConfig(source=source, features=TINY, cache_dir=cache_dir, **settings))


@pytest.mark.parametrize("protocol", ["paper", "strict"])
def test_held_out_people_are_no_class_and_on_no_side(manifest, protocol):
    data = held_out_data(manifest, protocol=protocol, held_out_people=4, seed=1)
    valid, test = data.held_out_people("valid"), data.held_out_people("test")
    assert (valid, test) == held_out.choose_people([str(p) for p in range(1, 9)], 4, 1)
    assert len(valid) == len(test) == 2
    persons = np.array(data.persons)
    held = np.isin(persons, valid + test)
    assert data.class_names == sorted(set(persons[~held]), key=int) and len(data.class_names) == 4
    assert (data.labels[held] == -1).all() and (data.labels[~held] >= 0).all()
    assert (data.assignment[held] == -1).all() and (data.assignment[~held] >= 0).any(axis=1).all()
    assert np.array_equal(data.held_out, np.where(np.isin(persons, valid), 1, np.where(held, 2, 0)))
    assert not data.enrolment[~held].any()
    assert data.held_out_counts() == {"validation_people": 2, "test_people": 2,
                                      "enrolment_recordings": int(data.enrolment.sum()),
                                      "probe_recordings": int((held & ~data.enrolment).sum())}
    assert "held out: 2 validation and 2 test people" in data.summary()
    for split in ("train", "valid", "test"):
        ids = {inputs["recording"].decode() for inputs, _ in data.samples(split).as_numpy_iterator()}
        assert ids and not ids & set(np.array(data.recordings)[held])
    for modality in data.modalities:  # a specialist's view: no class, no side either
        view = data.for_modality(modality)
        assert (view.labels[held] == -1).all() and set(view.class_names) <= set(data.class_names)
        assert (view.assignment[held] == -1).all()
    for person in valid + test:  # K recordings enrol, whole groups, never a probe's group
        own = persons == person
        groups = np.array(data.groups)
        assert data.enrolment[own].sum() >= 3
        assert not set(groups[own & data.enrolment]) & set(groups[own & ~data.enrolment])
    assert held_out_data(manifest, protocol=protocol).held_out_counts() is None


def test_verification_samples_hold_each_subset_a_recording_can_show(manifest):
    data = held_out_data(manifest, protocol="strict", held_out_people=("2", "3", "5", "8"))
    assert data.held_out_people("valid") == ["2", "3"] and data.held_out_people("test") == ["5", "8"]
    thermal = data.modalities.index("thermal")
    lacking = 0
    for kind in ("valid", "test"):
        samples = data.verification_samples(kind)
        n = len(samples["rows"])
        assert n and all(len(values) == n for values in samples.values())
        assert samples["rows"].dtype == samples["columns"].dtype == np.int64 and samples["enrolment"].dtype == bool
        people = data.held_out_people(kind)
        expected = np.flatnonzero(np.isin(data.persons, people))
        assert np.array_equal(np.unique(samples["rows"]), expected)
        for row in expected:
            chosen = samples["rows"] == row
            recorded = [m for m, bit in zip(data.modalities, data.recorded[row]) if bit]
            subsets = {condition_name([m in kept for m in data.modalities], data.modalities)
                       for size in range(1, len(recorded) + 1) for kept in itertools.combinations(recorded, size)}
            assert sorted(samples["held"][chosen]) == sorted(subsets)  # each once
            assert set(samples["recordings"][chosen]) == {data.recordings[row]}
            assert set(samples["persons"][chosen]) == {data.persons[row]}
            assert set(samples["enrolment"][chosen]) == {bool(data.enrolment[row])}
            held = data.held()[row, samples["columns"][chosen]]
            assert [condition_name(bits, data.modalities) for bits in held] == list(samples["held"][chosen])
            if not data.recorded[row, thermal]:
                lacking += 1
                assert not held[:, thermal].any() and "complete" not in samples["held"][chosen]
    assert lacking
    with pytest.raises(ValueError, match="kind: expected one of"):
        data.verification_samples("train")


def test_trained_samples_are_the_validation_recordings_of_the_trained_people_half_enrolling(manifest):
    data = held_out_data(manifest, protocol="strict", held_out_people=4)
    samples = data.verification_samples("trained")
    expected = np.flatnonzero((data.assignment == SPLIT_IDS["valid"]).any(axis=1) & (data.held_out == 0))
    assert len(expected) and np.array_equal(np.unique(samples["rows"]), expected)
    for person in sorted(set(samples["persons"])):
        rows = [row for row in expected if data.persons[row] == person]  # cache order
        enrolling = {row for row, e in zip(samples["rows"], samples["enrolment"]) if e and data.persons[row] == person}
        assert enrolling == set(rows[:max(1, len(rows) // 2)])
    assert set(samples["persons"]) <= set(data.class_names)


@pytest.mark.parametrize("fill", ["zeros", "noise"])
def test_verification_batches_follow_the_samples(manifest, fill):
    data = held_out_data(manifest, protocol="strict", held_out_people=4, missing_fill=fill)
    samples = data.verification_samples("test")
    batches = list(data.verification_batches("test", 5).as_numpy_iterator())
    assert all(isinstance(batch, dict) for batch in batches)
    inputs = {key: np.concatenate([batch[key] for batch in batches]) for key in batches[0]}
    assert [r.decode() for r in inputs["recording"]] == list(samples["recordings"])
    assert np.array_equal(inputs["present"], data.held()[samples["rows"], samples["columns"]])
    stored = {int(example["index"]): example for example in cache.read_cache(data.cache_path).as_numpy_iterator()}
    for i, (row, present) in enumerate(zip(samples["rows"], inputs["present"])):
        for column, modality in enumerate(data.modalities):
            if present[column]:
                assert np.array_equal(inputs[modality][i], stored[row][modality])
            elif fill == "zeros":
                assert not inputs[modality][i].any()
            else:
                assert inputs[modality][i].std() > 0.5  # N(0, 1) noise


def test_split_rows_give_held_out_people_their_roles(manifest):
    data = held_out_data(manifest, protocol="paper", held_out_people=5, enrol_per_person=2)
    rows = data.split_rows()
    assert {row["people"] for row in rows} == {"trained", "validation", "test"}
    trained = [row for row in rows if row["people"] == "trained"]
    assert len(trained) == int((data.assignment >= 0).sum())
    assert {row["role"] for row in trained} == {"train", "valid", "test"}
    assert {row["person"] for row in trained} == set(data.class_names)
    for kind, people in (("valid", "validation"), ("test", "test")):
        samples = data.verification_samples(kind)
        own = [row for row in rows if row["people"] == people]
        assert [row["recording"] for row in own] == list(samples["recordings"])
        assert [row["role"] for row in own] == ["enrol" if e else "probe" for e in samples["enrolment"]]
        assert {row["person"] for row in own} == set(data.held_out_people(kind))
        assert all(row["kept"] == "+".join(m for m in MODALITIES if m in row["kept"].split("+")) for row in own)


def test_the_data_refuses_unknown_people_and_too_few_groups(manifest):
    with pytest.raises(ValueError) as error:
        held_out_data(manifest, held_out_people=("1", "2", "3", "9", "10"))
    assert one_line(error).startswith("--held-out-people: '9', '10' are not a person of the data (its people: '1'")
    with pytest.raises(ValueError) as error:
        held_out_data(manifest, held_out_people=7)
    assert "leaves 1 to train" in one_line(error)
    with pytest.raises(ValueError) as error:  # 4 groups of 2 recordings: K = 7 needs 8 groups
        held_out_data(manifest, held_out_people=("1", "2", "3", "4"), enrol_per_person=7)
    assert one_line(error).endswith("recording groups of '1' (4), '2' (4), '3' (4), '4' (4)")
