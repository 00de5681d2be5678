"""Run an experiment as W workers on this machine, each with its own TF_CONFIG on 127.0.0.1: multi-worker
training (MultiWorkerMirroredStrategy) tried out without a cluster.

    python -m experiments.launch_local --workers 2 -- --epochs-embed 1 --epochs-recognizer 1 --image-size 32 --gpus 0
    python -m experiments.launch_local --workers 2 --experiment sa_fusion -- --gpus 0

The arguments after -- go to `python -m experiments.<experiment>` (default avtnet) on every worker; worker 0 is
the chief and alone writes the run folder and the SavedModel. Each worker's output lines are printed prefixed
"worker <i>: ". When a worker fails or is killed the others are stopped and the launcher exits with its status;
the same command again resumes the run from the chief's last whole epoch.

The workers share one private network namespace with only loopback up (TensorFlow's servers listen,
unauthenticated, on every interface); where none can be made the launcher refuses, unless --allow-network-exposure.
"""

import argparse
import importlib
import signal
import sys

from avtfuse.models import SYSTEMS
from avtfuse.training.local_workers import TIMED_OUT, LocalWorkers, NetworkExposureRefused, free_ports, tf_config

__all__ = ["LocalWorkers", "TIMED_OUT", "free_ports", "main", "parse_args", "tf_config"]


def parse_args(argv=None):
    """(launcher arguments, experiment arguments): argv splits at the first --."""
    argv = sys.argv[1:] if argv is None else list(argv)
    own, experiment_argv = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(prog="python -m experiments.launch_local", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument("--workers", type=int, required=True, help="worker processes to start (1 or more)")
    parser.add_argument("--experiment", choices=tuple(SYSTEMS), default="avtnet",
                        help="the entry point python -m experiments.<experiment> each worker runs (default avtnet)")
    parser.add_argument("--timeout", type=float, help="stop every worker after this many seconds (exit status 124)")
    parser.add_argument("--allow-network-exposure", action="store_true",
                        help="where no private network namespace can be made (unshare), run the workers anyway: "
                             "their unauthenticated TensorFlow servers then listen on every interface")
    args = parser.parse_args(own)
    if args.workers < 1:
        parser.error(f"--workers: expected 1 or more, got {args.workers}")
    if args.timeout is not None and args.timeout <= 0:
        parser.error(f"--timeout: expected a positive number of seconds, got {args.timeout:g}")
    importlib.import_module(f"experiments.{args.experiment}").parse_args(experiment_argv)  # a bad flag: one error
    return args, experiment_argv


def main(argv=None):
    args, experiment_argv = parse_args(argv)
    try:
        workers = LocalWorkers([sys.executable, "-m", f"experiments.{args.experiment}", *experiment_argv],
                               args.workers, allow_network_exposure=args.allow_network_exposure)
    except NetworkExposureRefused as error:
        sys.exit(str(error))
    try:
        status = workers.wait(args.timeout)
    except KeyboardInterrupt:
        workers.stop()
        status = 128 + signal.SIGINT
    sys.exit(status if status >= 0 else 128 - status)


if __name__ == "__main__":
    main()
