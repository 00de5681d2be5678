"""Reproduce the AVTNet paper's Table 1 and Table 2: every variant, several seeds, both split protocols.

    python -m experiments.avtnet_table                                 # all variants, seeds 0,1,2, both protocols
    python -m experiments.avtnet_table --variants prop,e2e --seeds 0 --protocols paper --no-bimodal \\
        -- --epochs-embed 3 --epochs-recognizer 3 --image-size 32         # a small table on a CPU
    python -m experiments.avtnet_table -- --data /data/SpeakingFaces --config paper --gpus 1

Each (variant, modalities, protocol, seed) is one run of `python -m experiments.avtnet`, written to
<output-dir>/runs/<variant>-<modalities>-<protocol>-seed<N>/ (SavedModels under
<output-dir>/saved_models/). Flags after `--` (or any flag this command does not know) go to every
run unchanged, e.g. --data, --config, --epochs-embed, --image-size, --sampler, --gpus. Running the
same command again resumes: a finished run (its results.json exists) is not repeated.

Writes into <output-dir>: table1.md and table1.csv (accuracy per condition, mean and std over
seeds, one row per variant, a section per protocol), table2.md (trimodal prop against the
bimodal AV, AT and VT runs), robustness.png (accuracy per condition for each variant) and
comparison.json (every run's results and config, and the summary).
"""

import argparse
import dataclasses
import json
import logging
import os
import sys

from avtfuse.contract import MODALITIES
from experiments import avtnet

logger = logging.getLogger("experiments.avtnet_table")

