"""The plan of a run: its stages, in order, decided from the config before anything trains.

    data -> specialist-<m> (each, when the run has specialists) -> fused -> single-sensor (with --single-sensor
    best) -> evaluate -> reference (unless
    --no-reference) -> specialists -> rate-sweep (with missing rates) -> corruptions (with --corruptions)
    -> verification (with held-out people) -> calibration -> export -> latency (unless --no-latency) -> report

A stage's key is the digest of its own settings and of the keys of the stages it reads, so changing one
setting re-runs the stages that depend on it and no other; a stage whose recorded key differs is pending.
"""

import dataclasses
import functools

from avtfuse.evaluation import stages as evaluation
from avtfuse.files import file_stamp
from avtfuse.runs import stages as training
from avtfuse.runs.config import specialist_config
from avtfuse.runs.folder import digest


@dataclasses.dataclass(frozen=True)
class Stage:
    """One step of a run. run(state) -> a JSON-ready dict of outputs (kept in stages/<name>.json); settings:
    what its outputs depend on besides the stages it `needs`; trains: every worker of a cluster runs it (the
    others run on the chief alone); discards: run folders whose training state a --redo of it deletes."""

    name: str
    run: object
    settings: dict
    needs: tuple = ()
    trains: bool = False
    discards: tuple = ()


def plan(config):
    """The stages of `config`'s run, in order (a list of Stage)."""
    identity = config.identity()
    stages = [Stage("data", training.prepare_data, {"data": identity["data"], "system": config.system})]
    specialists = []
    if config.trains_specialists:
        for modality in config.data.modalities:
            specialist = specialist_config(config, modality)
            specialists.append(f"specialist-{modality}")
            stages.append(Stage(specialists[-1], functools.partial(training.train_specialist, modality=modality),
                                {"identity": specialist.identity()}, ("data",), trains=True,
                                discards=(specialist.run_dir,)))
    starts_from = tuple(specialists) if config.specialist_branches else ()
    served = ("fused",) + (tuple(specialists) if config.single_sensor != "fused" else ())
    stages.append(Stage("fused", training.train_fused, {"identity": identity}, ("data",) + starts_from, trains=True,
                        discards=(config.run_dir,)))
    if config.single_sensor == "best" and specialists:
        stages.append(Stage("single-sensor", evaluation.single_sensor, {"seed": config.train.seed},
                            ("data", "fused", *specialists)))
        served += ("single-sensor",)
    stages.append(Stage("evaluate", evaluation.evaluate_conditions, {}, served))
    reference = ("reference",) if config.reference else ()
    if reference:
        stages.append(Stage("reference", evaluation.reference, {"seed": config.train.seed}, ("data", "evaluate")))
    if specialists:
        stages.append(Stage("specialists", evaluation.compare_specialists, {}, ("evaluate", *reference, *specialists)))
    if config.data.missing_rates:
        stages.append(Stage("rate-sweep", evaluation.rate_sweep, {"missing_rates": list(config.data.missing_rates)},
                            served))
    if config.data.corruptions:
        stages.append(Stage("corruptions", evaluation.corruptions, {"corruptions": list(config.data.corruptions)},
                            served))
    if config.data.held_out_people:
        stages.append(Stage("verification", evaluation.verification,
                            {"verification": config.verification.to_dict(),
                             "trial_list": file_stamp(config.verification.trials)}, ("data", "fused", *specialists)))
    stages.append(Stage("calibration", evaluation.calibration, {"target_far": config.verification.target_far},
                        ("data", "fused")))
    stages.append(Stage("export", training.export, {"saved_models_dir": config.saved_models_dir,
                                                     "run_name": config.run_name, "formats": list(config.export)},
                        (*served, "calibration")))
    if config.latency:
        stages.append(Stage("latency", evaluation.latency, {}, ("export",)))
    stages.append(Stage("report", evaluation.report, {},
                        tuple(stage.name for stage in stages if stage.name not in ("data", "fused")
                              and not stage.name.startswith("specialist-"))))
    return stages


def stage_keys(stages):
    """{stage name: its key} (see the module docstring)."""
    keys = {}
    for stage in stages:
        keys[stage.name] = digest({"settings": stage.settings, "needs": [keys[name] for name in stage.needs]})
    return keys

