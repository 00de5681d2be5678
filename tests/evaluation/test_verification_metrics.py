"""Tests for avtfuse.evaluation.verification_metrics against plain NumPy/Python loops written here."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm

from avtfuse.evaluation.verification_metrics import (
    AS_NORM_STD_FLOOR,
    LogisticCalibration,
    as_norm,
    cllr,
    cohort_scores,
    cosine_scores,
    det_points,
    equal_error_rate,
    min_dcf,
    open_set_identification,
    rates_at_threshold,
    tar_at_far,
    threshold_at_far,
    trial_interval,
)


# ----- reference loops -------------------------------------------------------------------------------------------

def reference_points(scores, targets):
    """(threshold, FAR, FRR) from reject-all to accept-all, by counting trials (accept score >= threshold)."""
    scores = [float(s) for s in scores]
    targets = [bool(t) for t in targets]
    target_count = sum(targets)
    non_target_count = len(targets) - target_count
    candidates = [math.nextafter(max(scores), math.inf)] + sorted(set(scores), reverse=True)
    points = []
    for threshold in candidates:
        false_accepts = sum(1 for s, t in zip(scores, targets) if not t and s >= threshold)
        misses = sum(1 for s, t in zip(scores, targets) if t and s < threshold)
        points.append((threshold, false_accepts / non_target_count, misses / target_count))
    return points


def reference_eer(points):
    """EER and threshold: the first sign change of FRR - FAR, linearly interpolated."""
    for (t0, far0, frr0), (t1, far1, frr1) in zip(points, points[1:]):
        if frr0 - far0 > 0 >= frr1 - far1:
            weight = (frr0 - far0) / ((frr0 - far0) - (frr1 - far1))
            return far0 + weight * (far1 - far0), t0 + weight * (t1 - t0)
    raise AssertionError("no crossing")


def per_trial_eer(scores, targets):
    """A deliberately wrong EER: walks trials one by one (ties split by order) instead of by unique score."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], not targets[i]))
    target_count = sum(bool(t) for t in targets)
    non_target_count = len(targets) - target_count
    far, frr, points = 0.0, 1.0, [(0.0, 0.0, 1.0)]
    for i in order:
        if targets[i]:
            frr -= 1.0 / target_count
        else:
            far += 1.0 / non_target_count
        points.append((0.0, far, frr))
    return reference_eer(points)[0]


def reference_min_dcf(points, p_target, c_miss, c_fa):
    costs = [c_miss * p_target * frr + c_fa * (1 - p_target) * far for _, far, frr in points]
    return min(costs) / min(c_miss * p_target, c_fa * (1 - p_target))


def reference_tar_at_far(points, far_limit):
    """(tar, far) of the best allowed operating point: highest TAR, then lowest FAR."""
    allowed = [(1.0 - frr, -far) for _, far, frr in points if far <= far_limit]
    tar, negative_far = max(allowed)
    return tar, -negative_far


def realised(scores, targets, threshold):
    """(FAR, FRR) at a threshold, by counting."""
    non_target_scores = [s for s, t in zip(scores, targets) if not t]
    target_scores = [s for s, t in zip(scores, targets) if t]
    far = sum(s >= threshold for s in non_target_scores) / len(non_target_scores)
    frr = sum(s < threshold for s in target_scores) / len(target_scores)
    return far, frr


# ----- data -------------------------------------------------------------------------------------------------------

def random_trials(seed, n=60):
    rng = np.random.default_rng(seed)
    targets = rng.random(n) < 0.4
    targets[:2] = [True, False]
    scores = np.where(targets, rng.normal(0.6, 0.2, n), rng.normal(0.3, 0.2, n))
    return scores, targets


def tied_trials():
    """Scores on a coarse grid of five values, shared by targets and non-targets."""
    rng = np.random.default_rng(7)
    targets = rng.random(80) < 0.5
    scores = np.round(np.where(targets, rng.normal(0.6, 0.25, 80), rng.normal(0.4, 0.25, 80)) * 4) / 4
    return scores, targets


