"""`--sweep SETTING=V1,V2,...`: one run per value of a training or model setting, all on the run's one split; every
run is kept, and validation (the served model's headline WA on the validation split, results.json "validation")
chooses one. The test numbers of every run are reported beside, never used to choose.

    summary = run_sweep("--width-multiplier", [(0.5, config_a), (1.0, config_b)], run_experiment, "small")
    print(sweep_markdown(summary))
"""

import os

from avtfuse.evaluation.report import markdown_table
from avtfuse.runs.folder import write_json

CHOOSING_METRIC = "WA"  # of the validation split's headline conditions


def sweep_configs(option, configs):
    """Checks that the configs of a sweep ([(value, ExperimentConfig)]) differ only where a training or model
    setting can: the same data, split and seed (so one split), distinct run names. ValueError naming --sweep."""
    first = configs[0][1]
    if len(configs) < 2:
        raise ValueError(f"--sweep: {option} needs two values or more")
    for value, config in configs[1:]:
        if config.data != first.data or config.train.seed != first.train.seed:
            raise ValueError(f"--sweep: {option} {value} changes the data or its split; sweep a training or model "
                             "setting")
    names = [config.run_name for _, config in configs]
    if len(set(names)) != len(names):
        raise ValueError(f"--sweep: the runs would share a folder ({', '.join(names)})")
    return configs


def run_sweep(option, configs, run, name):
    """Runs (or resumes) each config of `sweep_configs(option, configs)` with `run(config) -> results`; returns
    {"setting", "runs": [{"value", "run_dir", "validation", "test"} ...], "chosen": the run_dir validation chose
    (the highest validation WA, the first of equal ones), "metric"}, also written to
    <output_dir>/sweep-<name>-<setting>.json. ValueError when a run has no validation split."""
    rows = []
    for value, config in sweep_configs(option, configs):
        results = run(config)
        if not results.get("validation"):
            raise ValueError(f"--sweep: run {config.run_name} has no validation samples to choose by "
                             "(--validation-fraction)")
        rows.append({"value": value, "run_dir": config.run_dir,
                     "validation": results["validation"]["metrics"][CHOOSING_METRIC],
                     "test": results["metrics"][CHOOSING_METRIC]})
    chosen = max(rows, key=lambda row: row["validation"])  # max keeps the first of equal ones
    summary = {"setting": option, "metric": CHOOSING_METRIC, "runs": rows, "chosen": chosen["run_dir"]}
    write_json(os.path.join(configs[0][1].output_dir, f"sweep-{name}-{option.lstrip('-')}.json"), summary)
    return summary


def sweep_markdown(summary):
    """The sweep as a markdown table (accuracies in %) and the line naming the run validation chose."""
    rows = [{"value": row["value"], "validation": 100.0 * row["validation"], "test": 100.0 * row["test"],
             "run": row["run_dir"]} for row in summary["runs"]]
    metric = summary["metric"]
    table = markdown_table(rows, headers={"value": summary["setting"], "validation": f"validation {metric} (%)",
                                          "test": f"test {metric} (%)", "run": "run folder"})
    chosen = next(row for row in summary["runs"] if row["run_dir"] == summary["chosen"])
    return (f"## Sweep of {summary['setting']}\n\n{table}\nValidation chose {summary['setting']} {chosen['value']}: "
            f"{summary['chosen']}\n")
