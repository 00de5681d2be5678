import logging

import numpy as np
import pytest

from avtfuse.contract import PROTOCOLS, SPLITS
from pipelines.splits import (FOLDS, PAPER_TEST_FRACTION, TEST, TRAIN, VALID, SplitError, check_files_on_one_side,
                              describe, join_shared_files, split_samples)


def ablated_samples(groups_per_person, copies=4):
    """Per-sample group keys and person ids: `copies` samples per group."""
    groups, people = [], []
    for person, count in enumerate(groups_per_person):
        for index in range(count):
            groups += [f"p{person}-g{index}"] * copies
            people += [str(person)] * copies
    return np.array(groups), np.array(people)


def sides_of_groups(split_ids, groups):
    """Maps each group key to the set of split ids its samples have."""
    return {g: set(split_ids[groups == g].tolist()) for g in np.unique(groups)}


def expected_strict_counts(g, test_fraction, validation_fraction):
    """The documented per-person (test, valid) group counts, computed the plain way."""
    n_test = min(max(round(g * test_fraction), 1), g - 1)
    n_valid = 0
    if validation_fraction > 0 and g - n_test - 1 >= 1:
        n_valid = min(max(round(g * validation_fraction), 1), g - n_test - 1)
    return n_test, n_valid


def test_split_ids_are_the_contract_indices():
    """TRAIN, TEST, VALID are the positions of the names in SPLITS."""
    assert (SPLITS[TRAIN], SPLITS[TEST], SPLITS[VALID]) == ("train", "test", "valid")
    assert (TRAIN, TEST, VALID) == (0, 1, 2)
    assert issubclass(SplitError, ValueError)


def test_paper_fraction_matches_the_paper_counts():
    """The default test fraction reproduces 11,164 / 2,729."""
    assert round(13893 * PAPER_TEST_FRACTION) == 2729
    assert 13893 - round(13893 * PAPER_TEST_FRACTION) == 11164


def test_describe_counts_each_split_and_skips_unused():
    """describe counts ids 0..2 by name and ignores -1."""
    assert describe(np.array([0, 0, 1, 2, 2, 2, -1], np.int8)) == {"train": 2, "test": 1, "valid": 3}
    assert describe([]) == {"train": 0, "test": 0, "valid": 0}
    assert list(describe([1])) == list(SPLITS)


@pytest.mark.parametrize("test_fraction, validation_fraction", [(PAPER_TEST_FRACTION, 0.1), (0.3, 0.2), (0.5, 0.0)])
@pytest.mark.parametrize("seed", [0, 7])
def test_paper_counts_follow_the_rounding(test_fraction, validation_fraction, seed):
    """round(n * test_fraction) test, round(n * validation_fraction) valid, the rest train."""
    groups, people = ablated_samples([5, 7, 3, 9, 6], copies=3)
    n = len(groups)
    split_ids = split_samples(groups, people, test_fraction=test_fraction,
                              validation_fraction=validation_fraction, seed=seed)
    assert split_ids.dtype == np.int8 and split_ids.shape == (n,)
    n_test, n_valid = round(n * test_fraction), round(n * validation_fraction)
    assert describe(split_ids) == {"train": n - n_test - n_valid, "test": n_test, "valid": n_valid}


def test_paper_lets_copies_of_a_group_straddle_sides():
    """The documented leak: with many groups, some group's copies sit on several sides."""
    groups, people = ablated_samples([10] * 6, copies=4)
    split_ids = split_samples(groups, people, test_fraction=0.3, validation_fraction=0.2, seed=0)
    sides = sides_of_groups(split_ids, groups)
    assert any({TRAIN, TEST} <= s for s in sides.values())
    assert any({TRAIN, VALID} <= s for s in sides.values())


def test_paper_is_deterministic_and_seed_dependent():
    """Same seed, same split; another seed, another split."""
    groups, people = ablated_samples([5, 7, 3, 9, 6])
    first = split_samples(groups, people, seed=3)
    np.testing.assert_array_equal(first, split_samples(groups, people, seed=3))
    assert not np.array_equal(first, split_samples(groups, people, seed=4))