EDGE_CASES = {
    "ties": tied_trials(),
    "perfect": (np.array([0.9, 0.8, 0.85, 0.1, 0.2, 0.3, 0.15]), np.array([1, 1, 1, 0, 0, 0, 0], dtype=bool)),
    "reversed": (np.array([0.1, 0.2, 0.8, 0.9]), np.array([1, 1, 0, 0], dtype=bool)),
    "one_target": (np.array([0.5, 0.1, 0.7, 0.3, 0.6]), np.array([1, 0, 0, 0, 0], dtype=bool)),
    "one_non_target": (np.array([0.5, 0.1, 0.7, 0.3, 0.6]), np.array([1, 1, 0, 1, 1], dtype=bool)),
    "all_equal": (np.full(6, 0.42), np.array([1, 0, 1, 0, 0, 1], dtype=bool)),
}
CASES = {**{f"random_{seed}": random_trials(seed) for seed in range(4)}, **EDGE_CASES}


# ----- EER --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
def test_eer_matches_the_counting_loop(case):
    scores, targets = CASES[case]
    eer, threshold = reference_eer(reference_points(scores, targets))
    result = equal_error_rate(scores, targets)
    assert result["eer"] == pytest.approx(eer, abs=1e-12)
    assert result["threshold"] == pytest.approx(threshold, abs=1e-9)
    assert 0.0 <= result["eer"] <= 1.0


def test_eer_known_values():
    assert equal_error_rate(*EDGE_CASES["perfect"])["eer"] == 0.0
    assert equal_error_rate(*EDGE_CASES["reversed"])["eer"] == 1.0
    result = equal_error_rate(*EDGE_CASES["all_equal"])
    assert result["eer"] == pytest.approx(0.5) and result["threshold"] == pytest.approx(0.42)
    # A perfect split's threshold is the lowest target score: every target in, every non-target out.
    assert equal_error_rate(*EDGE_CASES["perfect"])["threshold"] == pytest.approx(0.8)


def test_eer_ties_are_grouped_not_split():
    scores, targets = tied_trials()
    eer = reference_eer(reference_points(scores, targets))[0]
    assert abs(per_trial_eer(list(scores), list(targets)) - eer) > 0.01  # the data make the wrong walk visible
    assert equal_error_rate(scores, targets)["eer"] == pytest.approx(eer, abs=1e-12)


def test_eer_interpolates_between_points():
    # Targets 0.9, 0.4; non-targets 0.6, 0.1: (FAR, FRR) is (0, .5) at 0.9 and (.5, .5) at 0.6, a crossing on a point.
    result = equal_error_rate([0.9, 0.4, 0.6, 0.1], [1, 1, 0, 0])
    assert result == pytest.approx({"eer": 0.5, "threshold": 0.6})
    # Targets 0.9, 0.8, 0.2; non-target 0.5: FRR - FAR is 1/3 at 0.8 and -2/3 at 0.5, so a third of the way.
    result = equal_error_rate([0.9, 0.8, 0.5, 0.2], [1, 1, 0, 1])
    assert result["eer"] == pytest.approx(1 / 3)
    assert result["threshold"] == pytest.approx(0.8 + (0.5 - 0.8) / 3)


# ----- minDCF -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("p_target, c_miss, c_fa", [(0.01, 1.0, 1.0), (0.05, 1.0, 1.0), (0.5, 1.0, 1.0),
                                                    (0.3, 10.0, 1.0)])
def test_min_dcf_matches_the_counting_loop(case, p_target, c_miss, c_fa):
    scores, targets = CASES[case]
    expected = reference_min_dcf(reference_points(scores, targets), p_target, c_miss, c_fa)
    result = min_dcf(scores, targets, p_target, c_miss, c_fa)
    assert result["min_dcf"] == pytest.approx(expected, abs=1e-12)
    far, frr = realised(scores, targets, result["threshold"])
    cost = (c_miss * p_target * frr + c_fa * (1 - p_target) * far) / min(c_miss * p_target, c_fa * (1 - p_target))
    assert cost == pytest.approx(expected, abs=1e-12)
    assert 0.0 <= result["min_dcf"] <= 1.0 + 1e-12


