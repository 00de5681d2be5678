"""Verification and open-set identification measures on similarity scores (NumPy and scikit-learn only).

A trial is one (enrolment, probe) pair with a score (higher = more alike) and
a target flag (True = same person). Every decision accepts score >= threshold.
Rates are fractions in [0, 1]. The reject-all operating point, +inf in
scikit-learn's curves, is given the finite threshold just above the highest
score (np.nextafter), so that every threshold returned here goes into JSON.
"""

import numpy as np
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import det_curve, roc_curve

# AS-norm: a cohort standard deviation below this is raised to it (a constant cohort gives no NaN).
AS_NORM_STD_FLOOR = 1e-6
# Inverse L2 strength of the calibration: all but unpenalised, yet finite on perfectly separated scores.
CALIBRATION_C = 1e6


def _trials(scores, targets):
    """Validates a trial list; returns scores float64 [n] and targets bool [n]."""
    scores = np.asarray(scores, dtype=np.float64)
    targets = np.asarray(targets)
    if scores.ndim != 1:
        raise ValueError(f"scores: expected one score per trial, shape [n], got shape {scores.shape}")
    if targets.shape != scores.shape:
        raise ValueError(f"targets: expected shape {scores.shape} like scores, got shape {targets.shape}")
    if scores.size == 0:
        raise ValueError("scores: empty; need at least one trial")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores: NaN or infinite score; every trial needs a finite score")
    if targets.dtype != bool:
        if not np.all(np.isin(targets, (0, 1))):
            raise ValueError("targets: expected booleans (True = same person) or 0/1")
        targets = targets.astype(bool)
    return scores, targets


def _both_kinds(targets):
    """Raises ValueError unless `targets` holds at least one target and one non-target trial."""
    if not targets.any():
        raise ValueError("targets: no target (same-person) trial; need at least one target and one non-target")
    if targets.all():
        raise ValueError("targets: no non-target (different-person) trial; need at least one target and one non-target")


def _operating_points(scores, targets):
    """FAR [k], FRR [k] and finite thresholds [k], from reject-all (first) to accept-all (last)."""
    _both_kinds(targets)
    far, tar, thresholds = roc_curve(targets, scores, drop_intermediate=False)
    thresholds = thresholds.astype(np.float64)
    thresholds[0] = np.nextafter(scores.max(), np.inf)  # reject-all: scikit-learn's +inf
    return far, 1.0 - tar, thresholds


def _rate(value, name):
    """Validates a rate argument in [0, 1]."""
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}: expected a rate in [0, 1], got {value}")
    return value


def equal_error_rate(scores, targets):
    """Equal error rate: {"eer": fraction, "threshold": score} where FAR equals FRR.

    FAR (non-targets accepted) and FRR (targets rejected) on every threshold of
    roc_curve; between the two operating points around the crossing both are
    linearly interpolated, and so is the threshold.
    """
    scores, targets = _trials(scores, targets)
    far, frr, thresholds = _operating_points(scores, targets)
    gap = frr - far  # 1 at reject-all, -1 at accept-all, non-increasing
    after = int(np.argmax(gap <= 0.0))
    before = after - 1
    weight = gap[before] / (gap[before] - gap[after])
    eer = far[before] + weight * (far[after] - far[before])
    threshold = thresholds[before] + weight * (thresholds[after] - thresholds[before])
    return {"eer": float(eer), "threshold": float(threshold)}


def min_dcf(scores, targets, p_target, c_miss=1.0, c_fa=1.0):
    """Minimum normalised detection cost over every threshold: {"min_dcf", "threshold"}.

    DCF = c_miss * p_target * FRR + c_fa * (1 - p_target) * FAR, divided by
    min(c_miss * p_target, c_fa * (1 - p_target)) (the better of accept-all and
    reject-all), so 1 means no better than a fixed decision and 0 is perfect.
    Accept-all and reject-all are candidates; among equal costs the highest
    threshold wins.
    """
    scores, targets = _trials(scores, targets)
    p_target = float(p_target)
    if not 0.0 < p_target < 1.0:
        raise ValueError(f"p_target: expected a prior in (0, 1), got {p_target}")
    if not (c_miss > 0 and c_fa > 0):
        raise ValueError(f"c_miss, c_fa: expected positive costs, got {c_miss}, {c_fa}")
    far, frr, thresholds = _operating_points(scores, targets)
    costs = c_miss * p_target * frr + c_fa * (1.0 - p_target) * far
    best = int(np.argmin(costs))
    normaliser = min(c_miss * p_target, c_fa * (1.0 - p_target))
    return {"min_dcf": float(costs[best] / normaliser), "threshold": float(thresholds[best])}


