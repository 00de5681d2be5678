"""What the stages of one run share: the config, the runtime, the run folder, and (read once, when a stage asks)
the data with its one split, the config resolved against it, and the trained models in the run folders."""

import logging
import os
import time

import keras

from avtfuse.contract import LABELS_FILE, save_class_names
from avtfuse.models import SYSTEMS
from avtfuse.models.specialist_fallback import SpecialistFallback
from avtfuse.runs.config import specialist_config
from avtfuse.runs.folder import RunFolder, RunMismatch
from avtfuse.training.recipes import CLASSIFIER_FILE
from pipelines.dataset import prepare

logger = logging.getLogger(__name__)


def resolve(config, data):
    """`config` with its model's modalities and input shapes those of the prepared `data` (a modality no
    recording has; `.npy` features of their own shape), and without batch replication when one modality is
    left (it drops one of several): a new config, the given one unchanged."""
    fields = {"modalities": data.modalities, **SYSTEMS[config.system].input_fields(data.shapes)}
    if any(getattr(config.model, name) != value for name, value in fields.items()):
        logger.info("model inputs follow the data: %s", data.shapes)
        config = config.replace(model=config.model.replace(**fields))
    if len(data.modalities) == 1 and config.train.replication != "none":
        logger.warning("modality dropout %s needs two modalities; the run has %s alone: trained without it",
                       config.train.replication, data.modalities[0])
        config = config.replace(train=config.train.replace(replication="none"))
    return config


class RunState:
    """config: the run's ExperimentConfig as given; runtime: its Runtime; verbose: Keras progress."""

    def __init__(self, config, runtime, verbose):
        self.config, self.runtime, self.verbose = config, runtime, verbose
        self.folder = RunFolder(config.run_dir, chief=runtime.worker.is_chief)
        self._data = self._resolved = self._served = None
        self.training_seconds = 0.0
        self.start = time.time()
        self.stage_names = ()  # the plan's, set by the driver
        self.outputs = {}  # stage name -> its outputs, read from its record when not run in this invocation

    def stage_outputs(self, name):
        """The outputs of an earlier stage of the plan."""
        if name not in self.outputs:
            self.outputs[name] = self.folder.stage_record(name)["outputs"]
        return self.outputs[name]

    def has_stage(self, name):
        return name in self.stage_names

    def elapsed(self):
        """Seconds since this invocation began."""
        return time.time() - self.start

    @property
    def chief(self):
        return self.runtime.worker.is_chief

    def open(self):
        """Prepares the data (the chief first: it writes the cache), resolves the config against it, and opens
        the run folder: identity, config.json, split.csv (checked against the one a resumed run trained on),
        labels.json."""
        with self.runtime.chief_first():
            self._data = prepare(self.config.data)
            self._resolved = resolve(self.config, self._data)
            self.open_folder(self.folder, self._resolved, self._data)
        logger.info("%s", self._data.summary())

    def open_folder(self, folder, config, data):
        """Opens one run folder (the run's or a specialist's) for `config` trained on `data`'s split."""
        folder.open({"config": config.identity(), "data_sha256": data.content_hash}, config.to_dict())
        folder.keep_split(data.split_rows())
        if folder.chief:
            save_class_names(data.class_names, folder.path(LABELS_FILE))

    @property
    def data(self):
        """The run's SplitData (its one split)."""
        if self._data is None:
            self.open()
        return self._data

    @property
    def resolved(self):
        """The config resolved against the data (`resolve`)."""
        if self._resolved is None:
            self.open()
        return self._resolved

    def specialist(self, modality):
        """(config, SplitData) of `modality`'s specialist: the run's settings and split reduced to that sensor."""
        data = self.data.for_modality(modality)
        return resolve(specialist_config(self.resolved, modality), data), data

    def load_classifier(self, run_dir):
        """The trained classifier a run folder holds (`CLASSIFIER_FILE`), for evaluation and export on this
        process alone: loaded outside the run's distribution strategy (under several workers its variables
        would wait for the other workers, which evaluate nothing)."""
        path = os.path.join(run_dir, CLASSIFIER_FILE)
        if not os.path.exists(path):
            raise RunMismatch(f"{run_dir}: no {CLASSIFIER_FILE} (a run of an earlier release); pass --fresh to train "
                              "it again")
        return keras.models.load_model(path)

    def fused_classifier(self):
        return self.load_classifier(self.config.run_dir)

    def specialist_classes(self, modality):
        """The run's class index of each class of `modality`'s specialist, in its order."""
        names = self.data.class_names
        return [names.index(name) for name in self.data.for_modality(modality).class_names]

    def served_classifier(self):
        """What the run serves: the fused classifier; with single_sensor "specialist" the SpecialistFallback
        around it and the specialists ("confidence": the same, combining several sensors' specialists by
        confidence); with "best", around it and the answer validation chose per sensor (the
        single-sensor stage's outputs: the fused model itself for a sensor, or its specialist, or a classical
        model)."""
        if self._served is None:
            self._served = self.fused_classifier()
            choices = {}  # {modality: the single-sensor stage's choice, or {"chosen": "specialist"}}
            if self.config.single_sensor in ("specialist", "confidence") and len(self.data.modalities) > 1:
                choices = dict.fromkeys(self.data.modalities, {"chosen": "specialist"})
            if self.config.single_sensor == "best" and self.has_stage("single-sensor"):
                choices = self.stage_outputs("single-sensor")
            answers, classes = {}, {}
            for modality, choice in choices.items():
                if choice["chosen"] == "specialist":
                    answers[modality] = self.load_classifier(specialist_config(self.config, modality).run_dir)
                    classes[modality] = self.specialist_classes(modality)
                elif choice["chosen"] != "fused":
                    answers[modality] = keras.models.load_model(choice["path"])
                    classes[modality] = choice["classes"]
            if answers:
                combine = "confidence" if self.config.single_sensor == "confidence" else "fused"
                self._served = SpecialistFallback.around(self._served, answers, classes=classes, combine=combine)
        return self._served
