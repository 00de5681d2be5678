"""A run as a plan of stages: the data and its one split, each specialist, the fused model, evaluation, export,
report (avtfuse.runs.plan). `run_experiment` executes the plan, each stage resumable; `plan_text` shows it
without training."""

from avtfuse.runs.config import ExperimentConfig, build_experiment, default_run_name, specialist_config
from avtfuse.runs.driver import finished_results, plan_text, read_timing, run_experiment
from avtfuse.runs.folder import RunMismatch
from avtfuse.runs.plan import plan
