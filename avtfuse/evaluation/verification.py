"""Open-set verification and identification of the people a run never trained on (its held-out people,
`SplitData.held_out_people`), from the embeddings any system gives (`ContractModel.embeddings`).

A person is enrolled under a sensor subset E by the mean of the L2-normalised embeddings of their enrolment
recordings holding E; a probe holding subset P is scored by cosine similarity against every enrolled person
(`verification_metrics.cosine_scores`). Every (E, P) pair gives target trials (the probe's own person) and
non-target trials; score fusion averages the single-sensor scores of the sensors E and P share (the IS2AI trimodal
paper's score averaging). The validation people choose each probe subset's threshold and calibration; the test
people are scored once with them.
"""

import dataclasses
import weakref

import numpy as np
import tensorflow as tf

from avtfuse.contract import subsets
from avtfuse.evaluation import verification_metrics as measures
from pipelines.recording import natural_key

P_TARGETS = (0.01, 0.05)  # minDCF priors
FARS = (0.01, 0.001)  # TAR at these FARs


_EMBEDDERS = weakref.WeakKeyDictionary()  # backbone -> its traced embedder (`embedder`)


def embedder(backbone):
    """A traced function, inputs dict -> {name: float32 [B, D]} (`ContractModel.embeddings` of the backbone's
    outputs), made once per backbone: 2 to 3 times faster than calling the model eagerly batch by batch."""
    if backbone not in _EMBEDDERS:
        def vectors(inputs):
            outputs = backbone.embeddings(backbone(inputs, training=False))
            return {name: tf.cast(value, tf.float32) for name, value in outputs.items()}

        _EMBEDDERS[backbone] = tf.function(vectors, reduce_retracing=True)
    return _EMBEDDERS[backbone]


def embed(backbone, batches):
    """{embedding name: float32 [n, D]} of every inputs dict of `batches` (or of (inputs, labels) batches)
    through a backbone (`ContractModel.embeddings`, traced once: `embedder`); the first name is the one the
    tables score."""
    vectors, embedded = {}, embedder(backbone)
    for inputs in batches:
        inputs = inputs[0] if isinstance(inputs, tuple) else inputs
        for name, value in embedded(inputs).items():
            vectors.setdefault(name, []).append(value.numpy())
    return {name: np.concatenate(parts) for name, parts in vectors.items()}


@dataclasses.dataclass
class Embedded:
    """The held-out samples of one people set (`SplitData.verification_samples`) with their embeddings."""

    persons: np.ndarray
    enrolment: np.ndarray
    held: np.ndarray
    recordings: np.ndarray
    vectors: dict

    @classmethod
    def of(cls, samples, vectors):
        return cls(np.asarray(samples["persons"]).astype(str), np.asarray(samples["enrolment"], bool),
                   np.asarray(samples["held"]).astype(str), np.asarray(samples["recordings"]).astype(str), vectors)


@dataclasses.dataclass
class Trials:
    """scores [P, E] of probes (rows: indices `probe_rows` into the Embedded samples, persons `probe_persons`)
    against enrolled people (columns: `enrolled`)."""

    scores: np.ndarray
    probe_rows: np.ndarray
    probe_persons: np.ndarray
    enrolled: list

    @property
    def targets(self):
        """bool [P, E]: the probe's own person."""
        return self.probe_persons[:, None] == np.asarray(self.enrolled, str)[None, :]

    def flat(self):
        """(scores [P * E], targets [P * E])."""
        return self.scores.ravel(), self.targets.ravel()


def enrol(embedded, name, subset, people=None, recordings=None):
    """(people, models float32 [E, D]): each person (of `people`, or every one) with an enrolment sample holding
    `subset` (of `recordings` alone, when given), and the mean of those samples' L2-normalised `name`
    embeddings."""
    chosen = embedded.enrolment & (embedded.held == subset)
    if recordings is not None:
        chosen &= np.isin(embedded.recordings, list(recordings))
    names = sorted(set(embedded.persons[chosen]) & set(embedded.persons if people is None else people), key=natural_key)
    vectors = embedded.vectors[name]
    models = [measures.unit_rows(vectors[chosen & (embedded.persons == person)]).mean(axis=0) for person in names]
    return names, np.array(models, np.float32).reshape(len(names), vectors.shape[1])


