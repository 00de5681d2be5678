"""The settings of a run's verification stage (avtfuse.evaluation.verification): evaluation only, so a change
re-runs that stage and never retrains."""

import dataclasses
import os

from avtfuse.config import Config, setting


@dataclasses.dataclass(frozen=True)
class VerificationConfig(Config):
    """`target_far`: the false-accept rate (a fraction) each probe subset's threshold is set for on the validation
    people (open-set identification, the realised rates of a deployment). `as_norm_top_k`: AS-norm of every score
    against a cohort of the training people, their K highest scores (0: raw scores alone). `trials`: a trial list
    in VoxCeleb's format (lines "label enrolment probe": 1 same person, 0 not; recording ids of held-out people)
    scored besides the run's own trials."""

    target_far: float = setting(0.01, "false-accept rate of the threshold the validation people choose per probe "
                                "subset (open-set identification, realised FAR/FRR)", group="verification")
    as_norm_top_k: int = setting(0, "AS-norm against the training people: the K highest cohort scores (0: off)",
                                 group="verification")
    trials: str | None = setting(None, "a trial list, VoxCeleb format (label enrolment-recording probe-recording "
                                 "per line), scored on the held-out people", group="verification")

    def __post_init__(self):
        if isinstance(self.target_far, bool) or not isinstance(self.target_far, (int, float)) \
                or not 0.0 < self.target_far < 1.0:
            self._fail("target_far", "a rate in (0, 1)")
        self._set("target_far", float(self.target_far))
        self.check_int("as_norm_top_k", minimum=0)
        if self.trials is not None and not os.path.isfile(self.trials):
            raise ValueError(f"--trials: {self.trials}: no such file")