VARIANTS = tuple(avtnet.VARIANTS)
PROTOCOLS = ("paper", "strict")
# Table 2: the proposed model on each pair of modalities (the paper's AV, AT, VT).
BIMODAL_VARIANT = "prop"
BIMODAL_MODALITIES = (("audio", "visible"), ("audio", "thermal"), ("visible", "thermal"))
# avtnet flags that this command sets for every run itself.
RESERVED_FLAGS = ("--variant", "--modalities", "--protocol", "--seed", "--run-name", "--output-dir",
                  "--saved-models-dir", "--fresh")


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One cell of the table: a variant on some modalities under a protocol with a seed."""

    variant: str
    modalities: tuple
    protocol: str
    seed: int

    @property
    def name(self):
        """Run folder name, e.g. prop-avt-paper-seed0."""
        initials = "".join(name[0] for name in self.modalities)
        return f"{self.variant}-{initials}-{self.protocol}-seed{self.seed}"

    def describe(self):
        subset = "" if len(self.modalities) == len(MODALITIES) else " " + ",".join(self.modalities)
        return f"{self.variant}{subset} {self.protocol} seed {self.seed}"


def _comma_list(text, flag):
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"{flag}: empty list")
    return items


def _chosen_from(flag, allowed):
    """An argparse type: a comma list of names from `allowed`, repeats dropped, order kept."""
    def parse(text):
        chosen = _comma_list(text, flag)
        unknown = [item for item in chosen if item not in allowed]
        if unknown:
            raise argparse.ArgumentTypeError(f"{flag}: unknown {unknown}; choose from {', '.join(allowed)}")
        return tuple(dict.fromkeys(chosen))
    return parse


def _seeds(text):
    try:
        return tuple(dict.fromkeys(int(seed) for seed in _comma_list(text, "--seeds")))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds: cannot read {text!r}; use integers such as 0,1,2") from None


def parse_args(argv=None):
    """Returns (table args, flags passed through to every avtnet run)."""
    parser = argparse.ArgumentParser(
        prog="python -m experiments.avtnet_table", description=__doc__, allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", type=_chosen_from("--variants", VARIANTS), default=VARIANTS,
                        help=f"comma-separated variants to run (default all: {','.join(VARIANTS)})")
    parser.add_argument("--seeds", type=_seeds, default=(0, 1, 2),
                        help="comma-separated seeds; each seed is a separate data set, split and training "
                        "(default 0,1,2)")
    parser.add_argument("--protocols", type=_chosen_from("--protocols", PROTOCOLS), default=PROTOCOLS,
                        help="comma-separated split protocols: paper (copies of a recording may cross the split, "
                        "as in the paper), strict (they may not) (default paper,strict)")
    parser.add_argument("--bimodal", action=argparse.BooleanOptionalAction, default=True,
                        help=f"also run {BIMODAL_VARIANT} on audio+visible, audio+thermal and visible+thermal "
                        "for Table 2 (default on; --no-bimodal skips them)")
    parser.add_argument("--output-dir", default=os.path.join("runs", "avtnet_table"),
                        help="where the tables, plot, JSON, run folders (runs/) and SavedModels (saved_models/) "
                        "go (default runs/avtnet_table)")
    args, passthrough = parser.parse_known_args(argv)
    passthrough = [flag for flag in passthrough if flag != "--"]
    reserved = [flag for flag in passthrough if flag.split("=")[0] in RESERVED_FLAGS]
    if reserved:
        parser.error(f"{', '.join(reserved)}: set by this command for every run; use --variants, --seeds, "
                     "--protocols, --bimodal and --output-dir instead")
    return args, passthrough


def run_specs(variants, seeds, protocols, bimodal):
    """Every run of the table, seed by seed so that an interrupted table is complete for the early seeds."""
    specs = []
    for seed in seeds:
        for protocol in protocols:
            specs += [RunSpec(variant, MODALITIES, protocol, seed) for variant in variants]
            if bimodal:
                specs += [RunSpec(BIMODAL_VARIANT, pair, protocol, seed) for pair in BIMODAL_MODALITIES]
    return specs


def run_flags(spec, output_dir, passthrough):
    """avtnet command-line flags of one run."""
    return ["--variant", spec.variant, "--modalities", ",".join(spec.modalities), "--protocol", spec.protocol,
            "--seed", str(spec.seed), "--run-name", spec.name, "--output-dir", os.path.join(output_dir, "runs"),
            "--saved-models-dir", os.path.join(output_dir, "saved_models")] + list(passthrough)


def finished_results(config):
    """The results of an earlier finished run with the same settings, or None when it has not finished.

    A finished run whose config.json differs from `config` is an error: its results would not
    belong in this table.
    """
    results_path = os.path.join(config.run_dir, "results.json")
    if not os.path.exists(results_path):
        return None
    config_path = os.path.join(config.run_dir, "config.json")
    if os.path.exists(config_path):
        with open(config_path) as handle:
            earlier = json.load(handle)
        if earlier != json.loads(json.dumps(config.to_dict())):
            raise SystemExit(f"{config.run_dir} holds a finished run with other settings (see its config.json); "
                             "use another --output-dir or delete that folder")
    with open(results_path) as handle:
        return json.load(handle)


def run_table(specs, output_dir, passthrough):
    """Runs (or resumes) every spec; returns the runs list that avtfuse.evaluation.comparison expects."""
    runs = []
    for index, spec in enumerate(specs, start=1):
        args = avtnet.parse_args(run_flags(spec, output_dir, passthrough))
        config = avtnet.build_config(args)
        results = finished_results(config)
        if results is not None:
            logger.info("run %d/%d: %s already finished (%s)", index, len(specs), spec.describe(), config.run_dir)
        else:
            logger.info("run %d/%d: %s", index, len(specs), spec.describe())
            verbose = args.verbose if args.verbose is not None else 2
            results = avtnet.run(config, fresh=False, verbose=verbose)
        runs.append({"variant": spec.variant, "modalities": list(spec.modalities), "protocol": spec.protocol,
                     "seed": spec.seed, "run_dir": config.run_dir, "results": results, "config": config.to_dict()})
    return runs


def write_reports(runs, output_dir):
    """Writes table1.md/.csv, table2.md (when there are bimodal runs), robustness.png and
    comparison.json into `output_dir`; returns the paths written."""
    from avtfuse.evaluation import comparison

    summary = comparison.summarise(runs)
    paths = list(comparison.write_table1(summary, output_dir))
    paths.append(comparison.write_table2(summary, output_dir))
    paths.append(comparison.plot_robustness(summary, os.path.join(output_dir, "robustness.png")))
    paths.append(comparison.write_comparison_json(runs, summary, os.path.join(output_dir, "comparison.json")))
    return [path for path in paths if path is not None]


def main(argv=None):
    args, passthrough = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    specs = run_specs(args.variants, args.seeds, args.protocols, args.bimodal)
    try:
        # Bad pass-through flags fail here, before any run starts.
        avtnet.build_config(avtnet.parse_args(run_flags(specs[0], args.output_dir, passthrough)))
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    runs = run_table(specs, args.output_dir, passthrough)
    paths = write_reports(runs, args.output_dir)
    print(paths[0].read_text())
    print("outputs: " + ", ".join(str(path) for path in paths))


if __name__ == "__main__":
    main(sys.argv[1:])