def pair_trials(embedded, name, enrol_subset, probe_subset, people=None):
    """Trials of every probe holding `probe_subset` against the people (of `people`, when given) enrolled under
    `enrol_subset`."""
    enrolled, models = enrol(embedded, name, enrol_subset, people)
    rows = np.flatnonzero(~embedded.enrolment & (embedded.held == probe_subset))
    return Trials(measures.cosine_scores(models, embedded.vectors[name][rows]), rows, embedded.persons[rows],
                  enrolled)


def fused_trials(embedded, name, enrol_subset, probe_subset, sensors, singles=None):
    """Score fusion: for each sensor both subsets hold, the probe recording's single-sensor score against the
    person enrolled from that sensor alone (of their enrolment recordings holding `enrol_subset`), averaged;
    None when the subsets share no sensor. `sensors`: {condition name: its sensors} (`subsets`). The
    single-sensor embeddings are `embedded`'s own samples holding that sensor alone, or with `singles`
    ({sensor: Embedded of the same recordings holding it alone, e.g. its specialist's}) theirs, scored by their
    first embedding."""
    shared = [m for m in sensors[enrol_subset] if m in sensors[probe_subset]]
    if not shared:
        return None
    enrolling = set(embedded.recordings[embedded.enrolment & (embedded.held == enrol_subset)])
    rows = np.flatnonzero(~embedded.enrolment & (embedded.held == probe_subset))
    people = sorted(set(embedded.persons[embedded.enrolment & (embedded.held == enrol_subset)]), key=natural_key)
    total = 0.0
    for sensor in shared:
        alone = next(n for n, held in sensors.items() if held == (sensor,))
        source = embedded if singles is None else singles[sensor]
        scored_by = name if singles is None else next(iter(source.vectors))
        enrolled, models = enrol(source, scored_by, alone, people, recordings=enrolling)
        if enrolled != people:
            raise ValueError(f"score fusion {enrol_subset}: {sensor} enrols {enrolled}, not {people}")
        single = {recording: i for i, recording in enumerate(source.recordings)
                  if source.held[i] == alone and not source.enrolment[i]}
        probes = [single[recording] for recording in embedded.recordings[rows]]
        total = total + measures.cosine_scores(models, source.vectors[scored_by][probes])
    return Trials(total / len(shared), rows, embedded.persons[rows], people)


def as_normed(trials, embedded, name, enrol_subset, cohort, top_k):
    """`trials` (of `pair_trials`) with AS-norm scores against `cohort` float [K, D] (one vector per training
    person): each score normalised by the top_k cohort scores of its enrolment model and of its probe."""
    _, models = enrol(embedded, name, enrol_subset, trials.enrolled)
    model_cohort = measures.cohort_scores(models, cohort)  # [E, K]
    probe_cohort = measures.cohort_scores(embedded.vectors[name][trials.probe_rows], cohort)  # [P, K]
    rows, columns = np.indices(trials.scores.shape)
    normed = measures.as_norm(trials.scores.ravel(), model_cohort[columns.ravel()], probe_cohort[rows.ravel()],
                              min(top_k, len(cohort)))
    return dataclasses.replace(trials, scores=normed.reshape(trials.scores.shape))


def summary(trials):
    """`measured` of `trials` (None for None)."""
    return None if trials is None else measured(*trials.flat())


def measured(scores, targets):
    """The verification measures of scored trials (rates as fractions): EER with its Wilson interval over the
    trials of the rarer kind, minDCF at each of P_TARGETS, TAR at each of FARS, and the trial counts; None when
    the trials lack targets or non-targets."""
    if not targets.any() or targets.all():
        return None
    eer = measures.equal_error_rate(scores, targets)
    count = int(min(targets.sum(), (~targets).sum()))
    row = {"eer": eer["eer"], "eer_interval": list(measures.trial_interval(eer["eer"], count)),
           "target_trials": int(targets.sum()), "non_target_trials": int((~targets).sum())}
    for p_target in P_TARGETS:
        row[f"min_dcf_{p_target:g}"] = measures.min_dcf(scores, targets, p_target)["min_dcf"]
    for far in FARS:
        row[f"tar_at_far_{far:g}"] = measures.tar_at_far(scores, targets, far)["tar"]
    return row