def tar_at_far(scores, targets, far):
    """Highest true-accept rate with realised FAR <= `far`: {"tar", "threshold", "far"}.

    Thresholds are the scores and reject-all (tar 0, far 0); among thresholds
    of equal TAR the highest (lowest realised FAR) is returned.
    """
    scores, targets = _trials(scores, targets)
    far_limit = _rate(far, "far")
    far_points, frr_points, thresholds = _operating_points(scores, targets)
    tar_points = 1.0 - frr_points
    allowed = far_points <= far_limit  # true at reject-all, then a prefix: FAR only grows
    best_tar = tar_points[allowed].max()
    best = int(np.argmax(allowed & (tar_points == best_tar)))
    return {"tar": float(best_tar), "threshold": float(thresholds[best]), "far": float(far_points[best])}


def threshold_at_far(scores, targets, far):
    """The threshold of `tar_at_far`: a deployment that accepts score >= it has realised FAR <= `far` here."""
    return tar_at_far(scores, targets, far)["threshold"]


def rates_at_threshold(scores, targets, threshold):
    """Realised rates at a fixed threshold: {"far", "frr", "targets": count, "non_targets": count}.

    far: share of non-target trials with score >= threshold; frr: share of
    target trials with score < threshold; a rate with no trial of its kind is None.
    """
    scores, targets = _trials(scores, targets)
    threshold = float(threshold)
    accepted = scores >= threshold
    target_count = int(targets.sum())
    non_target_count = int((~targets).sum())
    return {
        "far": float(accepted[~targets].mean()) if non_target_count else None,
        "frr": float((~accepted[targets]).mean()) if target_count else None,
        "targets": target_count,
        "non_targets": non_target_count,
    }


