"""python -m experiments.launch_local: its arguments, TF_CONFIG, the worker group (a failing worker stops the
others, a timeout stops all). Two workers training through PhaseRunner, one killed and the run resumed:
tests/test_distribute.py."""

import io
import json
import os
import signal
import sys
import time

import pytest

from avtfuse.runs.folder import RunFolder
from avtfuse.runs.plan import plan, stage_keys
from avtfuse.training.workers import worker_role
from avtfuse.training import network_namespace
from avtfuse.training.local_workers import NetworkExposureRefused
from experiments import launch_local
from experiments.launch_local import LocalWorkers, free_ports, tf_config

# Worker i prints its index, then worker 1 fails (status 3) and worker 0 would sleep for a minute.
ONE_FAILS = ("import json, os, sys, time; i = json.loads(os.environ['TF_CONFIG'])['task']['index']; print('hello', i); "
             "sys.exit(3) if i == 1 else time.sleep(60)")

# Worker i listens on its TF_CONFIG port on every interface (as TensorFlow's server does), connects to every
# worker's address, says "reached" and waits to be stopped.
LISTEN_AND_CONNECT = """
import json, os, socket, time
config = json.loads(os.environ["TF_CONFIG"])
workers = [(host, int(port)) for host, port in (address.split(":") for address in config["cluster"]["worker"])]
server = socket.create_server(("0.0.0.0", workers[config["task"]["index"]][1]))
for address in workers:
    while True:
        try:
            socket.create_connection(address).close()
            break
        except ConnectionRefusedError:
            time.sleep(0.05)
print("reached", flush=True)
time.sleep(60)
"""

def listening_ports(pid="self"):
    """The TCP ports listened on in the network namespace of process `pid` (its /proc/<pid>/net/tcp and tcp6)."""
    ports = set()
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}") as rows:
            for row in list(rows)[1:]:
                local, state = row.split()[1], row.split()[3]
                if state == "0A":  # TCP_LISTEN
                    ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


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


def test_workers_listen_in_one_private_network_namespace_and_not_in_this_one():
    output = io.StringIO()
    workers = LocalWorkers([sys.executable, "-c", LISTEN_AND_CONNECT], 2, output=output)
    try:
        deadline = time.monotonic() + 60
        while output.getvalue().count("reached") < 2:  # each worker listens and has reached the other
            assert None in [p.poll() for p in workers.processes] and time.monotonic() < deadline, output.getvalue()
            time.sleep(0.05)
        ports = {int(address.rsplit(":", 1)[1]) for address in workers.addresses}
        namespaces = {os.readlink(f"/proc/{pid}/ns/net") for pid in workers.pids}
        assert len(namespaces) == 1 and namespaces != {os.readlink("/proc/self/ns/net")}
        assert ports <= listening_ports(workers.pids[0])
        assert not ports & listening_ports()
    finally:
        workers.stop()
    assert workers.network.holder.returncode == 0


@pytest.mark.parametrize("unshare, reason", [
    ([sys.executable, "-c", "import sys; sys.exit('unshare: unshare failed: Operation not permitted')"],
     "unshare: unshare failed: Operation not permitted"),
    (["no-such-unshare", "--net", "--"], "no-such-unshare: No such file or directory"),
])
def test_without_a_namespace_the_workers_are_refused_unless_the_exposure_is_accepted(monkeypatch, capsys, unshare,
                                                                                      reason):
    monkeypatch.setattr(network_namespace, "unshare_command", lambda: unshare)
    with pytest.raises(NetworkExposureRefused, match="--allow-network-exposure") as refused:
        LocalWorkers([sys.executable, "-c", "print('started')"], 2, output=io.StringIO())
    message = str(refused.value)
    assert reason in message and "every interface" in message and "\n" not in message
    with pytest.raises(SystemExit) as exit:
        launch_local.main(["--workers", "2", "--", "--gpus", "0"])
    assert exit.value.code == message
    output = io.StringIO()
    workers = LocalWorkers([sys.executable, "-c", ONE_FAILS], 2, output=output, allow_network_exposure=True)
    assert workers.network is None and workers.wait() == 3
    assert f"launch_local: no private network namespace ({reason}): " in output.getvalue()
    assert launch_local.parse_args(["--workers", "2", "--allow-network-exposure"])[0].allow_network_exposure