def read_trial_list(path):
    """[(target bool, enrolment recording id, probe recording id)] of a VoxCeleb-format trial list: one trial per
    line, "label enrolment probe" (label 1 same person, 0 not), blank lines ignored; a bad line raises ValueError
    naming the file and line."""
    trials = []
    with open(path) as handle:
        for number, line in enumerate(handle, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 3 or parts[0] not in ("0", "1"):
                raise ValueError(f"{path}:{number}: expected 'label enrolment probe' with label 0 or 1, got "
                                 f"{line.strip()!r}")
            trials.append((parts[0] == "1", parts[1], parts[2]))
    if not trials:
        raise ValueError(f"{path}: no trial")
    return trials


def listed_trials(path, embedded, name, sensors):
    """The measures (`measured`) of a user's trial list (`read_trial_list`) on the held-out recordings: each
    recording by its sample holding every sensor it has (its largest subset; `sensors` from `subsets`), scored by
    cosine similarity; a recording that is no held-out person's raises ValueError naming it."""
    whole = {}
    for index, (recording, held) in enumerate(zip(embedded.recordings, embedded.held)):
        if recording not in whole or len(sensors[held]) > len(sensors[embedded.held[whole[recording]]]):
            whole[recording] = index
    listed = read_trial_list(path)
    unknown = sorted({r for _, e, p in listed for r in (e, p) if r not in whole})
    if unknown:
        raise ValueError(f"{path}: {len(unknown)} recordings are no held-out person's: {', '.join(unknown[:10])}")
    vectors = measures.unit_rows(embedded.vectors[name])
    scores = np.array([vectors[whole[e]] @ vectors[whole[p]] for _, e, p in listed])
    targets = np.array([target for target, _, _ in listed])
    return {"path": path, "trials": len(listed), "measures": measured(scores, targets)}


def calibrations(valid, name, sensors, target_far):
    """Per probe subset P, each person enrolled under P too (as a gallery scores, `avtfuse.recognition`): the
    threshold of `valid`'s trials at `target_far` and their logistic calibration (verification_metrics), as
    {P: {"threshold", "target_far", "validation_trials", "slope", "offset"}}; a subset whose trials lack targets or
    non-targets is left out."""
    calibrated = {}
    for probe_subset in sensors:
        scores, targets = pair_trials(valid, name, probe_subset, probe_subset).flat()
        if not targets.any() or targets.all():
            continue
        calibrated[probe_subset] = {
            "threshold": float(measures.threshold_at_far(scores, targets, target_far)), "target_far": target_far,
            "validation_trials": int(len(targets)), **measures.LogisticCalibration().fit(scores, targets).to_dict()}
    return calibrated


def thresholds(valid, test, name, sensors, target_far, people):
    """Per probe subset, enrolled under it too: the validation people's threshold and calibration
    (`calibrations`), read on the test people (realised FAR and FRR, Cllr), and open-set identification of the
    test people: the first half (at least one) of `people` enrolled, the rest unknown. Returns (calibration
    {probe subset: dict}, open set {"enrolled_people", "unknown_people", probe subset: dict})."""
    enrolled = people[:max(1, len(people) // 2)]
    calibration, open_set = calibrations(valid, name, sensors, target_far), \
        {"enrolled_people": enrolled, "unknown_people": people[len(enrolled):]}
    for probe_subset, chosen in calibration.items():
        threshold, calibrated = chosen["threshold"], measures.LogisticCalibration.from_dict(chosen)
        test_scores, test_targets = pair_trials(test, name, probe_subset, probe_subset).flat()
        realised = measures.rates_at_threshold(test_scores, test_targets, threshold)
        chosen.update(test_far=realised["far"], test_frr=realised["frr"], test_target_trials=realised["targets"],
                      test_non_target_trials=realised["non_targets"],
                      cllr=measures.cllr(calibrated.llr(test_scores), test_targets) if test_targets.any() else None)
        identified = pair_trials(test, name, probe_subset, probe_subset, people=enrolled)
        open_set[probe_subset] = measures.open_set_identification(
            identified.scores, identified.probe_persons, identified.enrolled, threshold)
    return calibration, open_set


def verify(valid, test, modalities, config, cohort=None, singles=None):
    """The verification section of a run: `valid`, `test` the Embedded validation and test people; `config` the
    run's VerificationConfig; `cohort` float [K, D] the training people's mean embeddings (AS-norm, with
    `config.as_norm_top_k`); `singles` the test people's single-sensor Embedded of score fusion
    (`fused_trials`: the specialists', in a run with them). Returns (outputs, trial rows for the CSV, DET curves
    {label: (scores, targets)})."""
    sensors = subsets(modalities)
    complete = next(iter(sensors))
    primary = next(iter(test.vectors))
    pairs, fusion, rows = {}, {}, []
    for enrol_subset in sensors:
        for probe_subset in sensors:
            key = f"{enrol_subset}|{probe_subset}"
            trials = pair_trials(test, primary, enrol_subset, probe_subset)
            pairs[key] = summary(trials)
            if pairs[key] and cohort is not None and config.as_norm_top_k:
                normed = as_normed(trials, test, primary, enrol_subset, cohort, config.as_norm_top_k)
                pairs[key]["as_norm"] = summary(normed)
            fused = fused_trials(test, primary, enrol_subset, probe_subset, sensors, singles)
            fusion[key] = summary(fused)
            rows += _rows(test, primary, enrol_subset, probe_subset, trials)
            rows += _rows(test, "score_fusion", enrol_subset, probe_subset, fused)
    individual = {name: {subset: summary(pair_trials(test, name, subset, subset)) for subset, held in sensors.items()
                         if name not in modalities or name in held}  # a sensor's own embedding: subsets holding it
                  for name in list(test.vectors)[1:]}
    people = sorted(set(test.persons), key=natural_key)
    calibration, open_set = thresholds(valid, test, primary, sensors, config.target_far, people)
    curves = {f"{primary} {complete}": pair_trials(test, primary, complete, complete).flat()}
    if len(modalities) > 1:
        curves[f"score fusion {complete}"] = fused_trials(test, primary, complete, complete, sensors, singles).flat()
    for subset, held in sensors.items():
        if len(held) == 1 and len(modalities) > 1:
            curves[f"{primary} {subset}"] = pair_trials(test, primary, subset, subset).flat()
    outputs = {"embedding": primary, "embeddings": list(test.vectors), "subsets": list(sensors),
               "validation_people": sorted(set(valid.persons), key=natural_key), "test_people": people,
               "pairs": pairs, "score_fusion": fusion,
               "score_fusion_of": "the specialists" if singles else "the fused model's single-sensor embeddings",
               "individual": individual, "calibration": calibration,
               "open_set": open_set, "target_far": config.target_far,
               "as_norm_top_k": config.as_norm_top_k if cohort is not None else 0}
    return outputs, rows, {label: curve for label, curve in curves.items() if curve[1].any()}


TRIAL_COLUMNS = ("scored_by", "enrolment", "probe", "enrolled_person", "probe_recording", "probe_person", "target",
                 "score")


def _rows(embedded, scored_by, enrol_subset, probe_subset, trials):
    """The CSV rows (TRIAL_COLUMNS) of `trials`."""
    if trials is None:
        return []
    return [(scored_by, enrol_subset, probe_subset, person, embedded.recordings[row], embedded.persons[row],
             int(embedded.persons[row] == person), f"{trials.scores[i, j]:.6f}")
            for i, row in enumerate(trials.probe_rows) for j, person in enumerate(trials.enrolled)]


def training_cohort(backbone, batches, name):
    """float32 [K, D]: for each trained person (label) of `batches` ((inputs, labels) of the training split), the
    mean of their L2-normalised `name` embeddings: AS-norm's cohort."""
    vectors = measures.unit_rows(embed(backbone, batches)[name])
    labels = np.concatenate([label.numpy() for label in batches.map(lambda inputs, label: label)])
    return np.stack([vectors[labels == label].mean(axis=0) for label in np.unique(labels)])


def joined(first, second):
    """The samples of two Embedded sets as one (a trial list may name recordings of either people set)."""
    return Embedded(*(np.concatenate([getattr(first, f), getattr(second, f)]) for f in
                      ("persons", "enrolment", "held", "recordings")),
                    {name: np.concatenate([first.vectors[name], second.vectors[name]]) for name in first.vectors})