def test_min_dcf_known_values():
    assert min_dcf(*EDGE_CASES["perfect"], p_target=0.01)["min_dcf"] == 0.0
    assert min_dcf(*EDGE_CASES["all_equal"], p_target=0.5)["min_dcf"] == pytest.approx(1.0)
    scores, targets = random_trials(0)
    assert 0.0 < min_dcf(scores, targets, 0.05)["min_dcf"] < 1.0
    # Reject-all is a candidate: its threshold is above every score.
    reversed_scores, reversed_targets = EDGE_CASES["reversed"]
    result = min_dcf(reversed_scores, reversed_targets, p_target=0.01)
    assert result["min_dcf"] == pytest.approx(1.0) and result["threshold"] > reversed_scores.max()


# ----- TAR at FAR and thresholds ----------------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("far", [0.0, 0.01, 0.1, 0.25, 1.0])
def test_tar_at_far_matches_the_counting_loop(case, far):
    scores, targets = CASES[case]
    expected_tar, expected_far = reference_tar_at_far(reference_points(scores, targets), far)
    result = tar_at_far(scores, targets, far)
    assert result["tar"] == pytest.approx(expected_tar, abs=1e-12)
    assert result["far"] == pytest.approx(expected_far, abs=1e-12)
    assert result["far"] <= far
    realised_far, realised_frr = realised(scores, targets, result["threshold"])
    assert realised_far == pytest.approx(result["far"]) and 1.0 - realised_frr == pytest.approx(result["tar"])
    assert threshold_at_far(scores, targets, far) == result["threshold"]


def test_tar_at_far_edges():
    assert tar_at_far(*EDGE_CASES["perfect"], far=0.0)["tar"] == 1.0
    # No threshold keeps FAR at 0 while accepting a target: reject-all, above every score.
    scores, targets = EDGE_CASES["reversed"]
    result = tar_at_far(scores, targets, 0.0)
    assert result == {"tar": 0.0, "threshold": result["threshold"], "far": 0.0}
    assert result["threshold"] > scores.max()
    json.dumps(result)  # finite, so it goes into JSON
    with pytest.raises(ValueError, match="far"):
        tar_at_far(scores, targets, 1.5)


@pytest.mark.parametrize("case", sorted(CASES))
def test_rates_at_threshold_match_counting(case):
    scores, targets = CASES[case]
    for threshold in (-1.0, 0.3, float(np.median(scores)), 2.0):
        far, frr = realised(scores, targets, threshold)
        result = rates_at_threshold(scores, targets, threshold)
        assert (result["far"], result["frr"]) == pytest.approx((far, frr))
        assert result["targets"] == sum(targets) and result["non_targets"] == len(targets) - sum(targets)


def test_rates_at_threshold_with_one_kind_only():
    result = rates_at_threshold([0.2, 0.7], [True, True], 0.5)
    assert result == {"far": None, "frr": 0.5, "targets": 2, "non_targets": 0}


# ----- errors -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("measure", [
    equal_error_rate,
    lambda s, t: min_dcf(s, t, 0.01),
    lambda s, t: tar_at_far(s, t, 0.01),
    det_points,
    cllr,
    lambda s, t: LogisticCalibration().fit(s, t),
])
def test_one_kind_of_trial_is_refused(measure):
    for targets in ([False, False, False], [True, True, True]):
        with pytest.raises(ValueError, match="^targets: no") as error:
            measure([0.1, 0.5, 0.9], targets)
        assert "\n" not in str(error.value)


def test_bad_trials_are_refused():
    with pytest.raises(ValueError, match="targets"):
        equal_error_rate([0.1, 0.2], [True])
    with pytest.raises(ValueError, match="targets"):
        equal_error_rate([0.1, 0.2], [2, 0])
    with pytest.raises(ValueError, match="scores"):
        equal_error_rate([0.1, np.nan], [True, False])
    with pytest.raises(ValueError, match="scores"):
        equal_error_rate([], [])
    with pytest.raises(ValueError, match="p_target"):
        min_dcf([0.1, 0.2], [True, False], 1.0)


# ----- cosine scores and AS-norm ----------------------------------------------------------------------------------

def reference_cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    length = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / length if length > 0 else 0.0


