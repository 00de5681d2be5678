"""Tables of runs, resumable: AVTNet's comparison table (variants x modality subsets x protocols x ablations x
seeds; `run_table`) and any list of cells (`run_each`: the SA-fusion Table II, the robustness benchmark).

The runs are driven through the library (`run_experiment`); a finished run
is read back, never repeated. The comparison reports are avtfuse.evaluation.comparison's.
"""

import dataclasses
import logging
import os

from avtfuse.contract import MODALITIES
from avtfuse.evaluation import comparison
from avtfuse.runs import default_run_name, finished_results, run_experiment

logger = logging.getLogger(__name__)

# Table 2 of the AVTNet paper: the proposed model on each pair of modalities.
BIMODAL_MODALITIES = (("audio", "visible"), ("audio", "thermal"), ("visible", "thermal"))


@dataclasses.dataclass(frozen=True)
class TableRun:
    """One cell of the table: a variant on some modalities under a protocol, trained on the copies of an
    ablation (DataConfig.ablation), with a seed."""

    variant: str
    modalities: tuple
    protocol: str
    seed: int
    ablation: str = comparison.PAPER_ABLATION

    @property
    def name(self):
        """Run folder name, e.g. prop-avt-paper-seed0, prop-avt-strict-subsets-seed0."""
        ablation = None if self.ablation == comparison.PAPER_ABLATION else self.ablation
        return default_run_name(self.variant, tuple(self.modalities), self.protocol, ablation, seed=self.seed)

    def describe(self):
        subset = "" if len(self.modalities) == len(MODALITIES) else " " + ",".join(self.modalities)
        return f"{comparison.variant_label(self.variant, self.ablation)}{subset} {self.protocol} seed {self.seed}"


def table_runs(variants, seeds, protocols, bimodal_variant=None, ablations=(comparison.PAPER_ABLATION,)):
    """Every run of the table, seed by seed so that an interrupted table is complete for the early seeds.

    bimodal_variant: also run this variant on each pair of modalities (Table 2), or None; ablations: the
    training copies each run is made with (DataConfig.ablation), each its own run.
    """
    runs = []
    for seed in seeds:
        for protocol in protocols:
            for ablation in ablations:
                runs += [TableRun(variant, MODALITIES, protocol, seed, ablation) for variant in variants]
                if bimodal_variant:
                    runs += [TableRun(bimodal_variant, pair, protocol, seed, ablation) for pair in BIMODAL_MODALITIES]
    return runs


def run_table(runs, configure, verbose=2):
    """Runs (or reads back) every run; returns the run list avtfuse.evaluation.comparison expects.

    configure(TableRun) -> the ExperimentConfig of that run.
    """
    done = []
    for index, run in enumerate(runs, start=1):
        config = configure(run)
        results = finished_results(config)
        if results is not None:
            logger.info("run %d/%d: %s already finished (%s)", index, len(runs), run.describe(), config.run_dir)
        else:
            logger.info("run %d/%d: %s", index, len(runs), run.describe())
            results = run_experiment(config, verbose=verbose)
        done.append({"variant": run.variant, "modalities": list(run.modalities), "protocol": run.protocol,
                     "seed": run.seed, "ablation": run.ablation, "run_dir": config.run_dir, "results": results,
                     "config": config.to_dict()})
    return done


def run_each(cells, configure, describe=str, verbose=2):
    """Runs (or reads back) the run of each cell, printing "run i/n: <describe(cell)>" (and " (finished earlier)"
    when read back); returns [(cell, ExperimentConfig, results)]. configure(cell) -> the ExperimentConfig of that
    cell; every cell is configured first, so that bad settings fail before any run starts."""
    configs = [configure(cell) for cell in cells]
    done = []
    for index, (cell, config) in enumerate(zip(cells, configs), start=1):
        results = finished_results(config)
        print(f"run {index}/{len(cells)}: {describe(cell)}" + (" (finished earlier)" if results else ""), flush=True)
        if results is None:
            results = run_experiment(config, verbose=verbose)
        done.append((cell, config, results))
    return done


def write_reports(runs, output_dir):
    """Writes table1.md/.csv, table2.md (with bimodal runs), robustness.png and comparison.json; returns the paths."""
    summary = comparison.summarise(runs)
    paths = list(comparison.write_table1(summary, output_dir))
    paths.append(comparison.write_table2(summary, output_dir))
    paths.append(comparison.plot_robustness(summary, os.path.join(output_dir, "robustness.png")))
    paths.append(comparison.write_comparison_json(runs, summary, os.path.join(output_dir, "comparison.json")))
    return [path for path in paths if path is not None]