def test_paper_does_not_depend_on_the_order_of_the_recordings():
    """Reordering whole groups leaves each sample's side unchanged."""
    groups, people = ablated_samples([5, 7, 3], copies=3)
    split_ids = split_samples(groups, people, seed=5)
    blocks = np.arange(len(groups)).reshape(-1, 3)[::-1].ravel()  # groups reversed, copies kept in order
    np.testing.assert_array_equal(split_samples(groups[blocks], people[blocks], seed=5), split_ids[blocks])


@pytest.mark.parametrize("test_fraction, validation_fraction", [(0.3, 0.1), (0.2, 0.2), (0.5, 0.25), (0.25, 0.0)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_strict_keeps_groups_whole_with_the_documented_counts(test_fraction, validation_fraction, seed):
    """No group on two sides; per-person test/valid group counts match the rule; everyone trains and tests."""
    counts = [2, 3, 4, 5, 8, 13, 20]
    groups, people = ablated_samples(counts)
    split_ids = split_samples(groups, people, protocol="strict", test_fraction=test_fraction,
                              validation_fraction=validation_fraction, seed=seed)
    assert split_ids.dtype == np.int8
    sides = sides_of_groups(split_ids, groups)
    assert all(len(s) == 1 for s in sides.values())
    for person, g in enumerate(counts):
        own = people == str(person)
        n_test, n_valid = expected_strict_counts(g, test_fraction, validation_fraction)
        assert len(np.unique(groups[own & (split_ids == TEST)])) == n_test, person
        assert len(np.unique(groups[own & (split_ids == VALID)])) == n_valid, person
        assert (split_ids[own] == TRAIN).any() and (split_ids[own] == TEST).any(), person
    if validation_fraction > 0:
        assert set(groups[split_ids == VALID]).isdisjoint(groups[split_ids == TEST])
        assert (split_ids == VALID).any()
    else:
        assert not (split_ids == VALID).any()


def test_strict_gives_a_two_group_person_no_validation_group():
    """g = 2: one train and one test group, even with a large validation fraction."""
    groups, people = ablated_samples([2, 6])
    split_ids = split_samples(groups, people, protocol="strict", test_fraction=0.3, validation_fraction=0.4)
    assert describe(split_ids[people == "0"]) == {"train": 4, "test": 4, "valid": 0}
    assert (split_ids[people == "1"] == VALID).any()


def test_strict_is_deterministic_order_free_and_seed_dependent():
    """Same seed, same split in any sample order and without other people; another seed differs."""
    groups, people = ablated_samples([4, 6, 9, 12, 7])
    split_ids = split_samples(groups, people, protocol="strict", seed=11)
    np.testing.assert_array_equal(split_ids, split_samples(groups, people, protocol="strict", seed=11))
    order = np.random.default_rng(0).permutation(len(groups))
    np.testing.assert_array_equal(split_samples(groups[order], people[order], protocol="strict", seed=11),
                                  split_ids[order])
    kept = people != "2"
    np.testing.assert_array_equal(split_samples(groups[kept], people[kept], protocol="strict", seed=11),
                                  split_ids[kept])
    assert not np.array_equal(split_ids, split_samples(groups, people, protocol="strict", seed=12))


def test_strict_trains_a_one_group_person_and_leaves_it_out_of_test(caplog):
    """People with one group train and are not tested; the log names them all, in natural order."""
    groups, people = ablated_samples([3] * 16)
    groups = groups.astype("U16")
    for person in ("7", "12", "15"):
        groups[people == person] = f"only-{person}"
    with caplog.at_level(logging.WARNING, logger="pipelines.splits"):
        split_ids = split_samples(groups, people, protocol="strict", validation_fraction=0.0)
    single = np.isin(people, ["7", "12", "15"])
    assert (split_ids[single] == TRAIN).all()
    assert all({TRAIN, TEST} <= set(split_ids[people == p].tolist()) for p in np.unique(people[~single]))
    assert "3 people have one recording group" in caplog.text
    assert "left out of the test split: '7', '12', '15'" in caplog.text


def test_strict_caps_the_listed_people(caplog):
    """Beyond ten one-group people the log counts the rest; all people with one group is an empty test split."""
    groups, people = ablated_samples([1] * 13 + [3])
    with caplog.at_level(logging.WARNING, logger="pipelines.splits"):
        split_ids = split_samples(groups, people, protocol="strict", validation_fraction=0.0)
    assert "13 people have" in caplog.text and "'9' and 3 more" in caplog.text and "'10'" not in caplog.text
    assert set(split_ids[people != "13"].tolist()) == {TRAIN}
    groups, people = ablated_samples([1] * 13)
    with pytest.raises(SplitError, match="strict protocol: the test split is empty: every person's recordings "
                                         "form one recording group .*'9' and 3 more$") as caught:
        split_samples(groups, people, protocol="strict")
    assert "'10'" not in str(caught.value) and "\n" not in str(caught.value)


def test_strict_names_every_group_of_two_people():
    """Groups holding samples of two people are all named, with their people."""
    groups, people = ablated_samples([3, 3, 3])
    people[groups == "p0-g1"] = ["0", "1", "0", "0"]
    people[groups == "p2-g0"] = ["2", "2", "1", "2"]
    with pytest.raises(SplitError, match="2 recording groups hold .*'p0-g1' \\(people '0', '1'\\), "
                                          "'p2-g0' \\(people '1', '2'\\)$"):
        split_samples(groups, people, protocol="strict")


def test_strict_needs_a_validation_group_unless_the_fraction_is_zero():
    """Everyone with two groups: no valid split, an error unless validation_fraction == 0."""
    groups, people = ablated_samples([2, 2, 2])
    with pytest.raises(SplitError, match="the valid split is empty.*validation_fraction=0"):
        split_samples(groups, people, protocol="strict", validation_fraction=0.1)
    split_ids = split_samples(groups, people, protocol="strict", validation_fraction=0.0)
    assert describe(split_ids) == {"train": 12, "test": 12, "valid": 0}


@pytest.mark.parametrize("protocol", ["official", "manifest"])
def test_given_protocols_follow_the_data_and_accept_aliases(protocol):
    """Each sample gets its given side; validation/val/dev mean valid, in any case."""
    groups = np.array(["a", "a", "b", "c", "d", "e", "f", "g"])
    people = np.array(["1", "1", "1", "2", "2", "1", "2", "2"])
    given = [" Train", "train", "TEST", "test", "validation", "Val", "dev", "valid"]
    split_ids = split_samples(groups, people, protocol=protocol, given=given, seed=3)
    np.testing.assert_array_equal(split_ids, [TRAIN, TRAIN, TEST, TEST, VALID, VALID, VALID, VALID])
    assert split_ids.dtype == np.int8
    np.testing.assert_array_equal(split_ids, split_samples(groups, people, protocol=protocol, given=given, seed=9))


def test_given_protocols_return_an_empty_valid_split():
    """No valid samples in the data is not an error under official/manifest."""
    split_ids = split_samples(["a", "b"], ["1", "1"], protocol="official", given=["train", "test"])
    assert describe(split_ids) == {"train": 1, "test": 1, "valid": 0}


@pytest.mark.parametrize("given, message", [
    (None, "official protocol: 3 samples have no split name .* the first is in group 'a'$"),
    (["train", None, ""], "official protocol: 2 samples have no split name .* the first is in group 'b'$"),
    (["train", "test", float("nan")], "1 sample has no split name .* the first is in group 'c'$"),
])
def test_given_protocols_need_a_split_name_per_sample(given, message):
    """Missing names are counted and the first one's group is named."""
    with pytest.raises(SplitError, match=message):
        split_samples(["a", "b", "c"], ["1", "1", "2"], protocol="official", given=given)


def test_given_protocols_name_every_unknown_split_name():
    """All unknown names are listed at once with their sample counts."""
    with pytest.raises(SplitError, match="unknown split names 'holdout' \\(1 sample\\), 'training' \\(2 samples\\)"):
        split_samples(list("abcd"), list("1122"), protocol="manifest",
                      given=["training", "training", "holdout", "test"])


def test_given_protocols_name_every_group_on_two_sides():
    """A group given two sides would leak: all such groups are named with their sides."""
    groups = ["a", "a", "b", "b", "b", "c"]
    given = ["train", "test", "train", "valid", "train", "test"]
    with pytest.raises(SplitError, match="2 recording groups are on more than one side .*leak.*: "
                                          "'a' \\(train, test\\), 'b' \\(train, valid\\)$"):
        split_samples(groups, ["1"] * 6, protocol="official", given=given)


@pytest.mark.parametrize("given, message", [
    (["test", "valid"], "the train split is empty"),
    (["train", "valid"], "the test split is empty"),
    (["valid", "valid"], "the train split is empty; the test split is empty"),
])
def test_given_protocols_reject_an_empty_train_or_test_split(given, message):
    """Empty train or test splits are errors, named together."""
    with pytest.raises(SplitError, match=message):
        split_samples(["a", "b"], ["1", "1"], protocol="official", given=given)


def test_paper_empty_splits_raise():
    """Too few samples for a side is an error that names the side."""
    groups, people = ablated_samples([1], copies=3)
    with pytest.raises(SplitError, match="paper protocol: the test split is empty \\(test_fraction=0.1 of 3"):
        split_samples(groups, people, test_fraction=0.1, validation_fraction=0.0)
    with pytest.raises(SplitError, match="paper protocol: the train split is empty \\(test and valid take all 3"):
        split_samples(groups, people, test_fraction=0.5, validation_fraction=0.4)
    with pytest.raises(SplitError, match="the valid split is empty \\(validation_fraction=0.1 of 3"):
        split_samples(groups, people, test_fraction=0.4, validation_fraction=0.1)
    assert describe(split_samples(groups, people, test_fraction=0.4, validation_fraction=0.0))["valid"] == 0


@pytest.mark.parametrize("kwargs, message", [
    ({"protocol": "random"}, "protocol must be one of"),
    ({"test_fraction": 0.0}, "test_fraction must be in \\(0, 1\\)"),
    ({"test_fraction": 1.0}, "test_fraction must be in \\(0, 1\\)"),
    ({"validation_fraction": -0.1}, "validation_fraction must be in \\[0, 1\\)"),
    ({"validation_fraction": 1.0}, "validation_fraction must be in \\[0, 1\\)"),
    ({"test_fraction": 0.6, "validation_fraction": 0.4}, "test_fraction \\+ validation_fraction must be below 1"),
    ({"test_fraction": 2.0, "validation_fraction": -1.0}, "test_fraction must .*; validation_fraction must"),
    ({"seed": -1}, "seed must be a non-negative integer"),
    ({"seed": 1.5}, "seed must be a non-negative integer"),
])
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_bad_arguments_raise(kwargs, message, protocol):
    """Every protocol checks the arguments and names them."""
    groups, people = ablated_samples([3, 3])
    kwargs = {"protocol": protocol, "given": ["train"] * len(groups), **kwargs}
    with pytest.raises(SplitError, match=message):
        split_samples(groups, people, **kwargs)


def test_bad_inputs_raise():
    """Empty, ragged and mismatched inputs are named."""
    with pytest.raises(SplitError, match="groups: no samples"):
        split_samples([], [])
    with pytest.raises(SplitError, match="groups has 3 entries but people has 2"):
        split_samples(["a", "b", "c"], [0, 1])
    with pytest.raises(SplitError, match="groups must be 1-D"):
        split_samples([["a", "b"]], ["1"])
    with pytest.raises(SplitError, match="given has 1 entries but groups has 2"):
        split_samples(["a", "b"], ["1", "1"], protocol="manifest", given=["train"])


# ---------------------------------------------------------------- folds by subject


def emotion_samples(actors, emotions=("calm", "happy", "sad"), seed=0):
    """RAVDESS-like samples in a shuffled order: per actor two statement groups of every emotion; returns
    (groups, people = emotions, subjects = actor ids)."""
    rows = [(f"{a:02d}-{s:02d}", emotion, str(a)) for a in actors for s in (1, 2) for emotion in emotions]
    rows = [rows[i] for i in np.random.default_rng(seed).permutation(len(rows))]
    return tuple(np.array(column) for column in zip(*rows))


def sides_of_subjects(split_ids, subjects):
    """{side: set of int subject ids}, every subject on one side only."""
    sides = {}
    for subject in np.unique(subjects):
        (side,) = set(split_ids[subjects == subject].tolist())
        sides.setdefault(side, set()).add(int(subject))
    return sides


@pytest.mark.parametrize("fold", range(1, FOLDS + 1))
def test_folds_are_the_papers_actor_folds(fold, caplog):
    """24 actors: fold k tests 4k-3..4k, validates on 4k+1..4k+4 (by id, "10" after "9"), trains on the rest."""
    groups, people, subjects = emotion_samples(range(1, 25))
    with caplog.at_level(logging.INFO, logger="pipelines.splits"):
        split_ids = split_samples(groups, people, protocol="folds", subjects=subjects, fold=fold)
    assert split_ids.dtype == np.int8
    test, valid = set(range(4 * fold - 3, 4 * fold + 1)), set(range(4 * fold + 1, 4 * fold + 5))
    assert sides_of_subjects(split_ids, subjects) == {TEST: test, VALID: valid,
                                                      TRAIN: set(range(1, 25)) - test - valid}
    [line] = [r.getMessage() for r in caplog.records if "folds protocol" in r.getMessage()]
    assert f"fold {fold} of 5: test subjects {','.join(map(str, sorted(test)))}; " \
           f"valid {','.join(map(str, sorted(valid)))}; train " in line


def test_folds_of_six_subjects_take_one_each_and_the_remainder_trains():
    """N = 6: one subject a block; N = 8: blocks of one, subjects 7 and 8 always train."""
    groups, people, subjects = emotion_samples(range(1, 7))
    for fold in range(1, FOLDS + 1):
        split_ids = split_samples(groups, people, protocol="folds", subjects=subjects, fold=fold)
        assert sides_of_subjects(split_ids, subjects) == {
            TEST: {fold}, VALID: {fold + 1}, TRAIN: set(range(1, 7)) - {fold, fold + 1}}
    groups, people, subjects = emotion_samples(range(1, 9))
    split_ids = split_samples(groups, people, protocol="folds", subjects=subjects, fold=5)
    assert sides_of_subjects(split_ids, subjects) == {TEST: {5}, VALID: {6}, TRAIN: {1, 2, 3, 4, 7, 8}}


def test_folds_without_validation_train_the_validation_block():
    """validation_fraction 0 (CFN-SR's paper protocol): fold k tests block k and trains on every other subject."""
    groups, people, subjects = emotion_samples(range(1, 25))
    for fold in (1, 5):
        split_ids = split_samples(groups, people, protocol="folds", subjects=subjects, fold=fold,
                                  validation_fraction=0.0)
        test = set(range(4 * fold - 3, 4 * fold + 1))
        assert sides_of_subjects(split_ids, subjects) == {TEST: test, TRAIN: set(range(1, 25)) - test}


def test_folds_never_mix_subjects_and_ignore_the_order_and_seed():
    """Every subject (and group) on one side; the split depends on neither sample order nor seed."""
    groups, people, subjects = emotion_samples(range(3, 16), seed=1)
    split_ids = split_samples(groups, people, protocol="folds", subjects=subjects, fold=2, seed=4)
    assert all(len(s) == 1 for s in sides_of_groups(split_ids, groups).values())
    sides = sides_of_subjects(split_ids, subjects)
    assert sum(len(s) for s in sides.values()) == 13 and sides[TEST] == {5, 6} and sides[VALID] == {7, 8}
    order = np.random.default_rng(2).permutation(len(groups))
    np.testing.assert_array_equal(
        split_samples(groups[order], people[order], protocol="folds", subjects=subjects[order], fold=2, seed=9),
        split_ids[order])


@pytest.mark.parametrize("change, message", [
    ({"subjects": None}, "folds protocol: every sample needs its subject"),
    ({"people": "subjects"}, r"the class is the subject \(e.g. --label actor\).*--label emotion"),
    ({"actors": range(1, 6)}, r"5 subjects \(1, 2, 3, 4, 5\); the 6 blocks of the folds need at least 6"),
    ({"fold": 0}, r"fold must be an integer in 1..5, got 0"),
    ({"fold": 6}, r"fold must be an integer in 1..5, got 6"),
    ({"mixed": True}, (r"folds protocol: 1 recording group holds samples of more than one subject .*"
                       r"'02-01' \(subjects '2', '3'\)$")),
])
def test_folds_refuse_what_cannot_be_folded(change, message):
    """No subjects, the class as the subject, fewer than 6 subjects, a bad fold, a group of two subjects."""
    groups, people, subjects = emotion_samples(change.get("actors", range(1, 7)))
    if change.get("mixed"):
        subjects[np.flatnonzero(groups == "02-01")[0]] = "3"
    if change.get("people") == "subjects":
        people = subjects
    with pytest.raises(SplitError, match=message):
        split_samples(groups, people, protocol="folds", fold=change.get("fold", 1),
                      subjects=None if "subjects" in change else subjects)


# ---------------------------------------------------------------- files shared by recordings


def test_recordings_that_share_a_file_join_one_group(caplog):
    """Union-find over group keys and files: r0-r1 share a photo, r1-r3 a photo, r3 is in group g2 with r4; r5 and
    r6 share nothing. A joined group is keyed by its smallest group key; the log counts what was joined."""
    groups = ["g0", "g1", "g5", "g2", "g2", "g3", "g4"]
    files = [["a.wav", "photo1.png"], ["b.wav", "photo1.png", "photo2.png"], ["c.wav"], ["photo2.png"],
             ["e.wav"], ["f.wav"], ["g.wav"]]
    with caplog.at_level(logging.INFO, logger="pipelines.splits"):
        joined = join_shared_files(groups, files)
    assert joined == ["g0", "g0", "g5", "g0", "g0", "g3", "g4"]
    assert "4 recordings (of 3 groups) merged into 1 group," in caplog.text
    order = [6, 3, 0, 5, 2, 4, 1]  # the order of the recordings changes nothing
    assert join_shared_files([groups[i] for i in order], [files[i] for i in order]) == [joined[i] for i in order]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="pipelines.splits"):
        assert join_shared_files(["g0", "g0", "g1"], [["x"], ["x"], ["y"]]) == ["g0", "g0", "g1"]
    assert "merged" not in caplog.text  # sharing within a group joins nothing


def test_strict_keeps_a_joined_group_on_one_side():
    """Each person's 6 recordings share 2 photos (3 recordings each): 2 groups a person, one train, one test."""
    recording_groups = [f"p{p}-r{r}" for p in range(4) for r in range(6)]
    files = [[f"{g}.wav", f"{g.split('-')[0]}-photo{int(g[-1]) // 3}.png"] for g in recording_groups]
    joined = np.repeat(join_shared_files(recording_groups, files), 4)
    people = np.array([g.split("-")[0] for g in joined])
    split_ids = split_samples(joined, people, protocol="strict", validation_fraction=0.0, seed=5)
    sides_of_file = {}
    for recording, paths in enumerate(files):
        for path in paths:
            sides_of_file.setdefault(path, set()).update(split_ids[4 * recording:4 * recording + 4].tolist())
    assert all(len(sides) == 1 for sides in sides_of_file.values())  # no file on two sides
    assert describe(split_ids) == {"train": 48, "test": 48, "valid": 0}


def test_a_file_on_two_sides_of_a_given_split_names_both_recordings():
    """One line naming each leaking file once, with two of its recordings and their sides."""
    recordings = ["r0", "r1", "r2", "r3"]
    files = [["photo.png", "a.wav"], ["photo.png", "b.wav"], ["photo.png", "c.wav"], ["d.wav"]]
    check_files_on_one_side(recordings, files, ["train", "train", "train", "test"], "manifest")  # one side: fine
    with pytest.raises(SplitError, match=r"^manifest protocol: 1 file is on two sides of the given split .*: "
                                         r"photo.png \(recording 'r0' train, recording 'r2' test\)$") as caught:
        check_files_on_one_side(recordings, files, ["train", "train", "test", "valid"], "manifest")
    assert "\n" not in str(caught.value)
