"""python -m experiments.launch_local: its arguments, TF_CONFIG, the worker group (a failing worker stops the
others, a timeout stops all). Two workers training through PhaseRunner, one killed and the run resumed:
tests/test_distribute.py."""

import io
import json
import signal
import sys

import pytest

from avtfuse.runs.folder import RunFolder
from avtfuse.runs.plan import plan, stage_keys
from avtfuse.training.workers import worker_role
from experiments import launch_local
from experiments.launch_local import LocalWorkers, free_ports, tf_config

# Worker i prints its index, then worker 1 fails (status 3) and worker 0 would sleep for a minute.
ONE_FAILS = ("import json, os, sys, time; i = json.loads(os.environ['TF_CONFIG'])['task']['index']; print('hello', i); "
             "sys.exit(3) if i == 1 else time.sleep(60)")


@pytest.mark.parametrize("argv, words", [
    (["--workers", "0", "--"], "--workers: expected 1 or more, got 0"),
    (["--workers", "2", "--timeout", "0"], "--timeout: expected a positive number"),
    (["--workers", "2", "--experiment", "benchmark"], "--experiment: invalid choice"),
    (["--workers", "2", "--epochs-embed", "1"], "unrecognized arguments: --epochs-embed"),
    (["--workers", "2", "--", "--gpus", "x"], "--gpus: invalid int value"),
])
def test_bad_arguments_are_named(argv, words, capsys):
    with pytest.raises(SystemExit):
        launch_local.parse_args(argv)
    assert words in capsys.readouterr().err


def test_arguments_after_the_separator_go_to_the_experiment():
    args, rest = launch_local.parse_args(["--workers", "3", "--experiment", "sa_fusion", "--", "--gpus", "0"])
    assert (args.workers, args.experiment, rest) == (3, "sa_fusion", ["--gpus", "0"])


def test_each_worker_gets_its_place_in_one_cluster_of_free_ports():
    ports = free_ports(3)
    assert len(set(ports)) == 3
    addresses = [f"127.0.0.1:{port}" for port in ports]
    roles = [worker_role({"TF_CONFIG": tf_config(addresses, index)}) for index in range(3)]
    assert [(role.index, role.count) for role in roles] == [(0, 3), (1, 3), (2, 3)]
    assert json.loads(tf_config(addresses, 1))["cluster"]["worker"] == addresses


def test_a_failing_worker_stops_the_others():
    output = io.StringIO()
    workers = LocalWorkers([sys.executable, "-c", ONE_FAILS], 2, output=output)
    assert workers.wait() == 3
    assert workers.processes[0].returncode == -signal.SIGTERM
    lines = output.getvalue().splitlines()
    assert "worker 0: hello 0" in lines and "worker 1: hello 1" in lines
    assert "launch_local: worker 1 exited with status 3: stopping the other workers" in lines


def test_workers_past_the_timeout_are_stopped():
    workers = LocalWorkers([sys.executable, "-c", "import time; time.sleep(60)"], 2, output=io.StringIO())
    assert workers.wait(timeout=1) == launch_local.TIMED_OUT
    assert [process.returncode for process in workers.processes] == [-signal.SIGTERM] * 2


def test_two_workers_train_evaluate_and_export_a_tiny_avtnet_run(registry):
    """A smaller `launch_local --workers 2 -- --epochs-embed 1 --epochs-recognizer 1 --image-size 32`: exit 0,
    one set of results and one SavedModel, TensorBoard written by the chief alone. The run is the registry's
    avtnet-variant-prop-3 (tests/registry.py), which launch_local trains with two workers: as small as a two-phase
    run gets (two sensors, 12 recordings, 16 x 16 frames), on a cache prepared before the workers start; the
    registry raises when launch_local exits with another status than 0."""
    run = registry.run("avtnet-variant-prop-3")
    output = run.workers_log()
    assert all(f"worker {index}: outputs: {run.run_dir}" in output for index in (0, 1))  # each worker finished
    run_dir = run.run_dir
    results = run.results()
    assert RunFolder(str(run_dir)).is_done("report", stage_keys(plan(run.config()))["report"])  # the run finished
    assert results["conditions"]["complete"]["count"] > 0
    assert (run.saved_model / "saved_model.pb").exists()
    for phase in ("embeddings", "recognizer"):
        assert len(list((run_dir / "tensorboard" / phase).rglob("events.out.tfevents*"))) >= 1, phase
        writers = {path.name.split(".")[-3] for path in (run_dir / "tensorboard" / phase).rglob("events.out.tfevents*")}
        assert len(writers) == 1, writers  # one process id: the chief's