def test_cosine_scores_match_the_loop():
    rng = np.random.default_rng(3)
    enrol = rng.normal(size=(4, 5)) * rng.uniform(0.1, 10, size=(4, 1))
    probe = rng.normal(size=(6, 5))
    probe[2] = 0.0  # an ablated embedding
    scores = cosine_scores(enrol, probe)
    assert scores.shape == (6, 4)
    for p in range(6):
        for e in range(4):
            assert scores[p, e] == pytest.approx(reference_cosine(probe[p], enrol[e]), abs=1e-12)
    assert np.all(scores[2] == 0.0) and np.all(np.isfinite(scores))
    assert np.allclose(cohort_scores(probe, enrol), scores)
    with pytest.raises(ValueError, match="probe"):
        cosine_scores(enrol, probe[:, :3])
    with pytest.raises(ValueError, match="enrol"):
        cosine_scores(enrol[0], probe)


def reference_as_norm(scores, enrol_cohort, probe_cohort, top_k):
    normalised = []
    for s, enrol_row, probe_row in zip(scores, enrol_cohort, probe_cohort):
        terms = []
        for row in (enrol_row, probe_row):
            top = sorted(row, reverse=True)[:top_k]
            mean = sum(top) / top_k
            std = math.sqrt(sum((x - mean) ** 2 for x in top) / top_k)
            terms.append((s - mean) / max(std, AS_NORM_STD_FLOOR))
        normalised.append(0.5 * (terms[0] + terms[1]))
    return normalised


@pytest.mark.parametrize("top_k", [1, 3, 10])
def test_as_norm_matches_the_loop(top_k):
    rng = np.random.default_rng(4)
    scores = rng.normal(size=8)
    enrol_cohort = rng.normal(0.1, 0.3, size=(8, 10))
    probe_cohort = rng.normal(-0.1, 0.2, size=(8, 10))
    enrol_cohort[0] = 0.25  # a constant cohort row: the floored deviation, not NaN
    result = as_norm(scores, enrol_cohort, probe_cohort, top_k)
    assert result.shape == (8,) and np.all(np.isfinite(result))
    assert np.allclose(result, reference_as_norm(scores, enrol_cohort, probe_cohort, top_k), rtol=1e-10)
    if top_k < 10:  # the top of each row counts, not the whole row
        assert not np.allclose(result, reference_as_norm(scores, enrol_cohort, probe_cohort, 10))


def test_as_norm_end_to_end_and_errors():
    rng = np.random.default_rng(5)
    enrol, probe, cohort = rng.normal(size=(6, 8)), rng.normal(size=(6, 8)), rng.normal(size=(20, 8))
    scores = np.array([reference_cosine(e, p) for e, p in zip(enrol, probe)])
    result = as_norm(scores, cohort_scores(enrol, cohort), cohort_scores(probe, cohort), 5)
    enrol_cohort = [[reference_cosine(e, c) for c in cohort] for e in enrol]
    probe_cohort = [[reference_cosine(p, c) for c in cohort] for p in probe]
    assert np.allclose(result, reference_as_norm(scores, enrol_cohort, probe_cohort, 5))
    with pytest.raises(ValueError, match="top_k"):
        as_norm(scores, cohort_scores(enrol, cohort), cohort_scores(probe, cohort), 21)
    with pytest.raises(ValueError, match="probe_cohort"):
        as_norm(scores, cohort_scores(enrol, cohort), cohort_scores(probe[:5], cohort), 5)


# ----- calibration and Cllr ---------------------------------------------------------------------------------------

def reference_logistic(scores, targets, c):
    """Slope and offset by Newton's method on the class-balanced, L2(slope)-penalised logistic loss."""
    x = np.stack([scores, np.ones_like(scores)], axis=1)
    y = np.where(targets, 1.0, -1.0)
    weights = np.where(targets, len(targets) / (2 * targets.sum()), len(targets) / (2 * (~targets).sum()))
    penalty = np.diag([1.0 / c, 0.0])
    w = np.zeros(2)
    for _ in range(50):
        margin = y * (x @ w)
        sigma = 1.0 / (1.0 + np.exp(margin))  # d/dm log(1 + e^-m) = -sigma
        gradient = -(x.T @ (weights * y * sigma)) + penalty @ w
        hessian = (x.T * (weights * sigma * (1 - sigma))) @ x + penalty
        w -= np.linalg.solve(hessian, gradient)
    return w


