"""The validation people's EER after every epoch (`val_people_eer`), to choose a run's epochs on when it holds
people out of training (`SplitData.held_out_people`)."""

import keras
import numpy as np
import tensorflow as tf

from avtfuse.evaluation import verification
from avtfuse.evaluation.verification_metrics import equal_error_rate

PEOPLE_EER = "val_people_eer"


class HeldOutPeopleEER(keras.callbacks.Callback):
    """Adds PEOPLE_EER (a fraction) to each epoch's logs: the validation people's EER with every sensor enrolled
    and probed, scored on the first embedding (`ContractModel.embeddings`) of the model as it is (the backbone,
    or a classifier's). Place it before early stopping."""

    def __init__(self, data, batch_size):
        super().__init__()
        samples = data.verification_samples("valid")
        complete = np.asarray(samples["held"]).astype(str) == "complete"
        self.samples = {key: np.asarray(value)[complete] for key, value in samples.items()}
        self.batches = data.verification_batches("valid", batch_size).unbatch().filter(
            lambda inputs: tf.reduce_all(inputs["present"] > 0)).batch(batch_size)

    def on_epoch_end(self, epoch, logs=None):
        backbone = getattr(self.model, "backbone", self.model)
        vectors = {}
        for inputs in self.batches:
            for name, value in backbone.embeddings(backbone(inputs, training=False)).items():
                vectors.setdefault(name, []).append(keras.ops.convert_to_numpy(keras.ops.cast(value, "float32")))
        embedded = verification.Embedded.of(self.samples, {n: np.concatenate(v) for n, v in vectors.items()})
        trials = verification.pair_trials(embedded, next(iter(embedded.vectors)), "complete", "complete")
        if logs is not None:
            logs[PEOPLE_EER] = equal_error_rate(*trials.flat())["eer"]
