"""The config of one run: its system, variant and preset, the data, model, training and runtime sections, and
where its outputs go.

    config = build_experiment("avtnet", variant="prop", preset="small", data={"protocol": "strict"})
"""

import dataclasses
import os

from avtfuse.config import Config, setting
from avtfuse.contract import MODALITIES, SINGLE_SENSOR_ANSWERS
from avtfuse.evaluation.config import VerificationConfig
from avtfuse.files import check_name
from avtfuse.models import SYSTEMS
from avtfuse.training.config import TrainConfig
from avtfuse.training.runtime import RuntimeConfig
from pipelines.dataset import DataConfig
from pipelines.features import FeatureConfig

EXPORT_FORMATS = ("litert", "onnx")


def parse_formats(value):
    """Portable export formats from "litert,onnx", "none" or a sequence: a tuple in EXPORT_FORMATS order;
    ValueError naming an unknown one."""
    names = value.split(",") if isinstance(value, str) else list(value)
    names = [name.strip().lower() for name in names if name.strip() and name.strip().lower() != "none"]
    unknown = [name for name in names if name not in EXPORT_FORMATS]
    if unknown:
        raise ValueError(f"unknown export format {unknown[0]!r}; choose from {', '.join(EXPORT_FORMATS)} or none")
    return tuple(name for name in EXPORT_FORMATS if name in names)


@dataclasses.dataclass(frozen=True)
class ExperimentConfig(Config):
    """Everything a run depends on; written as config.json next to its outputs.

    system, variant, preset: names in `avtfuse.models.SYSTEMS`. model: the
    system's model config (a dict of its fields is accepted). specialists:
    also train, for each modality of a multimodal run, a specialist (the same
    settings on that modality alone, on the run's own split reduced to that
    sensor: `specialist_config`) and report it beside the fused model's
    single-sensor condition. specialist_branches: start the fused model from
    the specialists, each sensor's layers copied and frozen (embed-then-recognise
    systems). single_sensor: what answers a sample with one sensor
    left: "fused" (the fused model), "specialist" (that sensor's specialist:
    `SpecialistFallback`; the report gives the fused model's own accuracy beside
    it), "best" (per sensor, the fused model, the specialist or a classical model,
    as validation chooses: avtfuse.evaluation.single_sensor) or "confidence" (the
    specialists answer every sample; several sensors by their probabilities weighted
    by each one's confidence: confidence-weighted late fusion). reference, latency: whether the run has the reference and latency stages (evaluation only);
    verification: the settings of the verification stage (a run with held-out people; evaluation only).
    export: the portable forms written beside the SavedModel ("litert", "onnx"; avtfuse.serving.portable).
    run_name, output_dir, saved_models_dir: where the outputs go.
    """

    system: str = "avtnet"
    variant: str = setting("prop", "the system's variant (listed below)", flag=False)
    preset: str = setting("small", "preset of shapes and epochs: small or paper", flag="--config")
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: object = None
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    runtime: RuntimeConfig = dataclasses.field(default_factory=RuntimeConfig)
    verification: VerificationConfig = dataclasses.field(default_factory=VerificationConfig)
    specialists: bool = setting(False, "also train the same system on each modality alone (same split) and report "
                                "each single-sensor condition beside its specialist")
    specialist_branches: bool = setting(False, "train the specialists first and start the fused model from them: "
                                        "each sensor's branch and embedding head copied and frozen, the joint layers "
                                        "trained (AVTNet)")
    single_sensor: str = setting("fused", "what answers a sample with one sensor left: fused (the fused model), "
                                 "specialist (that sensor's specialist, trained first; the report keeps the fused "
                                 "model's own accuracy beside it), best (per sensor, the fused model, the "
                                 "specialist or a classical model, as validation chooses) or confidence (the "
                                 "specialists answer every sample, several sensors' probabilities weighted by "
                                 "their confidence: late fusion)",
                                 choices=SINGLE_SENSOR_ANSWERS)
    reference: bool = setting(True, "the scikit-learn reference of each single-sensor condition (trained on that "
                              "condition's split, reported beside it)")
    latency: bool = setting(True, "the measurement of the exported SavedModel's batch-1 serving latency "
                            "(timing.json)")
    export: tuple = setting((), "portable forms of the exported model written beside the SavedModel, from its "
                            "raw-input signature: litert, onnx (comma-separated) or none", type=parse_formats,
                            metavar="FORMATS")
    run_name: str = setting("run", "name of the run folder and SavedModel (one folder name: no '.', '..', path "
                            "separators or control characters)", group="runtime", preset="built from the settings")
    output_dir: str = setting("runs", "parent of the run folder", group="runtime")
    saved_models_dir: str = setting("saved_models", "SavedModel folder", group="runtime")

    def __post_init__(self):
        self.check_choice("system", SYSTEMS)
        system = SYSTEMS[self.system]
        self.check_choice("variant", system.variants)
        self.check_choice("preset", system.presets)
        self._set("model", system.config_class.coerce(self.model))
        self.check_bool("specialists", "specialist_branches", "reference", "latency")
        self.check_choice("single_sensor", SINGLE_SENSOR_ANSWERS)
        self._set("export", parse_formats(self.export))
        check_name(self.run_name, "--run-name (ExperimentConfig.run_name)")

    @property
    def trains_specialists(self):
        """Whether the run trains (and reports) single-sensor specialists: a multimodal run asked for them."""
        wanted = self.specialists or self.specialist_branches or self.single_sensor != "fused"
        return wanted and len(self.data.modalities) > 1

    @property
    def run_dir(self):
        return os.path.join(self.output_dir, self.run_name)

    def identity(self):
        """What the trained models depend on: the config less runtime settings, locations and evaluation-only
        settings (a dict; settings added later are left out at their default, `Setting.identity_at_default`)."""
        values = self.identity_dict()
        for key in ("runtime", "run_name", "output_dir", "saved_models_dir", "reference", "latency", "verification",
                    "export"):
            values.pop(key)
        for key in DataConfig.LOCATION_FIELDS + DataConfig.EVALUATION_FIELDS:
            values["data"].pop(key)
        return values