def test_calibration_matches_newton_and_round_trips():
    scores, targets = random_trials(1, n=400)
    calibration = LogisticCalibration().fit(scores, targets)
    slope, offset = reference_logistic(scores, targets, 1e6)
    assert calibration.slope == pytest.approx(slope, rel=1e-3)
    assert calibration.offset == pytest.approx(offset, rel=1e-3, abs=1e-3)
    assert np.allclose(calibration.llr(scores), slope * scores + offset, rtol=1e-3, atol=1e-3)
    restored = LogisticCalibration.from_dict(json.loads(json.dumps(calibration.to_dict())))
    assert np.array_equal(restored.llr(scores), calibration.llr(scores))
    with pytest.raises(ValueError, match="values"):
        LogisticCalibration.from_dict({"slope": 1.0})
    with pytest.raises(ValueError, match="not fitted"):
        LogisticCalibration().llr(scores)


def test_calibration_recovers_the_gaussian_llr_and_the_prior():
    # Equal-variance Gaussians: the true llr is ((m1 - m0) s - (m1^2 - m0^2) / 2) / var.
    rng = np.random.default_rng(6)
    targets = rng.random(20000) < 0.2  # unbalanced, yet the balanced fit still gives an llr
    scores = np.where(targets, rng.normal(0.6, 0.15, targets.size), rng.normal(0.2, 0.15, targets.size))
    calibration = LogisticCalibration().fit(scores, targets)
    assert calibration.slope == pytest.approx(0.4 / 0.15**2, rel=0.05)
    assert calibration.offset == pytest.approx(-(0.36 - 0.04) / 2 / 0.15**2, rel=0.05)
    llr = calibration.llr(scores)
    for p_target in (0.5, 0.01):
        odds = np.exp(llr) * p_target / (1 - p_target)
        assert np.allclose(calibration.probability(scores, p_target), odds / (1 + odds))
    assert calibration.probability([10.0], 0.5)[0] > 0.99 and calibration.probability([-10.0], 0.5)[0] < 0.01
    assert cllr(llr, targets) < cllr(llr + 3.0, targets)  # shifted llrs are worse calibrated


def test_calibration_of_perfectly_separated_scores_is_finite():
    calibration = LogisticCalibration().fit(*EDGE_CASES["perfect"])
    assert np.isfinite(calibration.slope) and calibration.slope > 0


def reference_cllr(llrs, targets):
    target_costs = [math.log2(1 + math.exp(-x)) for x, t in zip(llrs, targets) if t]
    non_target_costs = [math.log2(1 + math.exp(x)) for x, t in zip(llrs, targets) if not t]
    return 0.5 * (sum(target_costs) / len(target_costs) + sum(non_target_costs) / len(non_target_costs))


@pytest.mark.parametrize("case", sorted(CASES))
def test_cllr_matches_the_loop(case):
    scores, targets = CASES[case]
    llrs = 8.0 * (scores - 0.45)
    assert cllr(llrs, targets) == pytest.approx(reference_cllr(llrs, targets), rel=1e-12)


def test_cllr_known_values_and_stability():
    targets = np.array([True, False, True, False])
    assert cllr(np.zeros(4), targets) == pytest.approx(1.0)
    assert cllr([50.0, -50.0, 50.0, -50.0], targets) < 1e-20
    # Confidently wrong llrs cost about |llr| / ln 2 bits each, without overflow.
    wrong = cllr([-1000.0, 1000.0, -1000.0, 1000.0], targets)
    assert wrong == pytest.approx(1000.0 / math.log(2.0), rel=1e-9)


# ----- open-set identification ------------------------------------------------------------------------------------

def reference_open_set(scores, probe_people, enrolled_people, threshold):
    hits, detected_unknown, right, enrolled_count, unknown_count = 0, 0, 0, 0, 0
    for row, person in zip(scores, probe_people):
        best = 0
        for column in range(len(row)):
            if row[column] > row[best]:
                best = column
        if person in enrolled_people:
            enrolled_count += 1
            right += enrolled_people[best] == person
            hits += enrolled_people[best] == person and row[best] >= threshold
        else:
            unknown_count += 1
            detected_unknown += row[best] >= threshold
    return {
        "detection_identification_rate": hits / enrolled_count if enrolled_count else None,
        "false_accept_rate": detected_unknown / unknown_count if unknown_count else None,
        "rank1": right / enrolled_count if enrolled_count else None,
        "enrolled_probes": enrolled_count,
        "unknown_probes": unknown_count,
    }


