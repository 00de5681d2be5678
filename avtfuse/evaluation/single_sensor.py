"""`--single-sensor best`: per sensor, validation chooses what answers a sample holding that sensor alone, among
the fused model, the deep specialist (the same system trained on the sensor alone) and the classical models the
sensor's cached form allows (avtfuse.models.classical: MFCC statistics + logistic regression for a log-mel;
16 x 16 pixels + logistic regression and Fisherfaces for frames and, by their mean frame, frame sequences; the
mean and std over time + logistic regression for another feature sequence), each the reference's features.

Every candidate is scored on the same samples: the validation recordings holding the sensor
(`SplitData.sensor_alone(m, "valid")`), each once, with every other sensor blanked. The highest accuracy wins;
of equal ones the first in CANDIDATE_ORDER (the fused model, then the specialist, then the classical models: the
simpler serving path first). The test split is never read here.
"""

import numpy as np

from avtfuse.evaluation.accuracy import predict_batches
from avtfuse.evaluation.report import markdown_table
from avtfuse.models.classical import fit_classical
from pipelines.augmentation import augmentation_kinds

FUSED, SPECIALIST = "fused", "specialist"
TITLE = "A lone sensor's answer, chosen on validation (--single-sensor best)"
CLASSICAL_KINDS = {"log_mel": ("mfcc_lr",), "frames": ("pixels_lr", "fisherfaces")}  # by the cached form
CANDIDATE_ORDER = (FUSED, SPECIALIST, "mfcc_lr", "sequence_lr", "pixels_lr", "fisherfaces")


def classical_kinds(data, modality):
    """The classical kinds `modality`'s cached form allows, the reference's for that form: a log-mel's MFCC
    statistics, frames' (and frame sequences') pixels and Fisherfaces, any other feature sequence [T, D] (MFCCs,
    `.npy` sequences, face embeddings) its mean and std over time; none for feature vectors [D]."""
    kinds = CLASSICAL_KINDS.get(augmentation_kinds(data).get(modality))
    return kinds or (("sequence_lr",) if len(data.shapes[modality]) == 2 else ())


def fitted_classical(data, modality, seed):
    """({kind: (ContractClassifier on `modality` alone, its classes: run labels [P])}, {kind: why it could not be
    fitted}) of `classical_kinds`, each fitted on the run's training recordings holding `modality`."""
    kinds = classical_kinds(data, modality)
    if not kinds:
        return {}, {}
    inputs, labels = data.modality_arrays(modality, "train")
    fitted, unavailable = {}, {}
    for kind in kinds:
        try:
            fitted[kind] = fit_classical(kind, modality, inputs, labels, seed=seed)
        except ValueError as error:
            unavailable[kind] = str(error)
    return fitted, unavailable


def alone(classifier, column):
    """`classifier`, a model on one sensor, called on contract batches with that sensor's present bit alone
    (column `column`), as `predict_batches` calls a classifier."""
    return lambda inputs, training=False: classifier(dict(inputs, present=inputs["present"][:, column:column + 1]),
                                                     training=training)


def choose(accuracies):
    """The candidate with the highest accuracy ({candidate: accuracy or None}), the first of equal ones in
    CANDIDATE_ORDER; FUSED when none was scored."""
    scored = [name for name in CANDIDATE_ORDER if accuracies.get(name) is not None]
    if not scored:
        return FUSED
    return max(scored, key=lambda name: (accuracies[name], -CANDIDATE_ORDER.index(name)))


def sensor_choice(data, modality, fused, specialist, specialist_classes, seed, batch_size):
    """One sensor's choice: ({"chosen", "validation": {candidate: accuracy or None}, "samples", "unavailable":
    {kind: reason}}, the chosen classical (ContractClassifier, classes) or None).

    fused: the run's fused ContractClassifier; specialist: the sensor's deep specialist or None, answering in its
    own class order, `specialist_classes` [P_m] (the run label of each of its classes)."""
    samples_alone = data.sensor_alone(modality, "valid")
    column = data.modalities.index(modality)
    classical, unavailable = fitted_classical(data, modality, seed)
    accuracies = dict.fromkeys(CANDIDATE_ORDER)
    samples = samples_alone.count("valid")
    if samples:
        batches = samples_alone.batches("valid", batch_size)
        truth, predicted, _ = predict_batches(fused, batches)
        accuracies[FUSED] = float(np.mean(predicted == truth))
        answers = {SPECIALIST: (specialist, specialist_classes)} if specialist is not None else {}
        for name, (model, classes) in {**answers, **classical}.items():
            predicted = predict_batches(alone(model, column), batches)[1]
            accuracies[name] = float(np.mean(np.asarray(classes)[predicted] == truth))
    chosen = choose(accuracies)
    choice = {"chosen": chosen, "validation": {name: value for name, value in accuracies.items()
                                               if name in (FUSED, SPECIALIST) or name in classical},
              "samples": samples, "unavailable": unavailable}
    return choice, classical.get(chosen)


def single_sensor_markdown(choices):
    """The choices of the single-sensor stage ({modality: `sensor_choice`'s}) as a markdown section: per sensor,
    the answer served and every candidate's validation accuracy (%)."""
    rows = [{"sensor": modality, "served": choice["chosen"],
             **{name: None if value is None else 100.0 * value for name, value in choice["validation"].items()},
             "samples": choice["samples"]} for modality, choice in choices.items()]
    columns = ["sensor", "served", *(name for name in CANDIDATE_ORDER if any(name in row for row in rows)), "samples"]
    table = markdown_table(rows, columns=columns, headers={"served": "answer served", "samples": "validation samples",
                                                           **{name: f"{name} (%)" for name in CANDIDATE_ORDER}})
    return f"## {TITLE}\n\n{table}"