def unit_rows(matrix, name="embeddings"):
    """Validates a [rows, D] float matrix and L2-normalises its rows (an all-zero row stays zero)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"{name}: expected embeddings of shape [rows, D], got shape {matrix.shape}")
    lengths = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, lengths, out=np.zeros_like(matrix), where=lengths > 0)


def cosine_scores(enrol, probe):
    """Cosine similarity [P, E] of probe rows [P, D] against enrolment rows [E, D]; a zero row scores 0."""
    enrol = unit_rows(enrol, "enrol")
    probe = unit_rows(probe, "probe")
    if enrol.shape[1] != probe.shape[1]:
        raise ValueError(f"probe: embeddings of size {probe.shape[1]} against enrol of size {enrol.shape[1]}")
    return probe @ enrol.T


def cohort_scores(embeddings, cohort):
    """Cosine similarity [n, K] of embeddings [n, D] against the cohort [K, D] (other people's embeddings)."""
    return cosine_scores(cohort, embeddings)


def _top_k_stats(cohort, top_k, name, rows):
    """Mean and (floored) standard deviation [n] of the top_k highest scores of each cohort row."""
    cohort = np.asarray(cohort, dtype=np.float64)
    if cohort.ndim != 2 or cohort.shape[0] != rows:
        raise ValueError(f"{name}: expected cohort scores of shape [{rows}, K], got shape {cohort.shape}")
    if not 1 <= top_k <= cohort.shape[1]:
        raise ValueError(f"top_k: expected 1..{cohort.shape[1]} (the cohort size of {name}), got {top_k}")
    top = np.partition(cohort, cohort.shape[1] - top_k, axis=1)[:, cohort.shape[1] - top_k:]
    return top.mean(axis=1), np.maximum(top.std(axis=1), AS_NORM_STD_FLOOR)


def as_norm(scores, enrol_cohort, probe_cohort, top_k):
    """Adaptive symmetric score normalisation (AS-norm, Cumani 2011 / Matejka 2017): float64 [n].

    scores [n]; enrol_cohort [n, K]: trial i's enrolment model scored against a
    cohort of other people; probe_cohort [n, K]: its probe against the cohort.
    Returns 0.5 * ((s - mean_e) / std_e + (s - mean_p) / std_p), with mean and
    (population) standard deviation over the top_k highest cohort scores of
    each row; a standard deviation is floored at AS_NORM_STD_FLOOR.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores: expected one score per trial, shape [n], got shape {scores.shape}")
    top_k = int(top_k)
    enrol_mean, enrol_std = _top_k_stats(enrol_cohort, top_k, "enrol_cohort", scores.shape[0])
    probe_mean, probe_std = _top_k_stats(probe_cohort, top_k, "probe_cohort", scores.shape[0])
    return 0.5 * ((scores - enrol_mean) / enrol_std + (scores - probe_mean) / probe_std)


class LogisticCalibration:
    """Affine score-to-LLR calibration, llr = slope * score + offset, fitted by logistic regression.

    Targets and non-targets weigh 0.5 each (class_weight "balanced"), so the
    fitting prior is 0.5 and the fitted logit is itself the log-likelihood ratio.
    """

    def __init__(self, slope=None, offset=None):
        self.slope = None if slope is None else float(slope)
        self.offset = None if offset is None else float(offset)

    def fit(self, scores, targets):
        """Fits slope and offset on trials (scores [n], targets [n]); returns self."""
        scores, targets = _trials(scores, targets)
        _both_kinds(targets)
        model = LogisticRegression(C=CALIBRATION_C, class_weight="balanced", max_iter=1000)
        model.fit(scores[:, None], targets)
        self.slope = float(model.coef_[0, 0])
        self.offset = float(model.intercept_[0])
        return self

    def llr(self, scores):
        """Natural-log likelihood ratios float64 [n] of same vs different person."""
        if self.slope is None:
            raise ValueError("LogisticCalibration: not fitted; call fit(scores, targets) or from_dict first")
        return self.slope * np.asarray(scores, dtype=np.float64) + self.offset

    def probability(self, scores, p_target=0.5):
        """Posterior probability float64 [n] that each trial is same-person, under the prior p_target."""
        p_target = float(p_target)
        if not 0.0 < p_target < 1.0:
            raise ValueError(f"p_target: expected a prior in (0, 1), got {p_target}")
        log_odds = self.llr(scores) + np.log(p_target) - np.log1p(-p_target)
        return np.exp(-np.logaddexp(0.0, -log_odds))

    def to_dict(self):
        """{"slope", "offset"} as floats, for JSON."""
        return {"slope": self.slope, "offset": self.offset}

    @classmethod
    def from_dict(cls, values):
        """A calibration from a `to_dict` result."""
        missing = {"slope", "offset"} - set(values)
        if missing:
            raise ValueError(f"values: missing {sorted(missing)} for a LogisticCalibration")
        return cls(values["slope"], values["offset"])


def cllr(llrs, targets):
    """Log-likelihood-ratio cost in bits (Brümmer): 0 is perfect, 1 is an uninformative llr of 0.

    0.5 * (mean over targets of log2(1 + e^-llr) + mean over non-targets of
    log2(1 + e^llr)); llrs [n] in natural log.
    """
    llrs, targets = _trials(llrs, targets)
    _both_kinds(targets)
    target_cost = np.logaddexp(0.0, -llrs[targets]).mean()
    non_target_cost = np.logaddexp(0.0, llrs[~targets]).mean()
    return float(0.5 * (target_cost + non_target_cost) / np.log(2.0))


def open_set_identification(scores, probe_people, enrolled_people, threshold):
    """Open-set identification rates of probes against a gallery of enrolled people.

    scores [P, E] (probe x enrolled person); probe_people [P] ids, those not in
    enrolled_people [E] being unknown. Returns {"detection_identification_rate":
    share of enrolled probes whose top score >= threshold and whose top person
    is right, "false_accept_rate": share of unknown probes whose top score >=
    threshold, "rank1": share of enrolled probes whose top person is right,
    "enrolled_probes", "unknown_probes": counts}; a rate with no probe of its
    kind is None. A tie for the top score goes to the first enrolled column.
    """
    scores = np.asarray(scores, dtype=np.float64)
    probe_people = np.asarray([str(person) for person in probe_people])
    enrolled_people = np.asarray([str(person) for person in enrolled_people])
    if scores.ndim != 2:
        raise ValueError(f"scores: expected shape [P, E] (probe x enrolled person), got shape {scores.shape}")
    if scores.shape[1] == 0:
        raise ValueError("enrolled_people: empty gallery; need at least one enrolled person")
    if probe_people.shape != (scores.shape[0],):
        raise ValueError(f"probe_people: {probe_people.size} ids for {scores.shape[0]} rows of scores")
    if enrolled_people.shape != (scores.shape[1],):
        raise ValueError(f"enrolled_people: {enrolled_people.size} ids for {scores.shape[1]} columns of scores")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores: NaN or infinite score; every probe x person pair needs a finite score")
    top = scores.argmax(axis=1)
    detected = scores.max(axis=1, initial=-np.inf) >= float(threshold)
    right = enrolled_people[top] == probe_people
    enrolled = np.isin(probe_people, enrolled_people)

    def share(flags):
        return float(flags.mean()) if flags.size else None

    return {
        "detection_identification_rate": share((detected & right)[enrolled]),
        "false_accept_rate": share(detected[~enrolled]),
        "rank1": share(right[enrolled]),
        "enrolled_probes": int(enrolled.sum()),
        "unknown_probes": int((~enrolled).sum()),
    }


def det_points(scores, targets):
    """DET-curve points (far [k], frr [k]) from sklearn.metrics.det_curve, for a plot."""
    scores, targets = _trials(scores, targets)
    _both_kinds(targets)
    far, frr, _ = det_curve(targets, scores, drop_intermediate=False)
    return far, frr


def trial_interval(rate, count, confidence=0.95):
    """Wilson score interval (low, high) for a rate measured on `count` trials; (None, None) for count 0."""
    rate = _rate(rate, "rate")
    if int(count) != count or count < 0:
        raise ValueError(f"count: expected a whole number of trials >= 0, got {count}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence: expected a level in (0, 1), got {confidence}")
    if count == 0:
        return None, None
    z = norm.ppf(0.5 + confidence / 2.0)
    spread = z * z / count
    centre = (rate + spread / 2.0) / (1.0 + spread)
    half = z / (1.0 + spread) * np.sqrt(rate * (1.0 - rate) / count + spread / (4.0 * count))
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))
