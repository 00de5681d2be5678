"""The corrupted evaluation of a run (`--corruptions`): the served classifier on the test split's complete
recordings under each chosen corruption at severities 1..5, the other sensors clean, and with every sensor
corrupted at once; results.json's "corruptions" section (the shared format below) and its markdown table.

    {"severities": [0, 1, 2, 3, 4, 5], "samples": n, "seed": s,
     "curves": {modality: {name: {"accuracy": [6 fractions], "eer": None}}, "all": {"every-sensor": {...}}}}

Severity 0 is the clean cache's same recordings. The corrupted features come from
pipelines.corruptions.features (one cache per corruption and severity, written once). "eer": in a run with
held-out people, the equal error rate of their test people's trials with every sensor enrolled and probed (the
verification stage's "complete|complete" pair, raw cosine scores of the fused model's embedding), enrolment and
probe recordings corrupted alike; None without held-out people.
"""

import logging
import time

import numpy as np

from avtfuse.contract import canonical_modalities, subsets
from avtfuse.evaluation.accuracy import predict_batches
from avtfuse.evaluation.report import markdown_table
from avtfuse.evaluation.verification import Embedded, embed, pair_trials, summary
from pipelines.corruptions.features import EVERY_SENSOR, corrupted_split
from pipelines.corruptions.seeding import SEVERITIES

logger = logging.getLogger(__name__)

ALL = "all"  # the curves key of every sensor corrupted at once
TITLE = "Corruptions (complete test recordings; accuracy and held-out people's EER, %)"


def chosen_corruptions(keys, modalities):
    """{modality: (names...)} of `keys` ("modality/name", pipelines.corruptions.KEYS) on the run's `modalities`, in
    canonical order; keys of other modalities are left out (logged once)."""
    chosen = {}
    for key in keys:
        modality, name = key.split("/")
        chosen.setdefault(modality, ())
        chosen[modality] += (name,)
    absent = [m for m in chosen if m not in modalities]
    if absent:
        logger.info("corruptions: the run has no %s sensor; its corruptions are left out", " or ".join(absent))
    return {m: chosen[m] for m in canonical_modalities(modalities) if m in chosen}


def complete_eer(data, backbone, batch_size):
    """The EER (a fraction) of `data`'s held-out test people with every sensor enrolled and probed, scored by the
    first embedding of `backbone` (avtfuse.evaluation.verification); None when those trials lack targets or
    non-targets."""
    embedded = Embedded.of(data.verification_samples("test"), embed(backbone, data.verification_batches(
        "test", batch_size)))
    complete = next(iter(subsets(data.modalities)))
    result = summary(pair_trials(embedded, next(iter(embedded.vectors)), complete, complete))
    return None if result is None else result["eer"]


def corruption_curves(data, classifier, keys, seed, batch_size, backbone=None):
    """The "corruptions" section (module docstring) of `classifier` on `data` (a SplitData) for `keys`
    (corruption keys) with corruption seed `seed`; `backbone`: the model whose embeddings verify the held-out
    people (None: no EER). ValueError when no test recording is complete or none of the keys' modalities is the
    run's."""
    chosen = chosen_corruptions(keys, data.modalities)
    if not chosen:
        raise ValueError(f"--corruptions: none of {', '.join(keys)} falls on the run's sensors "
                         f"({', '.join(data.modalities)})")

    def accuracy(view):
        labels, predicted, _ = predict_batches(classifier, view.batches("test", batch_size, complete_only=True))
        return float(np.mean(labels == predicted)) if len(labels) else None, len(labels)

    def eer(view):
        return None if backbone is None else complete_eer(view, backbone, batch_size)

    clean, samples = accuracy(data)
    if not samples:
        raise ValueError("--corruptions: the test split holds no complete recording to corrupt")
    clean_eer = eer(data)

    def curve(choice, label):
        start, accuracies, eers = time.time(), [clean], [clean_eer]
        for severity in SEVERITIES:
            view = corrupted_split(data, choice, severity, seed)
            value, count = accuracy(view)
            if count != samples:
                raise ValueError(f"corruptions: {count} corrupted samples of {label} at severity {severity}, "
                                 f"{samples} clean ones")
            accuracies.append(value)
            eers.append(eer(view))
        logger.info("corruption %s: accuracy %s%s (severity 0-5), %.1f s", label,
                    " ".join(f"{value:.3f}" for value in accuracies),
                    "" if backbone is None else ", EER " + " ".join(
                        "n/a" if value is None else f"{value:.3f}" for value in eers), time.time() - start)
        return {"accuracy": accuracies, "eer": eers if backbone is not None else None}

    curves = {m: {name: curve({m: (name,)}, f"{m}/{name}") for name in names} for m, names in chosen.items()}
    curves[ALL] = {EVERY_SENSOR: curve(chosen, EVERY_SENSOR)}
    return {"severities": [0, *SEVERITIES], "samples": samples, "seed": int(seed), "curves": curves}


def corruptions_markdown(section):
    """Markdown of a "corruptions" section: one row per curve (sensor, corruption, measure), accuracy and (where
    measured) EER in % at severity 0 (clean) to 5, under a level-3 heading naming the samples and seed. Ends with
    a newline."""
    severities = section["severities"]
    rows = [{"sensor": modality, "corruption": name, "measure": measure,
             **{str(severity): None if value is None else 100.0 * value
                for severity, value in zip(severities, entry[measure])}}
            for modality, curves in section["curves"].items() for name, entry in curves.items()
            for measure in ("accuracy", "eer") if entry[measure] is not None]
    headers = {str(severity): "clean" if severity == 0 else f"severity {severity}" for severity in severities}
    table = markdown_table(rows, columns=["sensor", "corruption", "measure", *map(str, severities)],
                           headers=headers)
    return (f"### {TITLE}\n\n{section['samples']} complete test recordings, corruption seed {section['seed']}; "
            "each sensor's corruption with the others clean, then every sensor corrupted at once (per recording "
            "and sensor one of its chosen corruptions).\n\n" + table)