def default_run_name(*parts, seed=None):
    """A run's name: the parts joined with "-", then "seed<seed>" when a seed is given. A part may be a tuple of
    modalities (written as their initials, "avt"), a (field, value) pair of a changed setting ("<field>-<value>",
    "no-<field>" for a switch turned off; the field with dashes), or None or "" (left out).

        default_run_name("prop", "small", ("audio", "visible", "thermal"), "paper", seed=0)
        # prop-small-avt-paper-seed0
    """
    words = []
    for part in parts:
        if isinstance(part, tuple) and len(part) == 2 and part[0] not in MODALITIES:
            field, value = part
            field = field.replace("_", "-")
            words.append(f"no-{field}" if value is False else f"{field}-{value}")
        elif isinstance(part, (tuple, list)):
            words.append("".join(modality[0] for modality in part))
        elif part not in (None, ""):
            words.append(str(part))
    if seed is not None:
        words.append(f"seed{seed}")
    return "-".join(words)


def build_experiment(system="avtnet", variant=None, preset=None, data=None, features=None, model=None,
                     train=None, runtime=None, specialists=False, run_name=None, output_dir="runs",
                     saved_models_dir="saved_models", specialist_branches=False, single_sensor="fused",
                     reference=True, latency=True, verification=None, export=(), name_parts=()):
    """An ExperimentConfig from a system's preset and variant plus changes per section (dicts of fields).

    The model config follows from the variant and the data's shapes; `data`,
    `train`, `features` and `model` changes go over the preset's (and `train` over the variant's). `features` may
    give `audio_seconds` in place of `audio_samples` (at the features' sample rate). The default run name is
    `default_run_name`'s: <variant>[-<name_parts>][-width-multiplier-<m>, unless m is 1]-<preset>-<modality
    initials>-<protocol, or fold<N> under the folds protocol>-seed<seed>.
    """
    if system not in SYSTEMS:
        raise ValueError(f"system: {system!r} is unknown; choose from {', '.join(SYSTEMS)}")
    spec = SYSTEMS[system]
    variant = variant or next(iter(spec.variants))
    preset_name = preset or next(iter(spec.presets))
    preset = spec.preset(preset_name)
    features = {**preset.features, **(features or {})}
    seconds = features.pop("audio_seconds", None)
    feature_config = FeatureConfig(**features)
    if seconds is not None:
        feature_config = feature_config.replace(audio_samples=round(seconds * feature_config.sample_rate))
    data_config = DataConfig(**{**preset.data, **(data or {}), "features": feature_config})
    model_config = spec.model_config(
        variant, data_config.modalities, feature_config.shapes(data_config.modalities),
        **{**preset.model, **(model or {})})
    train_config = TrainConfig(**{**preset.train, **spec.variants[variant].train, **(train or {})})
    if run_name is None:
        split = f"fold{data_config.fold}" if data_config.protocol == "folds" else data_config.protocol
        width = model_config.width_multiplier
        widths = [("width_multiplier", f"{width:g}")] if width != 1 else []
        run_name = default_run_name(variant, *name_parts, *widths, preset_name, data_config.modalities, split,
                                    seed=train_config.seed)
    return ExperimentConfig(
        system, variant, preset_name, data_config, model_config, train_config, RuntimeConfig(**(runtime or {})),
        VerificationConfig(**(verification or {})),
        specialists=specialists, specialist_branches=specialist_branches, single_sensor=single_sensor,
        reference=reference, latency=latency, export=export, run_name=run_name, output_dir=output_dir,
        saved_models_dir=saved_models_dir)


def specialist_config(config, modality):
    """The single-sensor specialist of `config`: the same settings on `modality` alone, in the run folder
    <run_name>-specialist-<modality> beside it (and its SavedModel likewise). It reads the run's split reduced
    to that sensor (`pipelines.split_data.SplitData.for_modality`), never a split of its own."""
    shapes = config.data.features.shapes((modality,))
    model = config.model.replace(modalities=(modality,), **SYSTEMS[config.system].input_fields(shapes))
    return config.replace(data=config.data.replace(modalities=(modality,)), model=model, specialists=False,
                          specialist_branches=False, single_sensor="fused",
                          run_name=f"{config.run_name}-specialist-{modality}")
