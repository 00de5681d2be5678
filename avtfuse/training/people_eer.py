"""The validation people's EER after every epoch (`val_people_eer`), to choose a run's epochs on when it holds
people out of training (`SplitData.held_out_people`)."""

import keras
import numpy as np
import tensorflow as tf

from avtfuse.contract import COMPLETE
from avtfuse.evaluation import verification
from avtfuse.evaluation.verification_metrics import equal_error_rate

PEOPLE_EER = "val_people_eer"


def scored_subset(samples):
    """The sensor subset (condition name) the callback enrols and probes with: every sensor when two validation
    people enrol with it and their probes hold it, else the subset with the most such probes; ValueError naming
    --held-out-people when none has."""
    held, persons, enrolment = (np.asarray(samples[key]) for key in ("held", "persons", "enrolment"))
    probes = {}
    for name in dict.fromkeys(held.tolist()):
        enrolled = set(persons[enrolment & (held == name)])
        probes[name] = int((~enrolment & (held == name) & np.isin(persons, list(enrolled))).sum()) \
            if len(enrolled) >= 2 else 0
    if probes.get(COMPLETE):
        return COMPLETE
    if not any(probes.values()):
        raise ValueError("--held-out-people: no sensor subset both enrols two validation people and probes them; "
                         "hold out more people or give them more recordings")
    return max(probes, key=probes.get)


class HeldOutPeopleEER(keras.callbacks.Callback):
    """Adds PEOPLE_EER (a fraction) to each epoch's logs: the validation people's EER, enrolled and probed with one
    sensor subset (`scored_subset`), scored on the first embedding (`ContractModel.embeddings`) of the model as it
    is (the backbone, or a classifier's). Place it before early stopping."""

    def __init__(self, data, batch_size):
        super().__init__()
        samples = data.verification_samples("valid")
        self.subset = scored_subset(samples)
        chosen = np.asarray(samples["held"]).astype(str) == self.subset
        self.samples = {key: np.asarray(value)[chosen] for key, value in samples.items()}
        bits = [float(m in verification.subsets(data.modalities)[self.subset]) for m in data.modalities]
        self.batches = data.verification_batches("valid", batch_size).unbatch().filter(
            lambda inputs: tf.reduce_all(tf.equal(inputs["present"], bits))).batch(batch_size)

    def on_epoch_end(self, epoch, logs=None):
        vectors = verification.embed(getattr(self.model, "backbone", self.model), self.batches)
        embedded = verification.Embedded.of(self.samples, vectors)
        trials = verification.pair_trials(embedded, next(iter(embedded.vectors)), self.subset, self.subset)
        if logs is not None:
            logs[PEOPLE_EER] = equal_error_rate(*trials.flat())["eer"]
