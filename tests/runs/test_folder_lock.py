"""One run per run folder: a second run is refused at once naming the first (pid, host, start time); a sidecar
left by a killed run is ignored; the other workers of a cluster take no lock; a finished run is reused only on
the same data."""

import json
import os
import socket
import subprocess
import sys

import pytest

from avtfuse import locks
from avtfuse.runs import RunMismatch, build_experiment, driver, finished_results, run_experiment
from avtfuse.runs.folder import RunFolder, write_json
from avtfuse.runs.plan import plan, stage_keys
from avtfuse.training.workers import WorkerRole

ROOT = os.path.dirname(os.path.dirname(locks.__file__))  # the checkout under test, for the holding process
HOLD = """
import sys
from avtfuse import locks
with locks.exclusive(sys.argv[1], "run folder"):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_a_second_run_on_a_locked_run_folder_is_refused_naming_the_holder(tmp_path):
    config = build_experiment("avtnet", output_dir=str(tmp_path))
    holder = subprocess.Popen([sys.executable, "-c", HOLD, config.run_dir], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": ROOT})
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(locks.FolderInUse) as refused:
            run_experiment(config)
        message = str(refused.value)
        assert "\n" not in message and message.startswith(f"{config.run_dir}: the run folder is in use by ")
        assert f"pid {holder.pid} on {socket.gethostname()} since " in message
        assert not os.path.exists(config.run_dir)  # nothing written
    finally:
        holder.communicate("")
    assert holder.returncode == 0


def test_a_stale_sidecar_is_ignored_when_the_lock_is_free(tmp_path):
    run_dir = str(tmp_path / "run")
    sidecar = locks.lock_path(run_dir) + ".json"
    os.makedirs(os.path.dirname(sidecar))
    with open(sidecar, "w") as handle:  # left by a killed run
        json.dump({"pid": 999999999, "host": "gone", "started": "2020-01-01T00:00:00+00:00"}, handle)
    with RunFolder(run_dir).exclusive():
        assert locks.holder(run_dir).startswith(f"pid {os.getpid()} on {socket.gethostname()} since ")
        with pytest.raises(locks.FolderInUse, match=f"pid {os.getpid()} "):
            with RunFolder(run_dir).exclusive():
                pass
    assert not os.path.exists(sidecar)
    with RunFolder(run_dir).exclusive():  # free again
        pass


def test_the_other_workers_of_a_cluster_take_no_lock(tmp_path, monkeypatch):
    config = build_experiment("avtnet", output_dir=str(tmp_path))
    monkeypatch.setattr(driver, "_run_plan", lambda config, *args: "ran")
    with RunFolder(config.run_dir).exclusive():  # the chief's
        monkeypatch.setattr(driver, "worker_role", lambda: WorkerRole(index=1, count=2))
        assert run_experiment(config) == "ran"
        monkeypatch.setattr(driver, "worker_role", lambda: WorkerRole(index=0, count=2))
        with pytest.raises(locks.FolderInUse):
            run_experiment(config)


def finished_run(config, data_sha256):
    """A run folder whose every stage is done, trained on data of hash `data_sha256`."""
    folder = RunFolder(config.run_dir)
    folder.open({"config": config.identity(), "data_sha256": data_sha256}, config.to_dict())
    for name, key in stage_keys(plan(config)).items():
        folder.finish_stage(name, key, {})
    write_json(folder.path("results.json"), {"accuracy": 0.5})


def test_a_finished_run_is_reused_only_on_the_same_data(tmp_path, monkeypatch):
    config = build_experiment("avtnet", output_dir=str(tmp_path))
    finished_run(config, "a" * 64)
    monkeypatch.setattr(driver, "data_sha256", lambda data_config: "a" * 64)
    assert finished_results(config) == {"accuracy": 0.5}
    monkeypatch.setattr(driver, "data_sha256", lambda data_config: "b" * 64)
    with pytest.raises(RunMismatch, match=f"finished on other data \\(data_sha256 {'a' * 12} in its identity.json, "
                                          f"{'b' * 12} now\\)"):
        finished_results(config)
    with pytest.raises(RunMismatch, match="finished on other data"):  # a plain run does not return the old results
        run_experiment(config)