@pytest.mark.parametrize("threshold", [-1.0, 0.3, 0.6, 2.0])
def test_open_set_matches_the_loop(threshold):
    rng = np.random.default_rng(8)
    enrolled = ["ann", "bob", "cai", "dee", "eve"]
    probes = list(rng.choice(enrolled + ["xu", "yan"], size=40))
    scores = rng.uniform(-0.2, 0.5, size=(40, 5))
    for row, person in enumerate(probes):  # enrolled probes usually score high on their own column
        if person in enrolled and rng.random() < 0.7:
            scores[row, enrolled.index(person)] += 0.4
    scores[0, :2] = scores[0].max() + 0.1  # a tie for the top: the first column wins
    result = open_set_identification(scores, probes, enrolled, threshold)
    expected = reference_open_set(scores, probes, enrolled, threshold)
    assert result == pytest.approx(expected)
    assert 0.0 < result["rank1"] < 1.0 and result["enrolled_probes"] + result["unknown_probes"] == 40


def test_open_set_with_one_kind_of_probe_and_errors():
    scores = np.array([[0.9, 0.1], [0.2, 0.8]])
    known = open_set_identification(scores, ["a", "b"], ["a", "b"], 0.85)
    assert known == {"detection_identification_rate": 0.5, "false_accept_rate": None, "rank1": 1.0,
                     "enrolled_probes": 2, "unknown_probes": 0}
    unknown = open_set_identification(scores, ["x", "y"], ["a", "b"], 0.85)
    assert unknown["false_accept_rate"] == 0.5 and unknown["rank1"] is None
    with pytest.raises(ValueError, match="probe_people"):
        open_set_identification(scores, ["a"], ["a", "b"], 0.5)
    with pytest.raises(ValueError, match="enrolled_people"):
        open_set_identification(scores, ["a", "b"], ["a"], 0.5)


# ----- DET points and intervals -----------------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["random_0", "ties", "perfect"])
def test_det_points_are_operating_points(case):
    scores, targets = CASES[case]
    far, frr = det_points(scores, targets)
    assert far.shape == frr.shape and far.size >= 1
    reference = {(round(a, 12), round(r, 12)) for _, a, r in reference_points(scores, targets)}
    assert {(round(a, 12), round(r, 12)) for a, r in zip(far, frr)} <= reference


def reference_wilson(rate, count, confidence):
    """Roots of (rate - p)^2 = z^2 p (1 - p) / count, found numerically."""
    z = norm.ppf(1 - (1 - confidence) / 2)

    def gap(p):
        return (rate - p) ** 2 - z * z * p * (1 - p) / count

    inside = 1e-12  # p = rate is a root of the bracket's end when rate is 0 or 1; search just beside it
    low = 0.0 if rate == 0 else brentq(gap, 0.0, min(rate, 1.0 - inside))
    high = 1.0 if rate == 1 else brentq(gap, max(rate, inside), 1.0)
    return low, high


@pytest.mark.parametrize("rate, count, confidence", [(0.05, 200, 0.95), (0.0, 30, 0.95), (1.0, 12, 0.9),
                                                     (0.3, 7, 0.99)])
def test_trial_interval_is_wilson(rate, count, confidence):
    low, high = trial_interval(rate, count, confidence)
    assert (low, high) == pytest.approx(reference_wilson(rate, count, confidence), abs=1e-9)
    assert 0.0 <= low <= rate <= high <= 1.0
    assert high - low > trial_interval(rate, count * 4, confidence)[1] - trial_interval(rate, count * 4, confidence)[0]


def test_trial_interval_edges():
    assert trial_interval(0.1, 0) == (None, None)
    with pytest.raises(ValueError, match="count"):
        trial_interval(0.1, -1)
    with pytest.raises(ValueError, match="rate"):
        trial_interval(1.2, 10)


def test_module_imports_no_tensorflow():
    code = ("import sys, avtfuse.evaluation.verification_metrics; "
            "print(sorted(name for name in ('tensorflow', 'keras') if name in sys.modules))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"
