"""The validation people's EER after every epoch (avtfuse.training.people_eer) on fake held-out samples: the subset
it scores, its value against the verification scoring, and the refusal when no subset can be scored."""

import numpy as np
import pytest
import tensorflow as tf

from avtfuse.evaluation import verification
from avtfuse.evaluation.verification_metrics import equal_error_rate
from avtfuse.training.people_eer import PEOPLE_EER, HeldOutPeopleEER, scored_subset

MODALITIES = ("audio", "visible")
BITS = {"complete": (1.0, 1.0), "only_audio": (1.0, 0.0), "only_visible": (0.0, 1.0)}


class FakeData:
    """Validation people p1..p3, 4 recordings each (2 enrol); each recording's samples in `held`; its audio input a
    noisy copy of its person's centre."""

    modalities = MODALITIES

    def __init__(self, held=("complete", "only_audio", "only_visible"), seed=0):
        rng = np.random.default_rng(seed)
        centres = {p: rng.normal(size=6) for p in ("p1", "p2", "p3")}
        rows = [(p, take < 2, name, f"{p}-{take}", centres[p] + 0.8 * rng.normal(size=6))
                for p in centres for take in range(4) for name in held]
        persons, enrol, names, recordings, vectors = zip(*rows)
        self.samples = {"persons": np.array(persons), "enrolment": np.array(enrol), "held": np.array(names),
                        "recordings": np.array(recordings)}
        self.inputs = {"audio": np.array(vectors, np.float32),
                       "present": np.array([BITS[name] for name in names], np.float32)}

    def verification_samples(self, kind):
        assert kind == "valid"
        return self.samples

    def verification_batches(self, kind, batch_size):
        return tf.data.Dataset.from_tensor_slices(self.inputs).batch(batch_size)


class FakeBackbone:
    """Embeds a sample as its audio input scaled by its presence of visible plus one (so subsets differ)."""

    def __call__(self, inputs, training=False):
        return {"vector": inputs["audio"] * (1.0 + inputs["present"][:, 1:2])}

    def embeddings(self, outputs):
        return {"joint": outputs["vector"]}


def test_the_callback_logs_the_eer_of_the_complete_subset():
    data = FakeData()
    callback = HeldOutPeopleEER(data, batch_size=5)
    callback.set_model(FakeBackbone())
    logs = {}
    callback.on_epoch_end(0, logs)
    chosen = data.samples["held"] == "complete"
    embedded = verification.Embedded.of({k: v[chosen] for k, v in data.samples.items()},
                                        {"joint": 2.0 * data.inputs["audio"][chosen]})
    scores, targets = verification.pair_trials(embedded, "joint", "complete", "complete").flat()
    assert callback.subset == "complete" and targets.sum() == 6 and (~targets).sum() == 12
    assert logs[PEOPLE_EER] == pytest.approx(equal_error_rate(scores, targets)["eer"])
    assert 0.0 <= logs[PEOPLE_EER] < 0.5


def test_without_complete_recordings_the_subset_with_most_probes_is_scored_and_none_is_refused():
    data = FakeData(held=("only_audio", "only_visible"))
    data.samples["held"][(data.samples["held"] == "only_visible") & (data.samples["persons"] == "p3")] = "only_audio"
    assert scored_subset(data.samples) == "only_audio"
    lonely = FakeData(held=("only_audio",))
    lonely.samples["enrolment"][lonely.samples["persons"] != "p1"] = False  # one person enrols
    with pytest.raises(ValueError, match="^--held-out-people: no sensor subset both enrols two validation people"):
        scored_subset(lonely.samples)
